#pragma once
// The building blocks of both towers, written to round exactly where the reference rounds: the fp32
// islands (norm statistics, rope angles, softmax) live here, so model code reads as the paper does.

#include <torch/types.h>

namespace glm4v::engine::model {

// GLM's RMSNorm: statistics in fp32, the product cast back to x's dtype.
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);
torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias, double eps);

// cos/sin for the given positions: [S, rotary_dims / 2, 2]. Angles in fp32, the table rounded to
// `dtype`, as the reference's RotaryEmbedding does (DESIGN.md section 2).
torch::Tensor rope_table(const torch::Tensor& positions, std::int64_t rotary_dims, double rope_ratio,
                         torch::ScalarType dtype);
// x [S, heads, head_dim]: rotates interleaved pairs of the first rotary_dims dims, passes the rest.
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& table);

// q [heads, S, D], k/v [groups, T, D], heads a multiple of groups (query head h reads group
// h / (heads / groups)). `mask` is a bool [S, T] (true: may attend) or undefined for no mask.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& mask);

// SiLU of the first half times the second half of the last dim.
torch::Tensor swiglu(const torch::Tensor& x);

} // namespace glm4v::engine::model
