#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "engine/error.h"
#include "engine/runtime/sampler.h"

using glm4v::engine::runtime::GenerationOptions;
using glm4v::engine::runtime::Sampler;

namespace {
GenerationOptions with(double temperature, double top_p = 1.0, int top_k = 0, double penalty = 1.0) {
    GenerationOptions o;
    o.temperature = temperature;
    o.top_p = top_p;
    o.top_k = top_k;
    o.repetition_penalty = penalty;
    o.seed = 7;
    return o;
}
} // namespace

TEST_CASE("temperature 0 picks the largest logit", "[sampler]") {
    const auto logits = torch::tensor({0.1f, 2.5f, -1.0f, 2.4f});
    Sampler s(with(0));
    CHECK(s.sample(logits, {}) == 1);
}

TEST_CASE("top-k 1 and a tiny top-p both reduce sampling to the top token", "[sampler]") {
    const auto logits = torch::randn({1000}, torch::TensorOptions().dtype(torch::kFloat32));
    const auto best = logits.argmax().item<std::int64_t>();
    Sampler k1(with(1.0, 1.0, 1)), p0(with(1.0, 1e-6));
    for (int i = 0; i < 50; ++i) {
        CHECK(k1.sample(logits, {}) == best);
        CHECK(p0.sample(logits, {}) == best);
    }
}

TEST_CASE("sampling follows the softmax of logits over temperature", "[sampler]") {
    // p(0) / p(1) = exp((ln 3 - 0) / 1) = 3
    const auto logits = torch::tensor({std::log(3.0f), 0.0f, -1e9f});
    Sampler s(with(1.0));
    std::map<std::int64_t, int> counts;
    for (int i = 0; i < 20000; ++i) ++counts[s.sample(logits, {})];
    CHECK(counts[2] == 0);
    CHECK(double(counts[0]) / 20000 == Approx(0.75).margin(0.015));
}

TEST_CASE("top-p draws only from the smallest prefix of the sorted logits whose mass reaches it", "[sampler]") {
    torch::manual_seed(3);
    const auto logits = torch::randn({20000}) * 4;
    const auto [sorted, order] = torch::sort(logits.to(torch::kFloat64), /*stable=*/true, 0, /*descending=*/true);
    const std::int64_t cut = (torch::cumsum(torch::softmax(sorted, 0), 0) < 0.9).sum().item<std::int64_t>() + 1;
    REQUIRE(cut > 1);
    const std::int64_t* ids = order.data_ptr<std::int64_t>();
    const std::set<std::int64_t> allowed(ids, ids + cut);
    Sampler s(with(1.0, 0.9));
    std::set<std::int64_t> drawn;
    for (int i = 0; i < 2000; ++i) {
        const auto id = s.sample(logits, {});
        CHECK(allowed.count(id) == 1);
        drawn.insert(id);
    }
    CHECK(drawn.size() > 1);
}

TEST_CASE("among tied logits top-p and top-k keep the lowest ids, however many that takes", "[sampler]") {
    // 5000 equal logits: top-p 0.7 keeps ids 0..3499 (one more where rounding leaves the mass a hair short), more
    // than the sampler's first candidates; top-k 3 keeps ids 0..2.
    const auto flat = torch::zeros({5000});
    Sampler by_p(with(1.0, 0.7)), by_k(with(1.0, 1.0, 3));
    std::set<std::int64_t> from_p, from_k;
    for (int i = 0; i < 3000; ++i) {
        from_p.insert(by_p.sample(flat, {}));
        from_k.insert(by_k.sample(flat, {}));
    }
    CHECK(*from_p.rbegin() <= 3500);
    CHECK(*from_p.rbegin() >= 3000);
    CHECK(from_p.size() > 1500);
    CHECK(from_k == std::set<std::int64_t>{0, 1, 2});
}

TEST_CASE("the repetition penalty lowers tokens already said", "[sampler]") {
    const auto logits = torch::tensor({2.0f, 1.9f, -0.5f});
    Sampler plain(with(0)), penalized(with(0, 1.0, 0, 1.2));
    CHECK(plain.sample(logits, {0}) == 0);
    CHECK(penalized.sample(logits, {0}) == 1); // 2.0 / 1.2 < 1.9
}

TEST_CASE("out-of-range generation options are refused", "[sampler]") {
    CHECK_THROWS_AS(Sampler(with(-1)), glm4v::engine::Error);
    CHECK_THROWS_AS(Sampler(with(1, 0)), glm4v::engine::Error);
    CHECK_THROWS_AS(Sampler(with(1, 1, -2)), glm4v::engine::Error);
    CHECK_THROWS_AS(Sampler(with(1, 1, 0, 0)), glm4v::engine::Error);
}
