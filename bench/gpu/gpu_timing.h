#pragma once
// What the GPU benchmarks share: event-timed medians, and the card's own limits measured in the same run
// (DESIGN.md section 8) so every figure can be set beside them.

#include "engine/cuda/kernel_timeline.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace glm4v::bench {

void cuda_check(cudaError_t e, const char* what); // prints and exits on failure: benchmarks have no caller

// Median milliseconds of `reps` runs after three warm-up runs, each bracketed by events on the current stream;
// run(i) gets the run's index, to rotate among inputs.
double median_ms(const std::function<void(int)>& run, int reps);

// Milliseconds a run takes on the GPU inside a CUDA graph of `reps` runs back to back, as a decode step's kernels
// run: without the CPU's launch time, which median_ms counts for kernels shorter than their launch.
double graph_ms(const std::function<void(int)>& run, int reps);
#ifdef GLM4V_KERNEL_TIMELINE
// The blocks of one replay of that graph, in a build with the kernel timeline (engine/cuda/kernel_timeline.h).
std::vector<engine::cuda::KernelSpan> graph_timeline(const std::function<void(int)>& run, int reps);
#endif

// A 2 GiB device-to-device copy, counting bytes read plus bytes written: the bandwidth ceiling of decode.
double copy_gb_per_s();
// Reads `bytes` (a multiple of 16) at src and nothing else (read_bytes.cu): on a grid of blocks_per_sm blocks of 256
// threads an SM, each thread with `loads` (4 or 8) 16-byte loads in flight; overlapped, it starts before the previous
// kernel in the stream ends, as a GEMV does. sink is a device word it may write.
struct ReadPlan {
    int blocks_per_sm, loads;
    bool overlapped;
};
void read_bytes(const void* src, std::int64_t bytes, unsigned* sink, const ReadPlan& plan, cudaStream_t stream);
// An 8192^3 bf16 matmul through cuBLAS: the compute ceiling of prefill and the vision tower.
double bf16_matmul_tflop_per_s();

} // namespace glm4v::bench
