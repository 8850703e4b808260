#!/usr/bin/env python3
"""Plots of the GPU benchmarks for docs/ (issue #6), from the JSON that tools/gpu_check.sh writes to $OUT.

    python3 tools/plot_performance.py OUT_DIR [DOCS_DIR]

Reads OUT_DIR/bench_model_context-sweep.json ("decode_vs_context") and OUT_DIR/bench_nf4.json
("decode_layer_kinds"); writes DOCS_DIR/decode_vs_context.png and DOCS_DIR/decode_layer_kinds.png (DOCS_DIR
defaults to docs/). Needs matplotlib (`.venv/bin/pip install matplotlib`; not a dependency of the app or tests).
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt


def load(path: Path, field: str):
    if not path.exists():
        sys.exit(f"{path}: not found (run tools/gpu_check.sh bench-kernels bench-model first)")
    data = json.loads(path.read_text())
    if field not in data:
        sys.exit(f"{path}: no \"{field}\" field (an older benchmark binary?)")
    return data


def plot_context(model: dict, out: Path) -> None:
    points = model["decode_vs_context"]
    x = [p["context"] for p in points]
    y = [p["tokens_per_s"] for p in points]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    ax.plot(x, y, marker="o")
    for xi, yi in zip(x, y):
        ax.annotate(f"{yi:.0f}", (xi, yi), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.set_xlabel("rows in the KV cache")
    ax.set_ylabel("decode tokens/s")
    ax.set_ylim(0, max(y) * 1.2)
    ax.set_title(f"GLM-4V-9B NF4 decode on {model['device']}", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)


def plot_kinds(kernels: dict, out: Path) -> None:
    kinds = kernels["decode_layer_kinds"]
    names = [k["kind"] for k in kinds]
    us = [k["us_per_token"] for k in kinds]
    fig, ax = plt.subplots(figsize=(7.2, 3.6), dpi=120)
    bars = ax.barh(names[::-1], us[::-1])
    ax.bar_label(bars, labels=[f"{u:.0f} us" for u in us[::-1]], fontsize=8, padding=3)
    ax.set_xlabel("microseconds per decoded token (all 40 layers)")
    ax.set_title(f"One decoded token by layer kind: {sum(us) / 1e3:.2f} ms\n{kernels['device']}, each op timed alone", fontsize=10)
    ax.set_xlim(0, max(us) * 1.25)
    fig.tight_layout()
    fig.savefig(out)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src = Path(sys.argv[1])
    docs = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("docs")
    plot_context(load(src / "bench_model_context-sweep.json", "decode_vs_context"), docs / "decode_vs_context.png")
    plot_kinds(load(src / "bench_nf4.json", "decode_layer_kinds"), docs / "decode_layer_kinds.png")
    print(f"wrote {docs / 'decode_vs_context.png'} and {docs / 'decode_layer_kinds.png'}")


if __name__ == "__main__":
    main()
