"""bitsandbytes as the NF4 oracle for tests/quant/test_nf4.cpp.

usage: nf4_oracle.py DIR
DIR/manifest.txt lists one case a line: NAME ROWS COLS BLOCKSIZE DOUBLE_QUANT(0|1) DTYPE(float32|bfloat16|float16).
For each case it reads NAME.w (the weight, raw, in DTYPE) and our quantization (NAME.ours.packed, .absmax,
.nested, .offset), and writes bitsandbytes' own quantization of the weight (NAME.bnb.*, same files) plus
bitsandbytes' dequantization of both (NAME.bnb_of_bnb.DT and NAME.bnb_of_ours.DT for DT in f32 bf16 f16).
It also writes bitsandbytes' code books: nf4_code.bin, dynamic_code.bin (fp32).
Everything runs on bitsandbytes' CPU path.
"""
import os
import sys

# bitsandbytes wraps its pure-torch fallbacks (odd shapes) in torch.compile; eager runs the same fp32 arithmetic
# and spares CI an Inductor compile per shape.
os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")

import numpy as np
import torch
import bitsandbytes
import bitsandbytes.functional as F

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
OUT_DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}


def raw(t):
    t = t.contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def read(path, dtype, count):
    data = np.fromfile(path, dtype=np.uint8)
    t = torch.from_numpy(data.copy())
    if dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).view(dtype)[:count]
    return t.view(dtype)[:count]


def state_of(packed, absmax, nested, offset, rows, cols, blocksize, dtype):
    code = F.get_4bit_type("nf4", device="cpu")
    if nested is None:
        return F.QuantState(absmax=absmax, shape=torch.Size([rows, cols]), dtype=dtype, blocksize=blocksize,
                            code=code, quant_type="nf4")
    state2 = F.QuantState(absmax=nested, code=F.create_dynamic_map(), blocksize=256, dtype=torch.float32)
    return F.QuantState(absmax=absmax, shape=torch.Size([rows, cols]), dtype=dtype, blocksize=blocksize, code=code,
                        quant_type="nf4", offset=torch.tensor(offset, dtype=torch.float32), state2=state2)


def write_dequant(prefix, packed, absmax, nested, offset, rows, cols, blocksize):
    for name, dt in OUT_DTYPES.items():
        st = state_of(packed, absmax, nested, offset, rows, cols, blocksize, dt)
        out = F.dequantize_4bit(packed.view(-1, 1), st)
        assert out.dtype == dt and tuple(out.shape) == (rows, cols)
        with open(f"{prefix}.{name}", "wb") as f:
            f.write(raw(out))


def main(folder):
    with open(os.path.join(folder, "nf4_code.bin"), "wb") as f:
        f.write(raw(F.get_4bit_type("nf4", device="cpu").float()))
    with open(os.path.join(folder, "dynamic_code.bin"), "wb") as f:
        f.write(raw(F.create_dynamic_map().float()))
    with open(os.path.join(folder, "manifest.txt")) as f:
        cases = [line.split() for line in f if line.strip()]
    for name, rows, cols, blocksize, dq, dtype in cases:
        rows, cols, blocksize, dq = int(rows), int(cols), int(blocksize), dq == "1"
        n = rows * cols
        blocks = -(-n // blocksize)
        base = os.path.join(folder, name)
        w = read(base + ".w", DTYPES[dtype], n).reshape(rows, cols)

        packed, st = F.quantize_4bit(w, blocksize=blocksize, compress_statistics=dq, quant_type="nf4")
        with open(base + ".bnb.packed", "wb") as f:
            f.write(raw(packed))
        with open(base + ".bnb.absmax", "wb") as f:
            f.write(raw(st.absmax))
        nested, offset = None, 0.0
        if dq:
            nested, offset = st.state2.absmax, float(st.offset)
            with open(base + ".bnb.nested", "wb") as f:
                f.write(raw(nested))
            with open(base + ".bnb.offset", "wb") as f:
                f.write(raw(st.offset.reshape(1).float()))
        write_dequant(base + ".bnb_of_bnb", packed, st.absmax, nested, offset, rows, cols, blocksize)

        ours_packed = read(base + ".ours.packed", torch.uint8, (n + 1) // 2)
        ours_absmax = read(base + ".ours.absmax", torch.uint8 if dq else torch.float32, blocks)
        ours_nested, ours_offset = None, 0.0
        if dq:
            ours_nested = read(base + ".ours.nested", torch.float32, -(-blocks // 256))
            ours_offset = float(read(base + ".ours.offset", torch.float32, 1)[0])
        write_dequant(base + ".bnb_of_ours", ours_packed, ours_absmax, ours_nested, ours_offset, rows, cols, blocksize)
    print(f"bitsandbytes {bitsandbytes.__version__}, torch {torch.__version__}: {len(cases)} cases")


if __name__ == "__main__":
    main(sys.argv[1])
