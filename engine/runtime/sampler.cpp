#include "engine/runtime/sampler.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace glm4v::engine::runtime {

void validate(const GenerationOptions& o) {
    GLM4V_CHECK(o.max_new_tokens > 0, ErrorKind::InvalidInput)
        << "max_new_tokens must be positive, not " << o.max_new_tokens;
    GLM4V_CHECK(o.temperature >= 0 && std::isfinite(o.temperature), ErrorKind::InvalidInput)
        << "temperature must be 0 or more, not " << o.temperature;
    GLM4V_CHECK(o.top_p > 0 && o.top_p <= 1, ErrorKind::InvalidInput) << "top_p must be in (0, 1], not " << o.top_p;
    GLM4V_CHECK(o.top_k >= 0, ErrorKind::InvalidInput) << "top_k must be 0 (off) or more, not " << o.top_k;
    GLM4V_CHECK(o.repetition_penalty > 0 && std::isfinite(o.repetition_penalty), ErrorKind::InvalidInput)
        << "repetition_penalty must be positive, not " << o.repetition_penalty;
}

Sampler::Sampler(const GenerationOptions& options) : options_(options), rng_(options.seed) { validate(options); }

// On the logits' own device, with one read-back a token: the stable sort, the cumulative mass, the cut and the
// draw's search all run there, and only the drawn id comes back. The draw's uniform number comes from the generator
// seeded per reply, on the CPU, so a seed reproduces a reply. Reading back the kept candidates instead cost a copy of
// the whole kept prefix, 2.4 MB where the logits are flat as a random model's are, and three waits for the GPU a
// token (docs/performance.md).
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
        const double penalty = options_.repetition_penalty;
        l = l.clone().index_copy_(0, ids, torch::where(v > 0, v / penalty, v * penalty));
    }
    if (options_.temperature == 0) return l.argmax().item<std::int64_t>();

    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    // Candidates by descending logit, ties by id (a stable sort), so a seed gives the same draw everywhere.
    const auto [sorted, order] = torch::sort(l, /*stable=*/true, /*dim=*/0, /*descending=*/true);
    const std::int64_t keep = options_.top_k > 0 ? std::min<std::int64_t>(n, options_.top_k) : n;
    // Each candidate's weight as a fixed-point integer, 2^32 for the top one, so the cumulative mass is exact in any
    // order of addition: CUDA's 1-D float cumsum groups its additions by block timing (pytorch/pytorch#75240), and on
    // a flat distribution that moved a draw to a neighbouring id from run to run with the same seed. Weights below
    // 2^-32 of the top one are never drawn (float32's running sum dropped those below 2^-24 of itself); the mass,
    // at most 2^32 per candidate, stays below 2^53 for a vocabulary under 2^21 ids (GLM-4's has 151552), so the cut
    // and the draw's target are exact in double too.
    constexpr double kOne = 4294967296.0;
    const torch::Tensor mass = torch::cumsum(
        (torch::exp((sorted.narrow(0, 0, keep) - sorted[0]) / options_.temperature) * kOne).to(torch::kInt64), 0);
    const torch::Tensor total = mass.narrow(0, keep - 1, 1).to(torch::kFloat64);
    // The last candidate kept: the smallest prefix whose share of the mass reaches top_p (an integer m is below x
    // exactly when it is below ceil(x)); the top token always stays.
    torch::Tensor last = torch::full({1}, keep - 1, order.options());
    if (options_.top_p < 1.0)
        last = torch::minimum((mass < torch::ceil(total * options_.top_p).to(torch::kInt64)).sum().reshape({1}), last);
    // The first candidate whose cumulative mass passes u of the kept mass (m > x exactly when m > floor(x)): each is
    // drawn with its own share, and one whose weight rounded to zero never is.
    const torch::Tensor target = torch::floor(mass.index_select(0, last).to(torch::kFloat64) * u).to(torch::kInt64);
    const torch::Tensor at =
        torch::minimum(torch::searchsorted(mass, target, /*out_int32=*/false, /*right=*/true), last);
    return order.index_select(0, at).item<std::int64_t>();
}

} // namespace glm4v::engine::runtime
