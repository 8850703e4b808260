#include "engine/runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

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

std::int64_t Sampler::sample(const torch::Tensor& logits, const std::vector<std::int64_t>& previous) {
    const bool penalize = options_.repetition_penalty != 1.0 && !previous.empty();
    if (options_.temperature == 0 && !penalize) return logits.argmax().item<std::int64_t>();

    const auto cpu = logits.to(torch::kCPU, torch::kFloat32).contiguous();
    std::vector<float> l(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
    if (penalize) {
        // As Hugging Face's RepetitionPenaltyLogitsProcessor: shrink positive logits, grow negative ones.
        std::vector<std::int64_t> seen(previous);
        std::sort(seen.begin(), seen.end());
        seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
        for (auto id : seen) {
            if (id < 0 || id >= static_cast<std::int64_t>(l.size())) continue;
            float& v = l[id];
            v = v > 0 ? static_cast<float>(v / options_.repetition_penalty)
                      : static_cast<float>(v * options_.repetition_penalty);
        }
    }
    if (options_.temperature == 0)
        return static_cast<std::int64_t>(std::max_element(l.begin(), l.end()) - l.begin());

    std::vector<std::int32_t> order(l.size());
    std::iota(order.begin(), order.end(), 0);
    std::size_t keep = l.size();
    if (options_.top_k > 0) keep = std::min<std::size_t>(keep, options_.top_k);
    // Candidates by descending logit, ties by id, so a seed gives the same draw everywhere.
    auto by_logit = [&](std::int32_t a, std::int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); };
    std::partial_sort(order.begin(), order.begin() + keep, order.end(), by_logit);
    order.resize(keep);

    const double max_logit = l[order[0]];
    std::vector<double> p(keep);
    double total = 0;
    for (std::size_t i = 0; i < keep; ++i) total += p[i] = std::exp((l[order[i]] - max_logit) / options_.temperature);
    std::size_t cut = keep;
    if (options_.top_p < 1.0) {
        // Smallest prefix whose mass reaches top_p; the top token always stays.
        double mass = 0;
        for (std::size_t i = 0; i < keep; ++i) {
            mass += p[i] / total;
            if (mass >= options_.top_p) {
                cut = i + 1;
                break;
            }
        }
    }
    std::discrete_distribution<std::size_t> pick(p.begin(), p.begin() + cut);
    return order[pick(rng_)];
}

} // namespace glm4v::engine::runtime
