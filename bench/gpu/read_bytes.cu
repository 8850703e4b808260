// A kernel that only reads: the ceiling of any kernel that must read a GEMV's bytes once, its launch and the DRAM's
// latency included, which a device-to-device copy (it also writes) does not give for bytes read alone.
#include "bench/gpu/gpu_timing.h"
#include "engine/cuda/nf4_common.cuh"

#include <algorithm>
#include <cstdint>

namespace glm4v::bench {
namespace {

namespace kernels = engine::cuda;

// Each thread has kLoads 16-byte loads in flight before it uses any, so the SMs keep as many bytes in flight as they
// can hold; the XOR of all it read is written only when it equals a constant, which keeps the loads without a store.
// Launched as the GEMV is (overlapped), it lets the next launch start at once and waits for the previous one only
// before that store, where the GEMV waits before it reads x: the most generous reading of what a GEMV must wait for.
template <int kLoads>
__global__ void __launch_bounds__(256) read_kernel(const uint4* __restrict__ src, std::int64_t n, unsigned* sink) {
    kernels::allow_next_kernel();
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    unsigned acc = 0;
    for (; i + (kLoads - 1) * stride < n; i += kLoads * stride) {
        uint4 v[kLoads];
#pragma unroll
        for (int l = 0; l < kLoads; ++l) v[l] = __ldcs(src + i + l * stride);
#pragma unroll
        for (int l = 0; l < kLoads; ++l) acc ^= v[l].x ^ v[l].y ^ v[l].z ^ v[l].w;
    }
    for (; i < n; i += stride) {
        const uint4 v = __ldcs(src + i);
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    kernels::grid_dependency_wait();
    if (acc == 0x9E3779B9u) *sink = acc;
}

} // namespace

void read_bytes(const void* src, std::int64_t bytes, unsigned* sink, const ReadPlan& plan, cudaStream_t stream) {
    const int sms = kernels::current_device_attribute(cudaDevAttrMultiProcessorCount);
    const std::int64_t n = bytes / 16;
    const dim3 grid(static_cast<unsigned>(std::min<std::int64_t>(sms * plan.blocks_per_sm, (n + 255) / 256)));
    const auto* s = static_cast<const uint4*>(src);
    const auto kernel = plan.loads == 8 ? read_kernel<8> : read_kernel<4>;
    if (plan.overlapped)
        kernels::launch_after_previous(kernel, grid, dim3(256), 0, stream, s, n, sink);
    else
        kernel<<<grid, 256, 0, stream>>>(s, n, sink);
    cuda_check(cudaGetLastError(), "read_kernel");
}

} // namespace glm4v::bench
