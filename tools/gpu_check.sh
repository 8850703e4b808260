#!/usr/bin/env bash
# One call on the GPU machine does all of the NF4 GPU work (DESIGN.md section 8, METHOD.md): configure and build
# the kernels, their test and their benchmark; run the test, the benchmark, then the test again under
# compute-sanitizer memcheck. Logs and JSON go to $OUT.
#
#   tools/gpu_check.sh                 # on the device machine, from the repository root
#   run(command="bash tools/gpu_check.sh", carry=[".device"])
#
# The device machine has CUDA, CMake, ninja and PyTorch (python3) but not the app's libraries (OpenCV, SQLite,
# CLI11, ...), so the top-level project cannot configure there. This script builds a small project from the same
# sources instead: engine/cuda/CMakeLists.txt itself, plus the few engine files the kernels need. Catch2's single
# header travels in .device/include (copied from /usr/include/catch2; .device/ is git-ignored).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/build-gpu-check/out}
BUILD=${GPU_CHECK_BUILD:-/tmp/glm4v-gpu-check}
ARCH=${GPU_CHECK_ARCH:-90}
mkdir -p "$OUT" "$BUILD/src"
LOG=$OUT/gpu_check.log
: >"$LOG"
step() { echo "== $* ($(date -u +%T))" | tee -a "$LOG"; }

step environment
{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv
    nvcc --version | tail -2
    cmake --version | head -1
    ninja --version
    python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda, torch.utils.cmake_prefix_path)'
    which compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer
    nproc
} >>"$LOG" 2>&1
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
CATCH_INCLUDE=$ROOT/.device/include
[ -f /usr/include/catch2/catch.hpp ] && CATCH_INCLUDE=/usr/include

cat >"$BUILD/src/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(glm4v_gpu_check LANGUAGES C CXX CUDA)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
set(GLM4V_CUDA_ARCHITECTURES "$ARCH")
set(TORCH_CUDA_ARCH_LIST "9.0")
find_package(CUDAToolkit REQUIRED)
find_package(Torch REQUIRED)
set(R "$ROOT")
add_library(glm4v_warnings INTERFACE)
target_compile_options(glm4v_warnings INTERFACE \$<\$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra>)
add_library(glm4v_core STATIC \${R}/engine/error.cpp \${R}/engine/log.cpp)
target_include_directories(glm4v_core PUBLIC \${R})
add_library(glm4v_engine STATIC \${R}/engine/quant/nf4.cpp \${R}/engine/quant/linear.cpp)
target_link_libraries(glm4v_engine PUBLIC glm4v_core \${TORCH_LIBRARIES} PRIVATE glm4v_warnings)
add_subdirectory(\${R}/engine/cuda engine_cuda)
add_executable(test_cuda_nf4 \${R}/tests/cuda/test_nf4_kernels.cpp)
target_include_directories(test_cuda_nf4 PRIVATE "$CATCH_INCLUDE")
target_link_libraries(test_cuda_nf4 PRIVATE glm4v_engine glm4v_warnings)
add_executable(bench_nf4 \${R}/bench/gpu/bench_nf4.cpp)
target_link_libraries(bench_nf4 PRIVATE glm4v_engine glm4v_warnings)
CMAKE

step configure
cmake -S "$BUILD/src" -B "$BUILD/b" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
    >>"$LOG" 2>&1 || { tail -40 "$LOG"; exit 1; }
step build
cmake --build "$BUILD/b" -j"$(nproc)" >>"$LOG" 2>&1 || { grep -E "error|FAILED" "$LOG" | head -40; exit 1; }
grep -E "warning" "$LOG" | sort -u | head -20
cuobjdump --dump-resource-usage "$BUILD/b/engine_cuda/libglm4v_cuda_kernels.a" >"$OUT/resource_usage.txt" 2>&1

step test
timeout 200 "$BUILD/b/test_cuda_nf4" --durations yes >"$OUT/test.log" 2>&1
TEST_RC=$?
tail -5 "$OUT/test.log"
echo "test exit status $TEST_RC" | tee -a "$LOG"

step bench
timeout 150 "$BUILD/b/bench_nf4" --reps 50 >"$OUT/bench.json" 2>>"$LOG"
echo "bench exit status $?" | tee -a "$LOG"
python3 - "$OUT/bench.json" <<'PY' | tee -a "$LOG"
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{d['device']}: copy {d['copy_d2d']['gb_per_s']:.0f} GB/s")
for k in d["kernels"]:
    print(f"{k['shape']:<18} {k['out']:>6}x{k['in']:<6} {k['kernel']:<24} rows {k['rows']} {k['ms']*1e3:9.1f} us "
          f"{k['gb_per_s']:7.0f} GB/s  {100*k['of_copy']:5.1f}% of copy")
print(json.dumps(d["decode_token_weights"]))
PY

step memcheck
SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
timeout 220 "$SANITIZER" --tool memcheck --error-exitcode 9 --print-limit 20 "$BUILD/b/test_cuda_nf4" \
    >"$OUT/memcheck.log" 2>&1
MEMCHECK_RC=$?
tail -4 "$OUT/memcheck.log"
echo "memcheck exit status $MEMCHECK_RC (0 clean, 9 errors found, 124 timed out)" | tee -a "$LOG"
step done
[ "$TEST_RC" = 0 ] && [ "$MEMCHECK_RC" = 0 ]
