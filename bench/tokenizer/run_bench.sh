#!/bin/sh
# Tokenizer encode speed, ours against tiktoken, on the same text, rank file and core (taskset -c 0),
# single-threaded. The two alternate for ROUNDS rounds (each a median of 7 encodes), so load from other
# processes hits both alike; each side reports its best round's median. Prints one JSON object with both
# figures and the ratio.
# Usage: bench/tokenizer/run_bench.sh BUILD_DIR [PYTHON] [ROUNDS]   (e.g. build-tok .venv/bin/python 3)
set -eu
build=${1:?usage: run_bench.sh BUILD_DIR [PYTHON] [ROUNDS]}
python=${2:-${GLM4V_PYTHON:-.venv/bin/python}}
rounds=${3:-3}
here=$(dirname "$0")
work="$build/bench/tokenizer/data"
"$python" "$here/bench_text.py" "$work" 4 >&2
results=""
i=0
while [ "$i" -lt "$rounds" ]; do
    ours=$(taskset -c 0 "$build/bench/tokenizer/bench_tokenizer" "$work/bench.tiktoken" "$work/bench.txt")
    theirs=$(taskset -c 0 "$python" "$here/tiktoken_bench.py" "$work/bench.tiktoken" "$work/bench.txt")
    results="$results$ours
$theirs
"
    i=$((i + 1))
done
printf '%s' "$results" | "$python" -c '
import json, sys
rows = [json.loads(line) for line in sys.stdin if line.strip()]
ours = max((r for r in rows if r["name"] == "glm4v"), key=lambda r: r["mb_per_s"])
theirs = max((r for r in rows if r["name"] == "tiktoken"), key=lambda r: r["mb_per_s"])
assert ours["tokens"] == theirs["tokens"], "the two tokenizers disagree on the token count"
print(json.dumps({"ours": ours, "tiktoken": theirs, "rounds": len(rows) // 2,
                  "speedup": ours["mb_per_s"] / theirs["mb_per_s"]}, indent=1))
'
