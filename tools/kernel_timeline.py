#!/usr/bin/env python3
"""Where a decoded token's time goes, kernel by kernel, from the blocks' own clocks.

Reads the CSV that `bench_nf4 --timeline PATH` writes in a build with -DGLM4V_KERNEL_TIMELINE=ON (three tokens'
sequences replayed as one graph; engine/cuda/kernel_timeline.h) and prints, for each kernel of a layer, averaged over
the layers of the tokens after the first, measured from the moment the kernel before it ended (its last block):

  exposed      when this kernel's last block ended: the kernel's share of the token
  first start  when its first block started (negative: before the previous kernel ended)
  early        the share of its blocks that started before the previous kernel ended
  last start   when its last block started
  released     the median block's return from the wait on the previous kernel
  after wait   the median block's time from that return to its end

and for the GEMV, whose blocks also note when x' was in shared memory and when their last unit's partial sums were
stored (records made since session 25), that time after the wait in three parts, medians over its blocks:

  staging      from the wait's return to thread 0's part of x' in shared memory (the prologue: all of x' with
               RMSNorm; without, the first stage's part since session 27, the rest landing while it is computed)
  computing    from there to the last unit's partial sums stored (the stages' lookups and mmas, their barriers)
  reducing     from there to the end (the partial sums added, bias, residual or SwiGLU, y stored)

The exposed times of all kernels add up to the token's time. Writes the same as JSON with --json. With --by-start,
each kernel's blocks are also grouped by when they started (more than 8 us before the previous kernel's end, 8 to 1
us before, in its last microsecond, after it), with each group's median return from the wait and median end: whether
a block that started early got through its wait sooner. With --by-units, each GEMV's blocks are also grouped by the
16-row stripes they take, with each group's median and last end: what a partial last round of stripes costs.

    python3 tools/kernel_timeline.py timeline.csv[.gz] [--json summary.json] [--by-start] [--by-units]
"""
import argparse
import csv
import gzip
import json
import statistics
import sys
from collections import defaultdict

# SpanKind of engine/cuda/kernel_timeline.h by number (0 is the GEMV, named by its shape below).
KINDS = {1: "rotary + KV append", 2: "attention split", 3: "attention combine"}
GEMVS = {(4608, 4096): "qkv", (4096, 4096): "dense", (27392, 4096): "h_to_4h", (4096, 13696): "4h_to_h",
         (151552, 4096): "output layer"}


def name_of(kind, a, b):
    return GEMVS.get((a, b), f"gemv {a}x{b}") if kind == 0 else KINDS.get(kind, f"kind {kind}")


def launches_of(rows):
    """Each kernel's blocks, sorted by start, cut into launches of its grid's size; then all launches by start."""
    by_kernel = defaultdict(list)
    for r in rows:
        by_kernel[(r["kind"], r["a"], r["b"])].append(r)
    launches = []
    for key, blocks in by_kernel.items():
        blocks.sort(key=lambda r: r["start"])
        size = blocks[0]["blocks"]
        if len(blocks) % size:
            sys.exit(f"{name_of(*key)}: {len(blocks)} blocks are not whole launches of {size}")
        for i in range(0, len(blocks), size):
            launch = blocks[i:i + size]
            if len({r["block"] for r in launch}) != size:
                sys.exit(f"{name_of(*key)}: launches overlap in time; they cannot be told apart by start")
            launches.append((name_of(*key), launch))
    launches.sort(key=lambda l: min(r["start"] for r in l[1]))
    return launches


def steady_launches(launches, tokens):
    """(name, blocks, before) of each launch after the first token's, whose launches have no steady predecessor at
    their start; before is when the launch ahead of it ended (its last block)."""
    per_token = len(launches) // tokens
    for i in range(per_token, len(launches)):
        name, blocks = launches[i]
        yield name, blocks, max(r["end"] for r in launches[i - 1][1])


def summarize(launches, tokens):
    rows = defaultdict(lambda: defaultdict(list))
    order = []
    for name, blocks, before in steady_launches(launches, tokens):
        waited = sorted(r["waited"] for r in blocks if r["waited"])
        m = rows[name]
        if name not in order:
            order.append(name)
        m["exposed"].append(max(r["end"] for r in blocks) - before)
        m["first start"].append(min(r["start"] for r in blocks) - before)
        m["last start"].append(max(r["start"] for r in blocks) - before)
        m["early"].append(sum(r["start"] < before for r in blocks) / len(blocks))
        if waited:
            m["released"].append(statistics.median(waited) - before)
            m["after wait"].append(statistics.median(r["end"] - r["waited"] for r in blocks if r["waited"]))
        staged = [r for r in blocks if r.get("staged") and r.get("summed")]
        if staged:
            m["staging"].append(statistics.median(r["staged"] - r["waited"] for r in staged))
            m["computing"].append(statistics.median(r["summed"] - r["staged"] for r in staged))
            m["reducing"].append(statistics.median(r["end"] - r["summed"] for r in staged))
    summary = {}
    for name in order:
        m = rows[name]
        runs = len(m["exposed"])
        summary[name] = {"launches": runs, **{k: statistics.mean(v) / (1 if k == "early" else 1e3)
                                              for k, v in m.items()}}
        summary[name]["exposed_us_per_token"] = sum(m["exposed"]) / 1e3 / (tokens - 1)
    return summary


START_GROUPS = ((-8.0, "> 8 us before"), (-1.0, "8-1 us before"), (0.0, "last us before"), (float("inf"), "after"))


def by_start(launches, tokens):
    """Each kernel's blocks (tokens after the first) grouped by start, in us from the previous kernel's end: for each
    group its share of the kernel's blocks, and the median return from the wait (of the blocks that waited) and end."""
    groups = defaultdict(lambda: defaultdict(list))  # kernel -> label -> [(waited or None, end)]
    for name, blocks, before in steady_launches(launches, tokens):
        for r in blocks:
            label = next(label for bound, label in START_GROUPS if (r["start"] - before) / 1e3 < bound)
            waited = (r["waited"] - before) / 1e3 if r["waited"] else None
            groups[name][label].append((waited, (r["end"] - before) / 1e3))
    table = {}
    for name, by_label in groups.items():
        total = sum(len(g) for g in by_label.values())
        table[name] = {}
        for _, label in START_GROUPS:
            g = by_label.get(label)
            if g:
                waited = [w for w, _ in g if w is not None]
                table[name][label] = {"share": len(g) / total,
                                      "released": statistics.median(waited) if waited else None,
                                      "end": statistics.median(e for _, e in g)}
    return table


def by_units(launches, tokens):
    """Each GEMV's blocks (tokens after the first) grouped by how many 16-row stripes they take, as the launch plan
    deals an unsplit GEMV's stripes (decode's shapes do not split on an H100 or H200): block b of a grid of n blocks
    takes stripes b, b + n, .... For each group: its share of the kernel's blocks, its median block's end and its last
    block's end (the median over launches), in us from the previous kernel's end, and its median block's computing
    time (GEMV records since session 25; None before)."""
    groups = defaultdict(lambda: defaultdict(lambda: {"blocks": 0, "ends": [], "last": [], "computing": []}))
    for name, blocks, before in steady_launches(launches, tokens):
        if blocks[0]["kind"] != 0:
            continue
        stripes = -(-blocks[0]["a"] // 16)
        by_count = defaultdict(list)
        for r in blocks:
            by_count[-(-(stripes - r["block"]) // r["blocks"])].append(r)
        for units, g in by_count.items():
            e = groups[name][units]
            e["blocks"] += len(g)
            e["ends"] += [(r["end"] - before) / 1e3 for r in g]
            e["last"].append((max(r["end"] for r in g) - before) / 1e3)
            e["computing"] += [(r["summed"] - r["staged"]) / 1e3 for r in g if r.get("staged") and r.get("summed")]
    table = {}
    for name, by_count in groups.items():
        total = sum(e["blocks"] for e in by_count.values())
        table[name] = {
            units: {"share": e["blocks"] / total, "end": statistics.median(e["ends"]),
                    "last end": statistics.median(e["last"]),
                    "computing": statistics.median(e["computing"]) if e["computing"] else None}
            for units, e in sorted(by_count.items())}
    return table


def read_rows(path):
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        return [{k: int(v) for k, v in r.items()} for r in csv.DictReader(f)]


def print_groups(header, table, row):
    """The header, then row(kernel, group key, group) for each group of each kernel; a figure of None prints as nan."""
    print("\n" + header)
    for name, groups in table.items():
        for key, g in groups.items():
            print(row(name, key, {k: float("nan") if v is None else v for k, v in g.items()}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("csv")
    p.add_argument("--tokens", type=int, default=3, help="tokens the graph replayed (bench_nf4: 3)")
    p.add_argument("--json")
    p.add_argument("--by-start", action="store_true", help="also group each kernel's blocks by when they started")
    p.add_argument("--by-units", action="store_true", help="also group each GEMV's blocks by the stripes they take")
    args = p.parse_args()
    rows = read_rows(args.csv)
    if not rows:
        sys.exit(f"{args.csv}: no blocks recorded")
    stamps = sorted({r[k] for r in rows for k in ("start", "waited", "end") if r[k]})
    tick = min(b - a for a, b in zip(stamps, stamps[1:]))
    launches = launches_of(rows)
    summary = summarize(launches, args.tokens)
    total = sum(s["exposed_us_per_token"] for s in summary.values())
    print(f"{len(rows)} blocks in {len(launches)} launches; the timer's smallest step {tick} ns; "
          f"a token {total:.1f} us from its kernels' exposed times")
    print(f"{'kernel':<20} {'us/token':>9} {'exposed':>8} {'first st':>8} {'early':>6} {'last st':>8} "
          f"{'released':>8} {'after wt':>8}   (us from the previous kernel's end)")
    for name, s in summary.items():
        print(f"{name:<20} {s['exposed_us_per_token']:9.1f} {s['exposed']:8.2f} {s['first start']:8.2f} "
              f"{s['early']:6.0%} {s['last start']:8.2f} {s.get('released', float('nan')):8.2f} "
              f"{s.get('after wait', float('nan')):8.2f}")
    parts = {name: s for name, s in summary.items() if "staging" in s}
    if parts:
        print(f"\n{'GEMV after its wait':<20} {'staging':>8} {'computing':>9} {'reducing':>8}   (us, medians)")
        for name, s in parts.items():
            print(f"{name:<20} {s['staging']:8.2f} {s['computing']:9.2f} {s['reducing']:8.2f}")
    result = {"timer_step_ns": tick, "token_us": total, "kernels": summary}
    if args.by_start:
        result["by_start"] = by_start(launches, args.tokens)
        print_groups(f"{'kernel':<20} {'started':<16} {'blocks':>6} {'released':>8} {'end':>8}   (us, medians)",
                     result["by_start"], lambda name, label, g: f"{name:<20} {label:<16} {g['share']:6.0%} "
                                                                f"{g['released']:8.2f} {g['end']:8.2f}")
    if args.by_units:
        result["by_units"] = by_units(launches, args.tokens)
        print_groups(f"{'GEMV':<20} {'stripes':>7} {'blocks':>6} {'end':>8} {'last end':>8} {'computing':>9}   (us)",
                     result["by_units"], lambda name, units, g: f"{name:<20} {units:7d} {g['share']:6.0%} "
                                                                f"{g['end']:8.2f} {g['last end']:8.2f} "
                                                                f"{g['computing']:9.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
