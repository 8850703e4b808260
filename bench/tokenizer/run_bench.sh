#!/bin/sh
# Tokenizer encode speed, ours against tiktoken, on the same text, rank file and core (taskset -c 0),
# single-threaded. Prints one JSON object with both figures and the ratio.
# Usage: bench/tokenizer/run_bench.sh BUILD_DIR [PYTHON]   (e.g. build-tok .venv/bin/python)
set -eu
build=${1:?usage: run_bench.sh BUILD_DIR [PYTHON]}
python=${2:-${GLM4V_PYTHON:-.venv/bin/python}}
here=$(dirname "$0")
work="$build/bench/tokenizer/data"
"$python" "$here/bench_text.py" "$work" 4 >&2
ours=$(taskset -c 0 "$build/bench/tokenizer/bench_tokenizer" "$work/bench.tiktoken" "$work/bench.txt")
theirs=$(taskset -c 0 "$python" "$here/tiktoken_bench.py" "$work/bench.tiktoken" "$work/bench.txt")
"$python" - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert ours["tokens"] == theirs["tokens"], "the two tokenizers disagree on the token count"
print(json.dumps({"ours": ours, "tiktoken": theirs, "speedup": ours["mb_per_s"] / theirs["mb_per_s"]}, indent=1))
PY
