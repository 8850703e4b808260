#!/usr/bin/env bash
# All of the GPU work, on the GPU machine (DESIGN.md section 8; the device tool's METHOD.md): build the engine,
# run the kernel tests, compute-sanitizer memcheck, the golden checks on CUDA, and the benchmarks. Logs and JSON
# go to $OUT. Stages run in the order given (default: all); a 10-minute device call fits about half of them.
#
#   run(command="bash tools/gpu_check.sh build test golden bench-model", carry=[".device"])
#   run(command="bash tools/gpu_check.sh build memcheck bench-kernels", carry=[".device"])
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

stage_build() {
    step build
    {
        nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv
        nvcc --version | tail -2
        cmake --version | head -1
        python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'
    } >>"$LOG" 2>&1
    local torch_prefix
    torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLM4V_APP=OFF -DGLM4V_GUI=OFF \
        -DCMAKE_PREFIX_PATH="$torch_prefix;$SYS/usr" -DPKG_CONFIG_EXECUTABLE="$SYS/usr/bin/pkgconf" \
        -DGLM4V_CUDA_ARCHITECTURES="$ARCH" -DTORCH_CUDA_ARCH_LIST=9.0 -DGLM4V_GOLDEN_DIR="$GOLDEN" \
        >>"$LOG" 2>&1 || { tail -30 "$LOG"; fail configure; return; }
    cmake --build "$BUILD" -j"$(nproc)" --target glm4v test_cuda_nf4 bench_nf4 bench_model bench_startup >>"$LOG" 2>&1 ||
        { grep -E "error|FAILED" "$LOG" | head -30; fail build; return; }
    grep -E "warning" "$LOG" | sort -u | head -20
    cuobjdump --dump-resource-usage "$BUILD/engine/cuda/libglm4v_cuda_kernels.a" >"$OUT/resource_usage.txt" 2>&1
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
    step memcheck
    timeout 400 "$SANITIZER" --tool memcheck --error-exitcode 9 --print-limit 20 "$BUILD/tests/cuda/test_cuda_nf4" \
        >"$OUT/memcheck.log" 2>&1
    local rc=$?
    tail -4 "$OUT/memcheck.log"
    echo "memcheck exit status $rc (0 clean, 9 errors found, 124 timed out)" | tee -a "$LOG"
    [ $rc = 0 ] || fail "memcheck exit $rc"
}

stage_bench_kernels() {
    step bench-kernels
    timeout 200 "$BUILD/bench/gpu/bench_nf4" --reps 50 >"$OUT/bench_nf4.json" 2>>"$LOG" || fail bench_nf4
    python3 - "$OUT/bench_nf4.json" <<'PY' | tee -a "$LOG"
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{d['device']}: copy {d['copy_d2d']['gb_per_s']:.0f} GB/s, bf16 matmul {d['bf16_matmul']['tflop_per_s']:.0f} TFLOP/s")
for k in d["kernels"]:
    print(f"{k['shape']:<18} {k['out']:>6}x{k['in']:<6} {k['kernel']:<24} rows {k['rows']} {k['ms']*1e3:9.1f} us "
          f"{k['gb_per_s']:7.0f} GB/s  {100*k['of_copy']:5.1f}% of copy")
print(json.dumps(d["decode_token_weights"]))
for k in d["decode_layer_kinds"]:
    print(f"{k['kind']:<36} {k['us_per_token']:8.1f} us per token")
PY
}

stage_bench_model() {
    step bench-model
    local case
    case=$(ls -d "$GOLDEN"/*/ | head -1)
    local mode
    for mode in --context-sweep --low-vram; do
        timeout 300 "$BUILD/bench/gpu/bench_model" --tokenizer-dir "$case/model" --config "$ROOT/bench/gpu/glm4v-9b-config.json" \
            --reps 5 --decode-tokens 64 $mode >"$OUT/bench_model${mode/--/_}.json" 2>>"$LOG" || fail "bench_model $mode"
        cat "$OUT/bench_model${mode/--/_}.json"
    done
}

# Start-up from the quantized cache, warm and cold, through Glm4v::load (writes about 8 GB to a scratch folder).
stage_bench_startup() {
    step bench-startup
    local case
    case=$(ls -d "$GOLDEN"/*/ | head -1)
    timeout 300 "$BUILD/bench/gpu/bench_startup" --tokenizer-dir "$case/model" --scratch "${TMPDIR:-/tmp}/glm4v-startup" \
        --config "$ROOT/bench/gpu/glm4v-9b-config.json" --reps 3 >"$OUT/bench_startup.json" 2>>"$LOG" || fail bench_startup
    cat "$OUT/bench_startup.json"
}

[ $# -gt 0 ] || set -- build test golden memcheck bench-kernels bench-model bench-startup
: >"$LOG"
for stage in "$@"; do
    "stage_${stage//-/_}"
done
step done
exit $STATUS
