#!/usr/bin/env bash
# All of the GPU work, on the GPU machine (DESIGN.md section 8; the device tool's METHOD.md): build the engine,
# run the kernel tests, compute-sanitizer memcheck, the golden checks on CUDA, and the benchmarks. Logs and JSON
# go to $OUT. Stages run in the order given (default: all); a 10-minute device call fits about half of them.
#
#   run(command="bash tools/gpu_check.sh build test golden bench-model", carry=[".device"])
#   run(command="bash tools/gpu_check.sh build memcheck bench-kernels", carry=[".device"])
#   run(command="bash tools/gpu_check.sh build bench-context bench-startup", carry=[".device"])
#
# Benchmark stages and what they write to $OUT (each program prints one JSON object, figures measured so far
# included when a part fails or its --time-limit is reached; every run is also bounded by `timeout`):
#   bench-kernels         bench_nf4.json: kernels against the copy ceiling, decode_layer_kinds          (~1 min)
#   bench-model           bench_model.json: first token, decode, follow-up, reopen, peak_4096,
#                         decode_vs_context; then bench_model_low-vram.json: chat and peak_4096 with
#                         --low-vram                                                                   (~4 min)
#   bench-model-default   bench_model.json only                                                        (~2.5 min)
#   bench-context         bench_model_context.json: decode_vs_context alone, after a kernel change      (~1 min)
#   bench-startup         bench_startup.json: start-up from the quantized cache, warm and cold          (~1.5 min)
#   bench-splits          bench_splits.json: GEMVs with k forced into n parts (SPLIT_SHAPES, SPLITS)       (~20 s)
#   bench-base            bench_nf4_NAME.json: bench-kernels of another commit's tree, .device/NAME for each NAME
#                         in BASES (default "base"; made by tools/device_base.sh COMMIT NAME), built and timed in
#                         this call: a kernel change against its baseline on the same lent card, whose speed
#                         varies from loan to loan                                                  (~1.5 min each)
#   bench-ab              ab_runs.json: this tree's bench_nf4 and those of BASES (built by bench-base), AB_RUNS
#                         (default 3) times each, in turn                                          (~4 s a run)
#   bench-chat-ab         chat_ab.json: this tree's bench_model chat part (decode greedy, steady and sampled; first
#                         token, follow-up, reopen) and those of BASES, built here, AB_RUNS times each, in turn: a
#                         change to the decode loop or the sampler against its baseline   (~1.5 min a base, 20 s a run)
#   bench-timeline        timeline.json and timeline.csv.gz: when each block of three tokens' kernels ran, from a
#                         build with -DGLM4V_KERNEL_TIMELINE=ON (build-device-timeline), summarized per kernel of a
#                         layer by tools/kernel_timeline.py --by-start --by-units; bench_nf4_timeline.json is
#                         that build's bench-kernels                                                (~2.5 min)
#   ncu                   ncu.txt: Nsight Compute on one GEMV of each shape in NCU_SHAPES, with its stall
#                         reasons; NCU_SOURCE=1 adds them per SASS instruction                          (~1 min)
# The device tool returns at most 8 files from $OUT: gpu_check.log and a file or two a stage (test.log, memcheck.log,
# golden.log, the JSON above, ncu.txt). The default stages make exactly 8; a call that adds a stage should drop one.
# BUILD_TARGETS narrows the build (e.g. "test_cuda_nf4 bench_nf4" for a kernel's test and timing alone).
# MEMCHECK_TESTS narrows memcheck to a Catch2 test spec (e.g. "[decode],[prefill]") after a change to those kernels;
# MEMCHECK_TOOL=racecheck runs compute-sanitizer's shared-memory hazard check instead (after a change to a kernel's
# barriers), MEMCHECK_TIMEOUT bounds it (default 400 s).
# BENCH_MODEL_ARGS adds arguments to every bench_model run (e.g. "--reps 3"). Plots from the JSON:
# tools/plot_performance.py, on the development machine.
#
# The GPU machine has CUDA, CMake, ninja and PyTorch but none of the app's libraries, so the project is configured
# with GLM4V_APP=OFF (engine, tokenizer, `glm4v check-golden`, kernel tests, benchmarks), and the few Debian
# packages that build needs travel in .device/ (git-ignored), made on the development machine by
# tools/device_sysroot.sh: .device/sysroot (PCRE2, SentencePiece, nlohmann-json, CLI11, Catch2, pkgconf) and
# .device/golden (the golden cases).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/build-device/out}
BUILD=${GPU_CHECK_BUILD:-$ROOT/build-device}
ARCH=${GPU_CHECK_ARCH:-90}
SYS=/tmp/glm4v-sysroot
GOLDEN=$ROOT/.device/golden
mkdir -p "$OUT"
LOG=$OUT/gpu_check.log
step() { echo "== $* ($(date -u +%T))" | tee -a "$LOG"; }
STATUS=0
fail() { echo "FAILED: $*" | tee -a "$LOG"; STATUS=1; }

# The carried packages unpack to /usr paths; pkg-config is told to prefix them with where they are now.
rm -rf "$SYS" && cp -a "$ROOT/.device/sysroot" "$SYS"
export LD_LIBRARY_PATH=$SYS/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PKG_CONFIG_LIBDIR=$SYS/usr/lib/x86_64-linux-gnu/pkgconfig:$SYS/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$SYS
SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
export GLM4V_GOLDEN_DIR=$GOLDEN GLM4V_SOURCE_DIR=$ROOT # for test_cuda_nf4's Chat case, as ctest sets them

# The engine without the app, against the machine's libtorch and the carried packages: BUILD_DIR, then more -D
# arguments.
configure() {
    local dir=$1 torch_prefix
    shift
    torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
    cmake -S "${SOURCE:-$ROOT}" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLM4V_APP=OFF -DGLM4V_GUI=OFF \
        -DCMAKE_PREFIX_PATH="$torch_prefix;$SYS/usr" -DPKG_CONFIG_EXECUTABLE="$SYS/usr/bin/pkgconf" \
        -DGLM4V_CUDA_ARCHITECTURES="$ARCH" -DTORCH_CUDA_ARCH_LIST=9.0 "$@" >>"$LOG" 2>&1
}

stage_build() {
    step build
    {
        nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv
        nvcc --version | tail -2
        cmake --version | head -1
        python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'
    } >>"$LOG" 2>&1
    configure "$BUILD" -DGLM4V_GOLDEN_DIR="$GOLDEN" || { tail -30 "$LOG"; fail configure; return; }
    # shellcheck disable=SC2086
    cmake --build "$BUILD" -j"$(nproc)" --target ${BUILD_TARGETS:-glm4v test_cuda_nf4 bench_nf4 bench_model bench_startup} \
        >>"$LOG" 2>&1 ||
        { grep -E "error|FAILED" "$LOG" | head -30; fail build; return; }
    grep -E "warning" "$LOG" | sort -u | head -20
    cuobjdump --dump-resource-usage "$BUILD/engine/cuda/libglm4v_cuda_kernels.a" >>"$LOG" 2>&1
}

stage_test() {
    step test
    timeout 300 "$BUILD/tests/cuda/test_cuda_nf4" --durations yes >"$OUT/test.log" 2>&1
    local rc=$?
    tail -4 "$OUT/test.log"
    [ $rc = 0 ] || fail "test_cuda_nf4 exit $rc"
}

stage_golden() {
    step golden
    local case
    for case in "$GOLDEN"/*/; do
        for args in "--dtype bf16" "--dtype f16" "--dtype bf16 --quant nf4" "--dtype f16 --quant nf4" \
            "--dtype bf16 --quant nf4 --low-vram"; do
            echo "-- check-golden $(basename "$case") --device cuda $args" | tee -a "$OUT/golden.log"
            # shellcheck disable=SC2086
            "$BUILD/app/glm4v" check-golden "$case" --device cuda $args >>"$OUT/golden.log" 2>&1 ||
                fail "check-golden $(basename "$case") $args"
            tail -1 "$OUT/golden.log"
        done
    done
}

stage_memcheck() {
    MEMCHECK_TOOL=${MEMCHECK_TOOL:-memcheck}
    step "memcheck ($MEMCHECK_TOOL)"
    # shellcheck disable=SC2086
    timeout "${MEMCHECK_TIMEOUT:-400}" "$SANITIZER" --tool "$MEMCHECK_TOOL" --error-exitcode 9 --print-limit 20 \
        "$BUILD/tests/cuda/test_cuda_nf4" ${MEMCHECK_TESTS:+"$MEMCHECK_TESTS"} >"$OUT/memcheck.log" 2>&1
    local rc=$?
    tail -4 "$OUT/memcheck.log"
    echo "$MEMCHECK_TOOL exit status $rc (0 clean, 9 errors found, 124 timed out)" | tee -a "$LOG"
    [ $rc = 0 ] || fail "$MEMCHECK_TOOL exit $rc"
}

stage_bench_kernels() {
    step bench-kernels
    timeout 200 "$BUILD/bench/gpu/bench_nf4" --reps 50 >"$OUT/bench_nf4.json" 2>>"$LOG" || fail bench_nf4
    print_bench_nf4 "$OUT/bench_nf4.json"
}

print_bench_nf4() {
    python3 - "$1" <<'PY' | tee -a "$LOG"
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{d['device']}: copy {d['copy_d2d']['gb_per_s']:.0f} GB/s, bf16 matmul {d['bf16_matmul']['tflop_per_s']:.0f} TFLOP/s")
for k in d["kernels"]:
    print(f"{k['shape']:<18} {k['out']:>6}x{k['in']:<6} {k['kernel']:<26} rows {k['rows']} {k['ms']*1e3:9.1f} us "
          f"{k['gb_per_s']:7.0f} GB/s  {100*k['of_copy']:5.1f}% of copy")
print(json.dumps(d.get("decode_token_weights")))
for k in d.get("decode_layer_kinds", []):
    print(f"{k['kind']:<36} {k['us_per_token']:8.1f} us per token")
print(f"a token's ops in sequence: {d.get('decode_token_sequence_ms')} ms; each kind's share:")
for k in d.get("decode_layer_kinds_in_sequence", []):
    print(f"{k['kind']:<36} {k['us_per_token']:8.1f} us per token")
PY
}

# Builds TARGET in build-device-NAME from the tree in .device/NAME (tools/device_base.sh).
build_base() {
    local name=$1 target=$2 base=$ROOT/.device/$1 dir=$ROOT/build-device-$1
    [ -f "$base/CMakeLists.txt" ] ||
        { fail "$target of $name needs .device/$name: run tools/device_base.sh COMMIT $name"; return 1; }
    [ -f "$dir/build.ninja" ] || SOURCE=$base configure "$dir" || { fail "configure of .device/$name"; return 1; }
    cmake --build "$dir" -j"$(nproc)" --target "$target" >>"$LOG" 2>&1 ||
        { fail "build of $target of .device/$name"; return 1; }
}

stage_bench_base() {
    local name
    for name in ${BASES:-base}; do
        step "bench-base $name $(cat "$ROOT/.device/$name/COMMIT" 2>/dev/null)"
        build_base "$name" bench_nf4 || continue
        timeout 200 "$ROOT/build-device-$name/bench/gpu/bench_nf4" --reps 50 >"$OUT/bench_nf4_$name.json" 2>>"$LOG" ||
            fail "bench_nf4 of $name"
        print_bench_nf4 "$OUT/bench_nf4_$name.json"
    done
}

# RUNNER BUILD_DIR JSON for each tree of BASES (build-device-NAME) and then this tree, AB_RUNS times in turn, so
# that the card's drift meets all alike; the JSONs NAME_i.json and tree_i.json go to the folder RUNS.
alternate() {
    local runner=$1 runs=$2 i name
    for i in $(seq "$AB_RUNS"); do
        for name in $BASES; do
            "$runner" "$ROOT/build-device-$name" "$runs/${name}_$i.json" || fail "$runner of $name, run $i"
        done
        "$runner" "$BUILD" "$runs/tree_$i.json" || fail "$runner of this tree, run $i"
    done
}

nf4_run() { timeout 200 "$1/bench/gpu/bench_nf4" --reps 50 >"$2" 2>>"$LOG"; }

chat_run() {
    local case
    case=$(ls -d "$GOLDEN"/*/ | head -1)
    timeout 200 "$1/bench/gpu/bench_model" --tokenizer-dir "$case/model" \
        --config "$ROOT/bench/gpu/glm4v-9b-config.json" --only chat --reps 3 --decode-tokens 64 --time-limit 180 \
        >"$2" 2>>"$LOG"
}

# The runs of `alternate` in RUNS, as KIND (nf4 or chat): OUT_JSON with each run's figures, and each figure's range per
# tree in the log.
summarize_runs() {
    python3 - "$@" <<'PY' | tee -a "$LOG"
import json, pathlib, sys
folder, kind, out = sys.argv[1:4]
runs = {}
for f in sorted(pathlib.Path(folder).glob("*.json")):
    try:
        d = json.loads(f.read_text())
    except ValueError as e:
        print(f"{f.name}: no JSON ({e})")
        continue
    if kind == "nf4":
        runs[f.name] = {
            "copy": d["copy_d2d"]["gb_per_s"],
            "gemv_us": {k["shape"]: round(k["ms"] * 1e3, 2) for k in d["kernels"]
                        if k["kernel"] == "nf4_gemv_bf16" and k["rows"] == 1},
            "sequence_ms": d.get("decode_token_sequence_ms"),
            "in_sequence": {k["kind"]: k["us_per_token"] for k in d.get("decode_layer_kinds_in_sequence", [])},
            "alone": {k["kind"]: k["us_per_token"] for k in d.get("decode_layer_kinds", [])},
        }
    else:
        runs[f.name] = {k: d.get(k) for k in ("decode_tokens_per_s", "decode_tokens_per_s_steady",
                                              "decode_tokens_per_s_sampled", "ttft_ms", "follow_up_ttft_ms",
                                              "reopen_ttft_ms", "errors")}
if not runs:
    sys.exit(f"no {kind} run printed JSON")
json.dump(runs, open(out, "w"), indent=1)
trees = sorted({n.rsplit("_", 1)[0] for n in runs})
def ranges(pick):
    out = []
    for t in trees:
        v = [pick(r) for n, r in runs.items() if n.rsplit("_", 1)[0] == t and pick(r) is not None]
        out.append(f"{t} {min(v):.3f}-{max(v):.3f}" if v else f"{t} -")
    return "  ".join(out)
first = next(iter(runs.values()))
if kind == "nf4":
    print(f"{'token sequence, ms':<40} {ranges(lambda r: r['sequence_ms'])}")
    for shape in first["gemv_us"]:
        print(f"{shape:<40} {ranges(lambda r: r['gemv_us'].get(shape))}")
    for part in first["in_sequence"]:
        print(f"{'in sequence: ' + part:<40} {ranges(lambda r: r['in_sequence'].get(part))}")
else:
    for key in first:
        if key != "errors":
            print(f"{key:<40} {ranges(lambda r: r[key])}")
    for name, r in runs.items():
        if r["errors"]:
            print(f"{name}: errors {r['errors']}")
PY
}

# This tree's bench_nf4 against those of BASES (built by bench-base): ab_runs.json, {NAME_i.json or tree_i.json: the
# GEMVs' microseconds, the token's sequence and each kind in it and alone}.
stage_bench_ab() {
    local name runs
    step "bench-ab: ${BASES:=base} and this tree, ${AB_RUNS:=3} runs each"
    for name in $BASES; do
        [ -x "$ROOT/build-device-$name/bench/gpu/bench_nf4" ] ||
            { fail "bench-ab needs bench-base of $name first"; return; }
    done
    runs=$(mktemp -d)
    alternate nf4_run "$runs"
    summarize_runs "$runs" nf4 "$OUT/ab_runs.json"
    rm -rf "$runs"
}

# This tree's bench_model chat part (--reps 3) against those of BASES, built here: chat_ab.json, {NAME_i.json or
# tree_i.json: decode greedy, steady and sampled, first token, follow-up, reopen}. For a change outside the kernels
# (the decode loop, the sampler), which bench_nf4 does not see.
stage_bench_chat_ab() {
    local name runs
    step "bench-chat-ab: ${BASES:=base} and this tree, ${AB_RUNS:=3} runs each"
    for name in $BASES; do build_base "$name" bench_model || return; done
    runs=$(mktemp -d)
    alternate chat_run "$runs"
    summarize_runs "$runs" chat "$OUT/chat_ab.json"
    rm -rf "$runs"
}

stage_bench_timeline() {
    step bench-timeline
    local dir=$ROOT/build-device-timeline
    configure "$dir" -DGLM4V_TESTS=OFF -DGLM4V_KERNEL_TIMELINE=ON || { fail "configure of the timeline build"; return; }
    cmake --build "$dir" -j"$(nproc)" --target bench_nf4 >>"$LOG" 2>&1 || { fail "build of the timeline build"; return; }
    timeout 200 "$dir/bench/gpu/bench_nf4" --reps 50 --timeline "$OUT/timeline.csv" >"$OUT/bench_nf4_timeline.json" \
        2>>"$LOG" || { fail "bench_nf4 --timeline"; return; }
    python3 "$ROOT/tools/kernel_timeline.py" "$OUT/timeline.csv" --by-start --by-units --json "$OUT/timeline.json" |
        tee -a "$LOG" || fail kernel_timeline.py
    gzip -f "$OUT/timeline.csv"
}

# The GEMV of each shape in SPLIT_SHAPES (comma-separated bench shape names) with its k forced into each number of
# parts in SPLITS, against the launch plan's own choice (0): bench_splits.json, {shape: {parts: bench_nf4's JSON}}.
stage_bench_splits() {
    step "bench-splits ${SPLIT_SHAPES:=language qkv} ${SPLITS:=0 1 2 3 4}"
    local shape n runs
    runs=$(mktemp -d)
    IFS=, read -ra shapes <<<"$SPLIT_SHAPES"
    for shape in "${shapes[@]}"; do
        for n in $SPLITS; do
            timeout 100 "$BUILD/bench/gpu/bench_nf4" --reps 50 --shape "$shape" --splits "$n" \
                >"$runs/${shape// /_}.$n.json" 2>>"$LOG" || fail "bench_splits $shape $n"
        done
    done
    python3 - "$runs" "$OUT/bench_splits.json" <<'PY' | tee -a "$LOG"
import json, pathlib, sys
runs = {}
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    parts = f.stem.rsplit(".", 1)[1]
    try:
        d = json.loads(f.read_text())
    except ValueError as e:
        print(f"{f.name}: no JSON ({e})")
        continue
    runs.setdefault(d["kernels"][0]["shape"], {})[parts] = d
    for k in d["kernels"]:
        if k["kernel"] == "nf4_gemv_bf16":
            print(f"{k['shape']:18} splits {parts:>2}  rows {k['rows']}  {k['ms'] * 1e3:7.1f} us  "
                  f"{k['of_copy'] * 100:5.1f}% of copy")
json.dump(runs, open(sys.argv[2], "w"), indent=1)
PY
    rm -rf "$runs"
}

stage_ncu() {
    step "ncu ${NCU_SHAPES:=language qkv,language h_to_4h}"
    local shape report
    IFS=, read -ra shapes <<<"$NCU_SHAPES"
    for shape in "${shapes[@]}"; do
        report=$(mktemp)
        # The third launch: the first two pay for lazy loading and a cold L2 and TLB.
        timeout 200 ncu -k regex:nf4_gemv --launch-skip 2 --launch-count 1 --section SpeedOfLight \
            --section MemoryWorkloadAnalysis --section MemoryWorkloadAnalysis_Tables --section WarpStateStats \
            --section SchedulerStats --section Occupancy --section LaunchStats --section InstructionStats \
            --section SourceCounters --metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active\\.ratio" \
            -o "$report" -f \
            "$BUILD/bench/gpu/bench_nf4" --reps 3 --shape "$shape" >"$report.log" 2>&1 || fail "ncu $shape"
        {
            echo "==== $shape"
            cat "$report.log"
            ncu -i "$report.ncu-rep" --print-details all
        } >"$report.txt" 2>&1
        # Per SASS instruction: where the warps stall (sampled) and the shared-memory wavefronts.
        [ -z "${NCU_SOURCE:-}" ] || ncu -i "$report.ncu-rep" --page source --print-source sass --csv >>"$report.txt" 2>&1
        cat "$report.txt" >>"$OUT/ncu.txt"
        # The summary in the log: this shape's time, throughputs, occupancy and stall reasons (cycles an instruction).
        grep -E "^ +(Duration|DRAM Throughput|Memory Throughput|No Eligible|Achieved Occupancy|Executed Instructions)  " \
            "$report.txt" | sed -E 's/ +/ /g' | sort -u | tee -a "$LOG"
        grep -E "smsp__average_warps_issue_stalled_.*_per_issue_active" "$report.txt" | sort -u |
            sed -E 's/ +smsp__average_warps_issue_stalled_(.*)_per_issue_active.ratio +inst +/ stall \1: /' | tee -a "$LOG"
        rm -f "$report" "$report.log" "$report.txt" "$report.ncu-rep"
    done
}

# One bench_model run: NAME (the JSON is $OUT/NAME.json), the seconds `timeout` allows, then its own arguments. The
# program's --time-limit comes 20 s before `timeout`, so it still prints what it measured.
bench_model() {
    local name=$1 limit=$2 case
    shift 2
    case=$(ls -d "$GOLDEN"/*/ | head -1)
    # shellcheck disable=SC2086
    timeout "$limit" "$BUILD/bench/gpu/bench_model" --tokenizer-dir "$case/model" \
        --config "$ROOT/bench/gpu/glm4v-9b-config.json" --time-limit $((limit - 20)) "$@" ${BENCH_MODEL_ARGS:-} \
        >"$OUT/$name.json" 2>>"$LOG" || fail "bench_model $* (exit $?)"
    python3 - "$OUT/$name.json" <<'PY' | tee -a "$LOG"
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError as e:
    sys.exit(f"{sys.argv[1]}: no JSON ({e})")
keys = ["ttft_ms", "decode_tokens_per_s", "decode_tokens_per_s_steady", "follow_up_ttft_ms", "reopen_ttft_ms",
        "peak_allocated_gib", "peak_4096", "decode_vs_context", "part_s", "errors"]
print(f"{sys.argv[1]}: {d.get('device')}, low_vram {d.get('low_vram')}")
for k in keys:
    if k in d:
        print(f"  {k}: {json.dumps(d[k])}")
PY
}

stage_bench_model_default() {
    step bench-model-default
    bench_model bench_model 300 --reps 5 --decode-tokens 64
}

stage_bench_model() {
    step bench-model
    bench_model bench_model 300 --reps 5 --decode-tokens 64
    bench_model bench_model_low-vram 240 --reps 5 --decode-tokens 64 --low-vram --only chat,peak4096
}

stage_bench_context() {
    step bench-context
    bench_model bench_model_context 180 --reps 5 --decode-tokens 64 --only context
}

# Start-up from the quantized cache, warm and cold, through what the app's worker calls (writes about 9 GB to a
# scratch folder, removed at the end).
stage_bench_startup() {
    step bench-startup
    local case
    case=$(ls -d "$GOLDEN"/*/ | head -1)
    timeout 300 "$BUILD/bench/gpu/bench_startup" --tokenizer-dir "$case/model" --scratch "${TMPDIR:-/tmp}" \
        --config "$ROOT/bench/gpu/glm4v-9b-config.json" --reps 3 --time-limit 280 >"$OUT/bench_startup.json" 2>>"$LOG" ||
        fail "bench_startup (exit $?)"
    cat "$OUT/bench_startup.json"
}

[ $# -gt 0 ] || set -- build test golden memcheck bench-kernels bench-model bench-startup
: >"$LOG"
for stage in "$@"; do
    "stage_${stage//-/_}"
done
step done
exit $STATUS
