// runtime::Chat on the GPU with the fused kernels, in a small model of GLM-4V-9B's attention geometry: a conversation
// prefills through the fused prefill and decodes through the graph; the next conversation on the same model takes
// over the finished one's KV cache and decode graph (Glm4v::keep_spare_decoder) and must answer exactly as it did.
// Needs GLM4V_SOURCE_DIR (the real config to shrink) and GLM4V_GOLDEN_DIR (a tokenizer), which ctest and
// tools/gpu_check.sh set.
// libtorch first: its glog-style CHECK(cond) would otherwise replace Catch's and abort on failure.
#include <torch/types.h>
#undef CHECK
#include <catch2/catch.hpp>

#include "engine/io/config.h"
#include "engine/model/glm4v.h"
#include "engine/model/weights.h"
#include "engine/runtime/chat.h"
#include "engine/tokenizer/tokenizer.h"

#include <torch/torch.h>

#include <cstdlib>
#include <string>

namespace engine = glm4v::engine;

namespace {

// Norms at one, everything else N(0, 0.05), drawn from a fixed seed.
class SeededWeights : public engine::model::WeightSource {
public:
    torch::Tensor get(const std::string& name, torch::IntArrayRef shape) const override {
        const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
        const bool norm = name.find("norm") != std::string::npos;
        return norm ? torch::ones(shape, f32) : torch::randn(shape, f32) * 0.05;
    }
    torch::Tensor find(const std::string&) const override { return {}; }
};

std::string env(const char* name) {
    const char* v = std::getenv(name);
    INFO(name << " must be set (ctest and tools/gpu_check.sh set it)");
    REQUIRE(v != nullptr);
    return v;
}

std::shared_ptr<const engine::model::Glm4v> small_model() {
    engine::io::ModelConfig config =
        engine::io::read_model_config(env("GLM4V_SOURCE_DIR") + "/bench/gpu/glm4v-9b-config.json");
    config.vision.reset(); // a text model: the language side is what the fused kernels run
    config.language.num_layers = 2;
    config.language.hidden_size = 512;
    config.language.ffn_hidden_size = 1024;
    config.language.seq_length = 640;
    torch::manual_seed(31);
    engine::model::LoadOptions load;
    load.device = "cuda";
    load.dtype = torch::kBFloat16;
    load.weights = engine::model::WeightFormat::Nf4;
    return engine::model::Glm4v::from_source(
        config, engine::tokenizer::load_tokenizer(env("GLM4V_GOLDEN_DIR") + "/tiny-a/model"), SeededWeights(), load);
}

} // namespace

TEST_CASE("a new conversation takes over the last one's KV cache and decode graph and answers the same",
          "[cuda][chat]") {
    const auto model = small_model();
    engine::runtime::GenerationOptions greedy;
    greedy.temperature = 0;
    greedy.max_new_tokens = 12;
    greedy.ignore_eos = true;
    std::vector<std::int64_t> first, follow_up;
    {
        engine::runtime::Chat chat(model);
        first = chat.ask("Describe a red bicycle in one sentence.", greedy, {}).token_ids;
        follow_up = chat.ask("And a blue one?", greedy, {}).token_ids;
    }
    REQUIRE(first.size() == 12);
    const auto spare = model->take_spare_decoder();
    REQUIRE(spare != nullptr); // the finished conversation left its decode state
    model->keep_spare_decoder(spare);

    engine::runtime::Chat chat(model);
    CHECK(chat.ask("Describe a red bicycle in one sentence.", greedy, {}).token_ids == first);
    CHECK(model->take_spare_decoder() == nullptr); // this conversation holds it now
    CHECK(chat.ask("And a blue one?", greedy, {}).token_ids == follow_up);
}
