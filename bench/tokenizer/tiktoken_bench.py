#!/usr/bin/env python3
"""tiktoken's single-threaded encode speed on the benchmark text, as JSON (MB/s, median of runs).

Usage: tiktoken_bench.py RANKS TEXT [RUNS]
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "tokenizer"))
import tiktoken  # noqa: E402
import tiktoken_oracle  # noqa: E402


def main():
    ranks_path, text_path = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    enc = tiktoken.Encoding(name="bench", pat_str=tiktoken_oracle.PATTERN,
                            mergeable_ranks=tiktoken_oracle.read_ranks(ranks_path), special_tokens={})
    with open(text_path, encoding="utf-8") as f:
        text = f.read()
    size = len(text.encode("utf-8"))
    ids = enc.encode_ordinary(text)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        enc.encode_ordinary(text)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(json.dumps({"name": "tiktoken", "version": tiktoken.__version__, "bytes": size, "tokens": len(ids),
                      "runs": runs, "median_s": median, "mb_per_s": size / median / 1e6}))


if __name__ == "__main__":
    main()
