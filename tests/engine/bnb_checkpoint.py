"""bitsandbytes as the oracle for 4-bit checkpoints (tests/engine/test_nf4_model.cpp).

  bnb_checkpoint.py save MODEL_DIR OUT_DIR
      OUT_DIR becomes MODEL_DIR as transformers + bitsandbytes save a 4-bit model: every linear layer's weight
      quantized by bitsandbytes to NF4 (blocksize 64; every other one with compress_statistics, the
      double-quantized absmax), stored as `<name>` (the packed bytes) plus its QuantState packed beside it
      (`<name>.absmax`, `.quant_map`, `.quant_state.bitsandbytes__nf4`, ...); every other tensor and file as it was.
  bnb_checkpoint.py read CACHE_FILE MODEL_DIR
      bitsandbytes reads every NF4 weight of CACHE_FILE (QuantState.from_dict, dequantize_4bit) and compares it
      with its own quantization of the same weight in MODEL_DIR; prints JSON {"weights": n, "identical": k}.
Everything runs on bitsandbytes' CPU path.
"""
import json
import os
import shutil
import sys

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")  # eager: the same arithmetic, no Inductor compile in CI

import torch
import bitsandbytes.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

LINEAR_SUFFIXES = ("query_key_value.weight", "attention.dense.weight", "dense_h_to_4h.weight", "dense_4h_to_h.weight",
                   "fc1.weight", "fc2.weight", "output_layer.weight", "linear_proj.linear_proj.weight",
                   "gate_proj.weight")
STATE_SUFFIX = ".quant_state.bitsandbytes__nf4"


def read_model(model_dir):
    index = json.load(open(os.path.join(model_dir, "model.safetensors.index.json")))
    tensors = {}
    for shard in sorted(set(index["weight_map"].values())):
        with safe_open(os.path.join(model_dir, shard), "pt") as f:
            for name in f.keys():
                tensors[name] = f.get_tensor(name)
    return tensors


def save(model_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name in os.listdir(model_dir):
        if not name.endswith(".safetensors") and name != "model.safetensors.index.json":
            shutil.copy(os.path.join(model_dir, name), out_dir)
    state = {}
    linear = 0
    for name, t in sorted(read_model(model_dir).items()):
        if not name.endswith(LINEAR_SUFFIXES):
            state[name] = t.contiguous()
            continue
        packed, qs = F.quantize_4bit(t, blocksize=64, compress_statistics=linear % 2 == 1, quant_type="nf4")
        linear += 1
        state[name] = packed
        for key, value in qs.as_dict(packed=True).items():
            state[name + "." + key] = value.contiguous()
    save_file(state, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    print(json.dumps({"linear_weights": linear}))


def read(cache_file, model_dir):
    source = read_model(model_dir)
    with safe_open(cache_file, "pt") as f:
        cache = {name: f.get_tensor(name) for name in f.keys()}
    weights = identical = 0
    for key in cache:
        if not key.endswith(STATE_SUFFIX):
            continue
        name = key[: -len(STATE_SUFFIX)]
        parts = {k[len(name) + 1:]: v for k, v in cache.items() if k.startswith(name + ".")}
        qs = F.QuantState.from_dict(parts, device=torch.device("cpu"))
        theirs = F.dequantize_4bit(cache[name], qs)
        packed, own = F.quantize_4bit(source[name], blocksize=64, quant_type="nf4")
        weights += 1
        identical += int(torch.equal(theirs, F.dequantize_4bit(packed, own)))
    print(json.dumps({"weights": weights, "identical": identical}))


if __name__ == "__main__":
    if sys.argv[1] == "save":
        save(sys.argv[2], sys.argv[3])
    else:
        read(sys.argv[2], sys.argv[3])
