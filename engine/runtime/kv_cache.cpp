#include "engine/runtime/kv_cache.h"

#include "engine/error.h"

namespace glm4v::engine::runtime {

KvCache::KvCache(std::int64_t layers, std::int64_t capacity, std::int64_t groups, std::int64_t head_dim,
                 const torch::TensorOptions& options)
    : capacity_(capacity) {
    // Zeros, not uninitialized memory: the fixed-shape decode step attends over every row with the unused ones
    // masked, and a masked row still enters as 0 x value, which is NaN if stale bytes happen to spell NaN.
    for (std::int64_t i = 0; i < layers; ++i) {
        keys_.push_back(torch::zeros({groups, capacity, head_dim}, options));
        values_.push_back(torch::zeros({groups, capacity, head_dim}, options));
    }
}

void KvCache::check_room(std::int64_t rows) const {
    GLM4V_CHECK(length_ + rows <= capacity_, ErrorKind::ContextFull)
        << "the context holds " << capacity_ << " tokens; " << length_ << " are used and " << rows << " more do not fit";
}

std::pair<torch::Tensor, torch::Tensor> KvCache::append(std::int64_t layer, const torch::Tensor& k,
                                                        const torch::Tensor& v) {
    const auto rows = k.size(0);
    check_room(rows);
    keys_[layer].narrow(1, length_, rows).copy_(k.transpose(0, 1));
    values_[layer].narrow(1, length_, rows).copy_(v.transpose(0, 1));
    const auto total = length_ + rows;
    return {keys_[layer].narrow(1, 0, total), values_[layer].narrow(1, 0, total)};
}

} // namespace glm4v::engine::runtime
