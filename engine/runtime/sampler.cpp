#include "engine/runtime/sampler.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace glm4v::engine::runtime {

void validate(const GenerationOptions& o) {
    GLM4V_CHECK(o.max_new_tokens > 0, ErrorKind::InvalidInput) << "max_new_tokens must be positive, not " << o.max_new_tokens;
    GLM4V_CHECK(o.temperature >= 0 && std::isfinite(o.temperature), ErrorKind::InvalidInput)
        << "temperature must be 0 or more, not " << o.temperature;
    GLM4V_CHECK(o.top_p > 0 && o.top_p <= 1, ErrorKind::InvalidInput) << "top_p must be in (0, 1], not " << o.top_p;
    GLM4V_CHECK(o.top_k >= 0, ErrorKind::InvalidInput) << "top_k must be 0 (off) or more, not " << o.top_k;
    GLM4V_CHECK(o.repetition_penalty > 0 && std::isfinite(o.repetition_penalty), ErrorKind::InvalidInput)
        << "repetition_penalty must be positive, not " << o.repetition_penalty;
}

Sampler::Sampler(const GenerationOptions& options) : options_(options), rng_(options.seed) { validate(options); }

// On the logits' own device: a GPU sorts the 151k logits in tens of microseconds, where the CPU spent milliseconds a
// token on a partial sort of every id (the app's default top-p sampling decoded at a fraction of greedy's speed);
// only the kept candidates come to the CPU for the seeded draw.
std::int64_t Sampler::sample(const torch::Tensor& logits, const std::vector<std::int64_t>& previous) {
    const bool penalize = options_.repetition_penalty != 1.0 && !previous.empty();
    if (options_.temperature == 0 && !penalize) return logits.argmax().item<std::int64_t>();

    torch::Tensor l = logits.to(torch::kFloat32).flatten();
    const std::int64_t n = l.size(0);
    if (penalize) {
        // As Hugging Face's RepetitionPenaltyLogitsProcessor: shrink positive logits, grow negative ones.
        std::vector<std::int64_t> seen;
        for (const auto id : previous)
            if (id >= 0 && id < n) seen.push_back(id);
        std::sort(seen.begin(), seen.end());
        seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
        const torch::Tensor ids = torch::tensor(seen, torch::kInt64).to(l.device());
        const torch::Tensor v = l.index_select(0, ids);
        l = l.clone().index_copy_(0, ids, torch::where(v > 0, v / options_.repetition_penalty, v * options_.repetition_penalty));
    }
    if (options_.temperature == 0) return l.argmax().item<std::int64_t>();

    // Candidates by descending logit, ties by id (a stable sort), so a seed gives the same draw everywhere.
    const auto [sorted, order] = torch::sort(l, /*stable=*/true, /*dim=*/0, /*descending=*/true);
    const std::int64_t keep = options_.top_k > 0 ? std::min<std::int64_t>(n, options_.top_k) : n;
    const torch::Tensor p = torch::exp((sorted.narrow(0, 0, keep) - sorted[0]) / options_.temperature);
    std::int64_t cut = keep;
    if (options_.top_p < 1.0) {
        // Smallest prefix whose mass reaches top_p; the top token always stays.
        const torch::Tensor mass = torch::cumsum(p, 0) / p.sum();
        cut = std::min<std::int64_t>(keep, mass.lt(options_.top_p).sum().item<std::int64_t>() + 1);
    }
    const torch::Tensor weights = p.narrow(0, 0, cut).to(torch::kCPU, torch::kFloat64).contiguous();
    const torch::Tensor ids = order.narrow(0, 0, cut).to(torch::kCPU).contiguous();
    std::discrete_distribution<std::size_t> pick(weights.data_ptr<double>(), weights.data_ptr<double>() + cut);
    return ids.data_ptr<std::int64_t>()[pick(rng_)];
}

} // namespace glm4v::engine::runtime
