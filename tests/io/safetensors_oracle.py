"""Oracle for tests/io: what the `safetensors` package itself reads, for the C++ reader to match.

    safetensors_oracle.py OUT_DIR SEED [MODEL_DIR ...]

Writes OUT_DIR/oracle.json with two parts:
  "golden": for each MODEL_DIR, every tensor its model.safetensors.index.json names, as the package reads
            it from the shard: dtype, shape, byte count, CRC-32 of the bytes, first and last element.
  "random": safetensors files the package writes into OUT_DIR from seeded random tensors of every dtype
            the C++ reader supports (0-d, zero-size, odd shapes included), and, read back by the package,
            each tensor's dtype, shape and bytes in hex. Files under "unsupported" hold one tensor of a
            dtype the package writes but the C++ reader does not, and which tensor that is.
Uses only the package's own serializer and deserializer, so it needs no torch.
"""

import json
import os
import sys
import zlib

import numpy as np
from safetensors import TensorSpec, deserialize, serialize

# The C++ reader's dtypes: the package's name for them (TensorSpec), the header's name, a numpy type
# of the same bytes (BF16 has none; it is made from the top half of float32).
SUPPORTED = [
    ("bool", "BOOL", np.bool_),
    ("uint8", "U8", np.uint8),
    ("int8", "I8", np.int8),
    ("int16", "I16", np.int16),
    ("int32", "I32", np.int32),
    ("int64", "I64", np.int64),
    ("float16", "F16", np.float16),
    ("bfloat16", "BF16", None),
    ("float32", "F32", np.float32),
    ("float64", "F64", np.float64),
]
# Written by the package, refused by the C++ reader (ErrorKind::Unsupported), with their element size.
UNSUPPORTED = [("uint16", 2), ("uint32", 4), ("uint64", 8), ("float8_e4m3fn", 1), ("float8_e5m2", 1), ("complex64", 8)]
SHAPES = [[], [0], [1], [7], [3, 5], [3, 0, 2], [2, 3, 5, 7], [1, 1, 1, 1, 13]]
NUMPY_OF = {header: np_type for _, header, np_type in SUPPORTED}


def random_bytes(rng, torch_name, np_type, shape):
    n = int(np.prod(shape)) if shape else 1
    if torch_name == "bool":
        return rng.integers(0, 2, n).astype(np.bool_).tobytes()
    if torch_name == "bfloat16":
        return (rng.standard_normal(n).astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    if np.issubdtype(np_type, np.floating):
        return (rng.standard_normal(n) * 10).astype(np.dtype(np_type).newbyteorder("<")).tobytes()
    info = np.iinfo(np_type)
    return rng.integers(info.min, info.max, n, dtype=np_type, endpoint=True).astype(
        np.dtype(np_type).newbyteorder("<")).tobytes()


def write(path, tensors, metadata=None):
    """tensors: {name: (torch_name, shape, bytes)}; written by the package's serializer."""
    buffers = {name: np.frombuffer(data, np.uint8).copy() for name, (_, _, data) in tensors.items()}
    specs = {
        name: TensorSpec(dtype=dtype, shape=shape, data_ptr=buffers[name].ctypes.data, data_len=len(data))
        for name, (dtype, shape, data) in tensors.items()
    }
    with open(path, "wb") as f:
        f.write(bytes(serialize(specs, metadata=metadata)))


def read_back(path):
    with open(path, "rb") as f:
        content = f.read()
    tensors = {
        name: {"dtype": t["dtype"], "shape": list(t["shape"]), "hex": bytes(t["data"]).hex()}
        for name, t in deserialize(content)
    }
    return tensors


def element(dtype, data, index):
    if dtype == "BF16":
        bits = np.frombuffer(data, "<u2")[index].astype(np.uint32) << 16
        value = float(np.array([bits], np.uint32).view(np.float32)[0])
    else:
        value = np.frombuffer(data, np.dtype(NUMPY_OF[dtype]).newbyteorder("<"))[index].item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    return value


def golden(model_dir):
    with open(os.path.join(model_dir, "model.safetensors.index.json")) as f:
        weight_map = json.load(f)["weight_map"]
    shards = {}
    for shard in sorted(set(weight_map.values())):
        with open(os.path.join(model_dir, shard), "rb") as f:
            shards[shard] = dict(deserialize(f.read()))
    out = {}
    for name, shard in weight_map.items():
        t = shards[shard][name]
        data = bytes(t["data"])
        entry = {"dtype": t["dtype"], "shape": list(t["shape"]), "nbytes": len(data), "crc32": zlib.crc32(data),
                 "shard": shard}
        if data:
            count = len(data) // np.dtype(NUMPY_OF.get(t["dtype"]) or np.uint16).itemsize
            entry["first"] = element(t["dtype"], data, 0)
            entry["last"] = element(t["dtype"], data, count - 1)
        out[name] = entry
    return out


def random_files(out_dir, seed):
    rng = np.random.default_rng(seed)
    files = {}

    def emit(file_name, tensors, metadata=None):
        path = os.path.join(out_dir, file_name)
        write(path, tensors, metadata)
        read = read_back(path)
        for name, (_, _, data) in tensors.items():
            assert bytes.fromhex(read[name]["hex"]) == data, (file_name, name)
        files[file_name] = {"tensors": read, "metadata": metadata or {}}

    every = {}
    for torch_name, header, np_type in SUPPORTED:
        for shape in SHAPES:
            name = f"{header.lower()}.{'x'.join(map(str, shape)) or 'scalar'}"
            every[name] = (torch_name, shape, random_bytes(rng, torch_name, np_type, shape))
    emit("every_dtype.safetensors", every, {"format": "pt", "note": "written by safetensors_oracle.py, ü"})
    emit("scalar.safetensors", {"only": ("float32", [], random_bytes(rng, "float32", np.float32, []))})
    emit("zero_size.safetensors", {
        "a": ("bfloat16", [0], b""),
        "b": ("int64", [4, 0], b""),
        "c": ("uint8", [0, 0, 0], b""),
    })
    emit("no_tensors.safetensors", {})
    # One-byte tensors between wide ones: offsets in the data that are not multiples of the element size.
    emit("odd_offsets.safetensors", {
        "a.bytes": ("uint8", [3], random_bytes(rng, "uint8", np.uint8, [3])),
        "b.weight": ("bfloat16", [257, 129], random_bytes(rng, "bfloat16", None, [257, 129])),
        "c.flag": ("bool", [1], random_bytes(rng, "bool", np.bool_, [1])),
        "d.ids": ("int64", [5], random_bytes(rng, "int64", np.int64, [5])),
    })

    unsupported = {}
    for torch_name, size in UNSUPPORTED:
        file_name = f"unsupported_{torch_name}.safetensors"
        write(os.path.join(out_dir, file_name), {
            "fine": ("float32", [2], random_bytes(rng, "float32", np.float32, [2])),
            f"odd.{torch_name}": (torch_name, [4], rng.integers(0, 256, 4 * size, dtype=np.uint8).tobytes()),
        })
        read = read_back(os.path.join(out_dir, file_name))
        unsupported[file_name] = {"tensor": f"odd.{torch_name}", "dtype": read[f"odd.{torch_name}"]["dtype"]}
    return {"files": files, "unsupported": unsupported}


def main():
    out_dir, seed, model_dirs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    result = {"golden": {d: golden(d) for d in model_dirs}, "random": random_files(out_dir, seed)}
    with open(os.path.join(out_dir, "oracle.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
