#pragma once
// Keys and values of every layer, preallocated for the whole context so decoding never allocates.

#include <torch/types.h>

#include <vector>

namespace glm4v::engine::runtime {

class KvCache {
public:
    KvCache() = default;
    // [groups, capacity, head_dim] per layer for keys and for values.
    KvCache(std::int64_t layers, std::int64_t capacity, std::int64_t groups, std::int64_t head_dim,
            const torch::TensorOptions& options);

    std::int64_t length() const { return length_; }
    std::int64_t capacity() const { return capacity_; }

    // Writes k, v [S, groups, head_dim] at rows length()..length()+S-1 of `layer`; returns the keys and
    // values of rows 0..length()+S-1 as views [groups, T, head_dim]. commit(S) makes them count.
    std::pair<torch::Tensor, torch::Tensor> append(std::int64_t layer, const torch::Tensor& k, const torch::Tensor& v);
    void commit(std::int64_t rows) { length_ += rows; }
    // Throws ContextFull unless `rows` more rows fit after length().
    void check_room(std::int64_t rows) const;
    // The whole preallocated storage [groups, capacity, head_dim] of a layer: fixed addresses, which a replayed
    // CUDA graph of a decode step needs (model::language_decode_step).
    const torch::Tensor& keys(std::int64_t layer) const { return keys_[layer]; }
    const torch::Tensor& values(std::int64_t layer) const { return values_[layer]; }
    // Forgets rows from `length` on (a cancelled or failed prefill).
    void truncate(std::int64_t length) { length_ = std::min(length_, length); }

private:
    std::vector<torch::Tensor> keys_, values_;
    std::int64_t capacity_ = 0;
    std::int64_t length_ = 0;
};

} // namespace glm4v::engine::runtime
