// runtime::Sampler on logits that live on the GPU, as the decode step hands them over: the sort, the cumulative mass,
// the cut and the draw's search run there and only the drawn id comes back. The CPU cases (tests/engine/
// test_sampler.cpp) check the same rules on CPU tensors.
// libtorch first: its glog-style CHECK(cond) would otherwise replace Catch's and abort on failure.
#include <torch/types.h>
#undef CHECK
#include <catch2/catch.hpp>

#include "engine/runtime/sampler.h"

#include <torch/torch.h>

#include <set>
#include <vector>

using glm4v::engine::runtime::GenerationOptions;
using glm4v::engine::runtime::Sampler;

namespace {
GenerationOptions top_p_options(double top_p, std::uint64_t seed) {
    GenerationOptions o;
    o.temperature = 0.8;
    o.top_p = top_p;
    o.seed = seed;
    return o;
}

// The ids top-p keeps, from a full sort in double precision on the CPU, ties by id; with 1e-4 of mass to spare, since
// the sampler sums in single precision and may cut a few ids later on a flat distribution.
std::set<std::int64_t> kept_ids(const torch::Tensor& logits, double temperature, double top_p) {
    const auto [sorted, order] = torch::sort(logits.to(torch::kCPU, torch::kFloat64), /*stable=*/true, 0, true);
    const auto mass = torch::cumsum(torch::softmax(sorted / temperature, 0), 0);
    const std::int64_t cut = (mass < top_p + 1e-4).sum().item<std::int64_t>() + 1;
    const std::int64_t* ids = order.data_ptr<std::int64_t>();
    return {ids, ids + cut};
}
} // namespace

TEST_CASE("on the GPU, top-p draws only from the set a full sort keeps, and a seed repeats its draws",
          "[cuda][sampler]") {
    torch::manual_seed(11);
    const auto cuda = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
    // A vocabulary's worth of logits: spread (top-p 0.8 keeps about 5% of the ids) and nearly flat (a random model's,
    // or a high temperature's: it keeps about 78%). More spread than this, a few ids would hold 80% of the mass.
    for (const double scale : {2.0, 0.05}) {
        const torch::Tensor logits = torch::randn({151552}, cuda) * scale;
        const auto allowed = kept_ids(logits, 0.8, 0.8);
        INFO("scale " << scale << ", " << allowed.size() << " ids kept");
        Sampler first(top_p_options(0.8, 42)), again(top_p_options(0.8, 42));
        std::vector<std::int64_t> a, b;
        for (int i = 0; i < 300; ++i) {
            a.push_back(first.sample(logits, {}));
            b.push_back(again.sample(logits, {}));
        }
        CHECK(a == b);
        std::set<std::int64_t> drawn(a.begin(), a.end());
        for (const auto id : drawn) CHECK(allowed.count(id) == 1);
        CHECK(drawn.size() > 1);
    }
}
