#pragma once
// Launchers of the decode step's attention kernels (decode_attention.cu): raw device pointers, no torch, so nvcc never
// parses libtorch. Callers outside engine/cuda use decode_ops.h.

#include <cuda_runtime_api.h>

#include <cstdint>

namespace glm4v::engine::cuda {

// The kernels serve GLM-4's geometry: 16 query heads per key/value group and 128-dim heads (decode_ops.h checks).
constexpr int kDecodeHeadsPerGroup = 16;
constexpr int kDecodeHeadDim = 128;

struct DecodeAttentionArgs {
    int tokens = 1;                    // rope_append: tokens in qkv, going to cache rows row..row + tokens - 1
    const void* qkv = nullptr;         // [tokens, heads + 2 groups, head_dim]: q, k, v (the QKV layer's output)
    const void* rope_table = nullptr;  // [tokens, rotary_dims / 2, 2]: cos, sin of each token's position
    const std::int64_t* row = nullptr; // device: the cache row the (first) token goes to; rows 0..row are attended
    void* keys = nullptr;              // [groups, capacity, head_dim]: one layer's cache
    void* values = nullptr;
    std::int64_t capacity = 0;
    int heads = 0, groups = 0, head_dim = 0, rotary_dims = 0;
    void* q = nullptr;             // [tokens, heads, head_dim]: the rotated query
    void* attention_out = nullptr; // [heads, head_dim]
};

// Per-slice results of the split attention: out [heads, splits, head_dim], max and sum [heads, splits], fp32, where
// splits = decode_attention_splits(capacity): the capacity's slices of 64 rows (a slice past the used rows is idle).
struct DecodeAttentionWorkspace {
    int splits = 0;
    float* out = nullptr;
    float* max = nullptr;
    float* sum = nullptr;
};
int decode_attention_splits(std::int64_t capacity);

// Rotates q and k (the first rotary_dims dims of each head, interleaved pairs) rounding as the reference does, writes
// q to args.q and k, v to cache rows *row, *row + 1, ....
void launch_rope_append_bf16(const DecodeAttentionArgs& args, cudaStream_t stream);
void launch_rope_append_fp16(const DecodeAttentionArgs& args, cudaStream_t stream);

// attention_out = softmax(q k^T / sqrt(head_dim)) v over cache rows 0..*row, each group serving its heads.
void launch_decode_attention_bf16(const DecodeAttentionArgs& args, const DecodeAttentionWorkspace& ws,
                                  cudaStream_t stream);
void launch_decode_attention_fp16(const DecodeAttentionArgs& args, const DecodeAttentionWorkspace& ws,
                                  cudaStream_t stream);

} // namespace glm4v::engine::cuda
