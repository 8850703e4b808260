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

    // Whether pick() below chooses as sample() does without the reply's ids, so that the choice can run on the
    // device right behind the decode step (DecodeGraph::pick): only without a repetition penalty, which needs them.
    bool picks_without_host() const { return options_.repetition_penalty == 1.0; }
    // The uniform number of the next draw, from the generator sample() draws from; a draw happens only at a
    // temperature above 0.
    double next_uniform();
    const GenerationOptions& options() const { return options_; }

private:
    GenerationOptions options_;
    std::mt19937_64 rng_;
};

// sample()'s choice, without a repetition penalty, as device work only: nothing waits for the device, so a CUDA graph
// can capture it. `u` is the draw's uniform number, float64 [1] on the logits' device (unused at temperature 0).
// Returns the id, int64 [1], on that device.
torch::Tensor pick(const torch::Tensor& logits, const GenerationOptions& options, const torch::Tensor& u);

// Throws InvalidInput naming the option when a value is out of range.
void validate(const GenerationOptions& options);

} // namespace glm4v::engine::runtime
