#!/usr/bin/env python3
"""Writes the tokenizer benchmark's inputs: a mixed Chinese/English text and a rank file trained on
text of the same kind (seeded, so every machine benchmarks the same bytes).

Usage: bench_text.py OUT_DIR [TEXT_MB]
"""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "tokenizer"))
import tiktoken_oracle  # noqa: E402  (its corpus generator and BPE trainer)


def main():
    out_dir = sys.argv[1]
    megabytes = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
    os.makedirs(out_dir, exist_ok=True)
    ranks_path = os.path.join(out_dir, "bench.tiktoken")
    if not os.path.exists(ranks_path):
        ranks = tiktoken_oracle.train_bpe(tiktoken_oracle.corpus(random.Random(101), 300_000), 8000)
        tiktoken_oracle.write_ranks(ranks_path, ranks)
    rng = random.Random(303)
    parts = []
    size = 0
    while size < megabytes * 1e6:
        s = tiktoken_oracle.corpus(rng, 2000)
        parts.append(s)
        size += len(s.encode("utf-8"))
    text = "".join(parts)
    with open(os.path.join(out_dir, "bench.txt"), "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
