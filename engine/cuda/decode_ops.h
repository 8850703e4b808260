#pragma once
// libtorch entry points of the decode step's attention kernels (decode_kernels.h). No CUDA types here; exists only
// in builds with GLM4V_HAS_CUDA defined.

#include <torch/types.h>

namespace glm4v::engine::cuda {

// Whether the kernels take this attention geometry (16 query heads per group, 128-dim heads, even rotary dims).
bool decode_attention_supports(std::int64_t heads, std::int64_t groups, std::int64_t head_dim, std::int64_t rotary_dims);

// qkv [tokens, (heads + 2 groups) * head_dim] (bf16 or fp16), rope_table [tokens, rotary_dims / 2, 2] in the same
// dtype (model::rope_table of their positions), row int64 [1] on the device. Writes the rotated keys and the values to
// rows row, row + 1, ... of keys and values [groups, capacity, head_dim]; returns the rotated queries [tokens * heads,
// head_dim]. One token is a decode step; more are a prefill's. On the current stream.
torch::Tensor rope_append(const torch::Tensor& qkv, const torch::Tensor& rope_table, const torch::Tensor& row,
                          const torch::Tensor& keys, const torch::Tensor& values, std::int64_t heads);

// softmax(q k^T / sqrt(head_dim)) v of q [heads, head_dim] over rows 0..row of keys and values [groups, capacity,
// head_dim], read from the device, so a CUDA graph can replay it at any length. Returns [1, heads * head_dim].
torch::Tensor decode_attention(const torch::Tensor& q, const torch::Tensor& keys, const torch::Tensor& values,
                               const torch::Tensor& row);

} // namespace glm4v::engine::cuda
