// Row-wise kernels of the fused prefill (model/fused_prefill.h): what the op-by-op forward pass does in 7 libtorch
// ops (RMSNorm) or 3 (SwiGLU), in one launch each. A follow-up question's prefill is a few dozen rows, so its time is
// the CPU's dispatching, not the GPU's work, and every op saved is a dispatch saved.

#include "engine/cuda/nf4_common.cuh"
#include "engine/cuda/prefill_kernels.h"

namespace glm4v::engine::cuda {
namespace {

constexpr int kThreads = 256;

// One block per row.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    rms_norm_rows_kernel(const T* __restrict__ x, const T* __restrict__ weight, T* __restrict__ y, int n, float eps) {
    allow_next_kernel();
    grid_dependency_wait();
    __shared__ float warp_sums[kThreads / 32];
    const uint4* row = reinterpret_cast<const uint4*>(x + static_cast<std::int64_t>(blockIdx.x) * n);
    uint4* out = reinterpret_cast<uint4*>(y + static_cast<std::int64_t>(blockIdx.x) * n);
    const int vecs = n / 8;
    float sum = 0.0f;
    for (int c = threadIdx.x; c < vecs; c += kThreads) sum = add_squares8<T>(__ldg(row + c), sum);
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
    if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = sum;
    __syncthreads();
    float total = 0.0f;
#pragma unroll
    for (int w = 0; w < kThreads / 32; ++w) total += warp_sums[w];
    const float inv_rms = rsqrtf(total / static_cast<float>(n) + eps);
    for (int c = threadIdx.x; c < vecs; c += kThreads)
        out[c] = rms_scale8<T>(__ldg(row + c), __ldg(reinterpret_cast<const uint4*>(weight) + c), inv_rms);
}

// One thread per 8 outputs.
template <typename T>
__global__ void swiglu_rows_kernel(const T* __restrict__ x, T* __restrict__ y, std::int64_t rows, int n) {
    allow_next_kernel();
    grid_dependency_wait();
    const int vecs = n / 8;
    const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= rows * vecs) return;
    const std::int64_t r = i / vecs;
    const int c = static_cast<int>(i % vecs);
    const uint4* in = reinterpret_cast<const uint4*>(x + r * 2 * n);
    reinterpret_cast<uint4*>(y)[i] = swiglu8<T>(__ldg(in + c), __ldg(in + vecs + c));
}

template <typename T>
void rms_norm_rows(const void* x, const void* weight, void* y, std::int64_t rows, std::int64_t n, float eps,
                   cudaStream_t stream) {
    launch_after_previous(rms_norm_rows_kernel<T>, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, stream,
                          static_cast<const T*>(x), static_cast<const T*>(weight), static_cast<T*>(y),
                          static_cast<int>(n), eps);
}

template <typename T> void swiglu_rows(const void* x, void* y, std::int64_t rows, std::int64_t n, cudaStream_t stream) {
    const std::int64_t threads = rows * (n / 8);
    launch_after_previous(swiglu_rows_kernel<T>, dim3(static_cast<unsigned>((threads + kThreads - 1) / kThreads)),
                          dim3(kThreads), 0, stream, static_cast<const T*>(x), static_cast<T*>(y), rows,
                          static_cast<int>(n));
}

} // namespace

void launch_rms_norm_rows_bf16(const void* x, const void* weight, void* y, std::int64_t rows, std::int64_t n, float eps,
                               cudaStream_t stream) {
    rms_norm_rows<__nv_bfloat16>(x, weight, y, rows, n, eps, stream);
}
void launch_rms_norm_rows_fp16(const void* x, const void* weight, void* y, std::int64_t rows, std::int64_t n, float eps,
                               cudaStream_t stream) {
    rms_norm_rows<__half>(x, weight, y, rows, n, eps, stream);
}
void launch_swiglu_rows_bf16(const void* x, void* y, std::int64_t rows, std::int64_t n, cudaStream_t stream) {
    swiglu_rows<__nv_bfloat16>(x, y, rows, n, stream);
}
void launch_swiglu_rows_fp16(const void* x, void* y, std::int64_t rows, std::int64_t n, cudaStream_t stream) {
    swiglu_rows<__half>(x, y, rows, n, stream);
}

} // namespace glm4v::engine::cuda
