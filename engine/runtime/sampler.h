#pragma once
// Picks the next token from logits: greedy at temperature 0, otherwise repetition penalty, temperature,
// top-k, top-p, then a draw from a generator seeded per reply, so a seed reproduces a reply.

#include <torch/types.h>

#include <cstdint>
#include <random>
#include <vector>

#include "engine/runtime/chat.h"

namespace glm4v::engine::runtime {

class Sampler {
public:
    explicit Sampler(const GenerationOptions& options);
    // logits [vocab], any device; `previous` are the ids the repetition penalty applies to.
    std::int64_t sample(const torch::Tensor& logits, const std::vector<std::int64_t>& previous);

private:
    GenerationOptions options_;
    std::mt19937_64 rng_;
};

// Throws InvalidInput naming the option when a value is out of range.
void validate(const GenerationOptions& options);

} // namespace glm4v::engine::runtime
