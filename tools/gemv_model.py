#!/usr/bin/env python3
"""The NF4 GEMV's time on decode's shapes against a two-term model, from a bench_nf4 JSON (docs/performance.md).

The GEMV deals 16-row stripes to a persistent grid of two blocks an SM, and none of decode's shapes splits k, so
the busiest SM holds ceil(stripes / SMs) stripes. The model: a fixed cost F (the JSON's "fixed cost, k 64" GEMV:
one 64-wide step a stripe, everything a GEMV pays beside its bytes) plus the busiest SM's bytes at its share of
the measured copy bandwidth. It also prints the fixed cost a shape could afford and still reach 75% of copy.

    python3 tools/gemv_model.py docs/results/h100-session22/bench_nf4_call1.json
"""
import json
import math
import sys

DECODE_SHAPES = ("language qkv", "language dense", "language h_to_4h", "language 4h_to_h", "output layer")
FIXED_COST = "fixed cost, k 64"
# The model's direct test, in bench_nf4 since session 21: qkv's k with every SM holding dense's share.
TEST_SHAPE = "qkv k, a stripe a block"


def stripe_bytes(k):
    # 16 rows of NF4 (half a byte a weight) and their fp32 absmax, one per 64 weights.
    return 16 * k // 2 + 16 * (k // 64) * 4


def main(path):
    bench = json.load(open(path))
    sms = bench["sms"]
    per_sm = bench["copy_d2d"]["gb_per_s"] / sms  # GB/s, which is KB/us
    gemvs = {(k["shape"], k["rows"]): k for k in bench["kernels"] if k["kernel"] == "nf4_gemv_bf16"}
    has_test = (TEST_SHAPE, 1) in gemvs
    missing = [n for n in (FIXED_COST,) + DECODE_SHAPES if (n, 1) not in gemvs]
    if missing:
        sys.exit(f"{path}: no rows-1 nf4_gemv_bf16 figure for {', '.join(missing)} (a whole bench_nf4 run is needed, "
                 f"not one --shape)")
    fixed_us = gemvs[(FIXED_COST, 1)]["ms"] * 1e3
    print(f"{bench['device']}: copy {bench['copy_d2d']['gb_per_s']:.0f} GB/s, {per_sm:.2f} KB/us an SM; "
          f"fixed cost F {fixed_us:.2f} us")
    print(f"{'shape':23} {'stripes/SM':>10} {'busiest SM':>10} {'F + busiest':>11} {'measured':>8} {'floor':>6} "
          f"{'F for 75%':>9} {'model: 75% at F 0':>17}")
    for name in DECODE_SHAPES + ((TEST_SHAPE,) if has_test else ()):
        g = gemvs[(name, 1)]
        stripes = math.ceil(g["out"] / 16)
        most = math.ceil(stripes / sms)
        busiest_us = most * stripe_bytes(g["in"]) / 1e3 / per_sm
        floor_us = g["floor_ms"] * 1e3
        print(f"{name:23} {stripes / sms:5.2f} / {most:<2} {busiest_us:8.2f}us {fixed_us + busiest_us:9.2f}us "
              f"{g['ms'] * 1e3:6.2f}us {floor_us:6.2f} {floor_us / 0.75 - busiest_us:8.2f}us "
              f"{'yes' if busiest_us <= floor_us / 0.75 else 'no':>17}")
    if has_test:
        print_qkv_tail(gemvs, fixed_us, per_sm)


def print_qkv_tail(gemvs, fixed_us, per_sm):
    # The test row is qkv without the 24 stripes that make some SMs hold three, so the difference is what those
    # stripes cost; the model charges them a third stripe's bytes at an SM's share of copy.
    qkv, test = gemvs[("language qkv", 1)], gemvs[(TEST_SHAPE, 1)]
    tail_us = (qkv["ms"] - test["ms"]) * 1e3
    model_us = stripe_bytes(qkv["in"]) / 1e3 / per_sm
    allowed_us = qkv["floor_ms"] * 1e3 / 0.75 - (qkv["ms"] * 1e3 - fixed_us)
    print(f"qkv's third stripes (qkv - {TEST_SHAPE}): measured {tail_us:.2f} us, the model's {model_us:.2f} us; "
          f"at its measured time qkv reaches 75% with F at most {allowed_us:.2f} us")


if __name__ == "__main__":
    main(sys.argv[1])
