#pragma once
// libtorch entry points of the fused prefill's row kernels (prefill_kernels.h). No CUDA types here; exists only in
// builds with GLM4V_HAS_CUDA defined.

#include <torch/types.h>

namespace glm4v::engine::cuda {

// model::rms_norm of x [rows, n] (bf16 or fp16, contiguous, n % 8 == 0) with weight [n]: the same rounding, one
// launch. On the current stream.
torch::Tensor rms_norm_rows(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// model::swiglu of x [rows, 2 n]: silu(x[:, :n]) * x[:, n:], the same rounding, one launch.
torch::Tensor swiglu_rows(const torch::Tensor& x);

} // namespace glm4v::engine::cuda
