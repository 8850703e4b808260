#pragma once
// Launchers of the row-wise kernels of a fused prefill (prefill_kernels.cu): raw device pointers, no torch, so nvcc
// never parses libtorch. Callers outside engine/cuda use prefill_ops.h.

#include <cuda_runtime_api.h>

#include <cstdint>

namespace glm4v::engine::cuda {

// y[rows, n] = RMSNorm(x) * weight, rounded as model::rms_norm (fp32 statistics and products, one rounding).
// Needs n % 8 == 0 and 16-byte aligned x, weight and y.
void launch_rms_norm_rows_bf16(const void* x, const void* weight, void* y, std::int64_t rows, std::int64_t n, float eps,
                               cudaStream_t stream);
void launch_rms_norm_rows_fp16(const void* x, const void* weight, void* y, std::int64_t rows, std::int64_t n, float eps,
                               cudaStream_t stream);

// y[rows, n] = silu(x[:, :n]) * x[:, n:] for x [rows, 2n], rounded as model::swiglu (silu rounded, then the
// product). Needs n % 8 == 0 and 16-byte aligned x and y.
void launch_swiglu_rows_bf16(const void* x, void* y, std::int64_t rows, std::int64_t n, cudaStream_t stream);
void launch_swiglu_rows_fp16(const void* x, void* y, std::int64_t rows, std::int64_t n, cudaStream_t stream);

} // namespace glm4v::engine::cuda
