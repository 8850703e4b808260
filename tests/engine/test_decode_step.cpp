// The fixed-shape decode step (what a CUDA graph replays on a GPU) against the general forward pass, on the
// golden tiny model on the CPU: same logits, same keys and values in the cache, token after token.
#include <catch2/catch.hpp>

#include "engine/model/glm4v.h"
#include "engine/model/language_model.h"
#include "engine/runtime/kv_cache.h"
#include "tests/support/test_support.h"

using namespace glm4v::engine;

TEST_CASE("the fixed-shape decode step matches the general forward pass", "[model][decode]") {
    c10::InferenceMode inference;
    const auto dirs = glm4v::test::golden_case_dirs();
    REQUIRE_FALSE(dirs.empty());
    model::LoadOptions options;
    options.device = "cpu";
    const auto m = model::Glm4v::load((dirs.front() / "model").string(), options);
    const auto& c = m->config().language;
    torch::manual_seed(5);

    const auto make_cache = [&] {
        return runtime::KvCache(c.num_layers, 32, c.num_kv_groups, c.kv_channels, torch::TensorOptions().dtype(torch::kFloat32));
    };
    runtime::KvCache general = make_cache(), fixed = make_cache();
    const torch::Tensor prompt = torch::randn({7, c.hidden_size});
    const torch::Tensor prompt_positions = torch::arange(7, torch::kInt64);
    model::language_forward(m->language(), c, prompt, prompt_positions, general);
    model::language_forward(m->language(), c, prompt, prompt_positions, fixed);

    for (int step = 0; step < 4; ++step) {
        INFO("step " << step);
        const torch::Tensor x = torch::randn({1, c.hidden_size});
        const std::int64_t position = 9 + step; // positions run ahead of rows after an image
        const auto want = model::language_logits(
            m->language(), model::language_forward(m->language(), c, x, torch::tensor({position}), general));
        const auto got = model::language_decode_step(m->language(), c, x, torch::tensor({position}),
                                                     torch::tensor({fixed.length()}), fixed);
        fixed.commit(1);
        REQUIRE(got.sizes() == want.sizes());
        const double err = (got - want).norm().item<double>() / want.norm().item<double>();
        CHECK(err < 1e-5);
        for (std::int64_t layer = 0; layer < c.num_layers; ++layer) {
            const auto rows = general.length();
            CHECK(torch::allclose(fixed.keys(layer).narrow(1, 0, rows), general.keys(layer).narrow(1, 0, rows), 1e-5, 1e-6));
            CHECK(torch::allclose(fixed.values(layer).narrow(1, 0, rows), general.values(layer).narrow(1, 0, rows), 1e-5, 1e-6));
        }
    }
}
