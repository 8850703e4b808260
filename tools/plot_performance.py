#!/usr/bin/env python3
"""Plots of the GPU benchmarks for docs/ (issue #6), from the JSON that tools/gpu_check.sh writes to $OUT.

    python3 tools/plot_performance.py PATH... [--docs DIR]

Each PATH is a benchmark's JSON file, or a folder whose *.json files are read. Writes
  DIR/decode_vs_context.png   decode tokens/s against the rows in the KV cache, from bench_model's "decode_vs_context"
  DIR/decode_layer_kinds.png  microseconds per decoded token by layer kind, from bench_nf4's "decode_layer_kinds"
  DIR/gemv_against_read.png   each language shape's GEMV beside a copy and a read of the same bytes, as % of copy
                              bandwidth, from bench_nf4's "kernels" (the last file whose kernels include the reads)
(DIR defaults to the repository's docs/). Every file holding a field is one series, labelled by its name, so runs
before and after a change can be set side by side. A plot whose field no file holds is skipped with a message; the
exit status is 1 only when no plot was made.

Needs matplotlib, which is not a dependency of the app or its tests: `.venv/bin/pip install matplotlib`.
"""
import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)


def read_json_files(paths):
    files = []
    for path in paths:
        files += sorted(path.glob("*.json")) if path.is_dir() else [path]
    found = []
    for f in files:
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError) as e:
            print(f"{f}: skipped ({e})", file=sys.stderr)
            continue
        if isinstance(data, dict):
            found.append((f, data))
    return found


def series(found, holds):
    """(label, data) of every file whose data holds(); labels are file names, with their folder where names repeat."""
    holding = [(f, d) for f, d in found if holds(d)]
    stems = [f.stem for f, _ in holding]
    return [(f.stem if stems.count(f.stem) == 1 else f"{f.parent.name}/{f.stem}", d) for f, d in holding]


def device_of(runs):
    devices = sorted({d.get("device", "unknown device") for _, d in runs})
    return ", ".join(devices)


def plot_context(runs, out: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    top = 0
    for i, (label, data) in enumerate(runs):
        points = sorted(data["decode_vs_context"], key=lambda p: p["context"])
        x = [p["context"] for p in points]
        y = [p["tokens_per_s"] for p in points]
        # The spread over the repetitions, where the benchmark reports it.
        spread = [[p["tokens_per_s"] - p.get("tokens_per_s_min", p["tokens_per_s"]) for p in points],
                  [p.get("tokens_per_s_max", p["tokens_per_s"]) - p["tokens_per_s"] for p in points]]
        line = ax.errorbar(x, y, yerr=spread, marker="o", capsize=3, label=label)
        # Each run's numbers one line further down, in its colour, so close runs stay readable.
        for xi, yi in zip(x, y):
            ax.annotate(f"{yi:.0f}", (xi, yi), textcoords="offset points", xytext=(0, -14 - 10 * i), ha="center",
                        fontsize=8, color=line[0].get_color())
        top = max(top, max(y))
    ax.set_xlabel("rows in the KV cache when decoding starts")
    ax.set_ylabel("decode tokens/s (greedy)")
    ax.set_ylim(0, top * 1.2)
    ax.set_title(f"GLM-4V-9B NF4 decode against context\n{device_of(runs)}", fontsize=10)
    ax.grid(alpha=0.3)
    if len(runs) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def layer_part(kind: str) -> str:
    """The part of the layer a kind is ("h_to_4h" of "h_to_4h: RMSNorm + GEMV + SwiGLU"): runs whose kinds fuse other
    ops into a part, as the SwiGLU moved from the down projection to the up projection's epilogue, share its row."""
    return kind.split(":")[0]


def plot_kinds(runs, out: Path) -> None:
    names, ticks = [], {}
    for _, data in runs:
        for k in data["decode_layer_kinds"]:
            names += [layer_part(k["kind"])] if layer_part(k["kind"]) not in names else []
            ticks[layer_part(k["kind"])] = k["kind"]  # the last run's name of the part labels its row
    height = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(7.2, 1.2 + 0.45 * len(names) * max(1, len(runs) * 0.6)), dpi=120)
    top = total = 0
    for i, (label, data) in enumerate(runs):
        us_by_kind = {layer_part(k["kind"]): k["us_per_token"] for k in data["decode_layer_kinds"]}
        # Top to bottom in the benchmark's order: the order of a decode step.
        rows = [len(names) - 1 - j + (len(runs) - 1 - 2 * i) * height / 2 for j in range(len(names))]
        us = [us_by_kind.get(n, 0) for n in names]
        bars = ax.barh(rows, us, height=height, label=f"{label}: {sum(us) / 1e3:.2f} ms")
        ax.bar_label(bars, labels=[f"{u:.0f} us" if n in us_by_kind else "" for n, u in zip(names, us)],
                     fontsize=7, padding=3)
        top = max(top, max(us))
        total = sum(us)
    ax.set_yticks(range(len(names)), [ticks[n] for n in names[::-1]], fontsize=8)
    ax.set_xlabel("microseconds per decoded token (all layers)")
    ax.set_xlim(0, top * 1.25)
    # Several runs: each one's total is in the legend.
    headline = f": {total / 1e3:.2f} ms" if len(runs) == 1 else ""
    ax.set_title(f"One decoded token by layer kind{headline}\n{device_of(runs)}, each kind timed alone", fontsize=10)
    if len(runs) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


CEILING_KERNELS = [  # bench_nf4's kernel names, in the bars' order
    ("nf4_gemv_bf16", "NF4 GEMV, rows 1"),
    ("copy_same_bytes", "cudaMemcpy of the same bytes"),
    ("read_same_bytes", "a read of them, launched after the previous kernel"),
    ("read_same_bytes_overlapped", "a read of them, overlapping the previous kernel"),
]


def reads_measured(data) -> bool:
    return any(k.get("kernel") == "read_same_bytes" for k in data.get("kernels", []))


def plot_ceilings(runs, out: Path) -> None:
    label, data = runs[-1]
    shapes = [k["shape"] for k in data["kernels"]
              if k["kernel"] == "nf4_gemv_bf16" and k["rows"] == 1 and not k["shape"].startswith(("vision", "projector", "fixed"))]
    share = {(k["shape"], k["kernel"]): 100 * k["of_copy"] for k in data["kernels"] if k["rows"] in (0, 1)}
    fig, ax = plt.subplots(figsize=(7.2, 3.8), dpi=120)
    width = 0.8 / len(CEILING_KERNELS)
    for i, (kernel, name) in enumerate(CEILING_KERNELS):
        x = [j + (i - (len(CEILING_KERNELS) - 1) / 2) * width for j in range(len(shapes))]
        bars = ax.bar(x, [share.get((s, kernel), 0) for s in shapes], width=width, label=name)
        ax.bar_label(bars, labels=[f"{share.get((s, kernel), 0):.0f}" for s in shapes], fontsize=6, padding=2)
    ax.axhline(75, color="black", linewidth=0.8, linestyle="--")
    ax.annotate("issue #6: 75%", (-0.45, 75), textcoords="offset points", xytext=(0, 3), ha="left", fontsize=7)
    ax.set_xticks(range(len(shapes)), [s.replace("language ", "") for s in shapes], fontsize=8)
    ax.set_ylabel(f"% of the {data['copy_d2d']['gb_per_s']:.0f} GB/s copy")
    ax.set_title(f"What the GEMV's bytes allow, each in a CUDA graph of 50\n{label}, {data.get('device', '')}",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    ax.set_ylim(0, 155)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="benchmark JSON files, or folders of them")
    parser.add_argument("--docs", type=Path, default=Path(__file__).resolve().parent.parent / "docs",
                        help="where the PNGs go (default: the repository's docs/)")
    args = parser.parse_args()
    found = read_json_files(args.paths)
    made = 0
    for field, holds, out, plot, source in [
        ("decode_vs_context", lambda d: d.get("decode_vs_context"), "decode_vs_context.png", plot_context,
         "bench_model (its context part)"),
        ("decode_layer_kinds", lambda d: d.get("decode_layer_kinds"), "decode_layer_kinds.png", plot_kinds,
         "bench_nf4"),
        ("read_same_bytes", reads_measured, "gemv_against_read.png", plot_ceilings, "bench_nf4"),
    ]:
        runs = series(found, holds)
        if not runs:
            print(f"no file holds \"{field}\" (run {source} with a build that reports it); "
                  f"{out} not written", file=sys.stderr)
            continue
        args.docs.mkdir(parents=True, exist_ok=True)
        plot(runs, args.docs / out)
        made += 1
        print(f"wrote {args.docs / out} from {', '.join(label for label, _ in runs)}")
    return 0 if made else 1


if __name__ == "__main__":
    sys.exit(main())
