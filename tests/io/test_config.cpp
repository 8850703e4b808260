// config.json into ModelConfig: the golden configs against their own JSON, ChatGLMConfig's defaults for
// absent keys, and one clear error per missing or mistyped key.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "engine/io/config.h"
#include "tests/io/io_test_support.h"
#include "tests/support/test_support.h"

namespace fs = std::filesystem;
using glm4v::engine::ErrorKind;
using glm4v::engine::io::ModelConfig;
using glm4v::engine::io::parse_model_config;
using glm4v::engine::io::read_model_config;
using nlohmann::json;

namespace {
// The real GLM-4V-9B's vision_config (DESIGN.md section 2), with the token ids a vision model needs.
json real_vision_model() {
    return json{
        {"boi_token_id", 151339},
        {"eoi_token_id", 151340},
        {"vision_config",
         {{"hidden_size", 1792},
          {"num_heads", 16},
          {"num_hidden_layers", 63},
          {"intermediate_size", 15360},
          {"patch_size", 14},
          {"image_size", 1120},
          {"in_channels", 3},
          {"num_positions", 6401},
          {"layer_norm_eps", 1e-6},
          {"scaling_factor", 8},
          {"hidden_act", "gelu"}}},
    };
}

ModelConfig parse(const json& j) {
    return parse_model_config(j.dump(), "config.json");
}

glm4v::engine::Error parse_error(const json& j) {
    return glm4v::test::error_from([&] { parse(j); });
}
} // namespace

TEST_CASE("every golden config.json reads as its own JSON says", "[io][config][golden]") {
    const auto cases = glm4v::test::golden_case_dirs();
    REQUIRE_FALSE(cases.empty());
    for (const fs::path& case_dir : cases) {
        const fs::path path = case_dir / "model" / "config.json";
        INFO(path.string());
        const json j = json::parse(glm4v::test::read_file(path));
        const ModelConfig cfg = read_model_config(path.string());
        const auto& lm = cfg.language;
        CHECK(lm.num_layers == j.value("num_layers", 28));
        CHECK(lm.hidden_size == j.value("hidden_size", 4096));
        CHECK(lm.ffn_hidden_size == j.value("ffn_hidden_size", 13696));
        CHECK(lm.kv_channels == j.value("kv_channels", 128));
        CHECK(lm.num_attention_heads == j.value("num_attention_heads", 32));
        CHECK(lm.num_kv_groups ==
              (j.value("multi_query_attention", false) ? j.value("multi_query_group_num", 1) : lm.num_attention_heads));
        CHECK(lm.padded_vocab_size == j.value("padded_vocab_size", 65024));
        CHECK(lm.seq_length == j.value("seq_length", 2048));
        CHECK(lm.layernorm_epsilon == j.value("layernorm_epsilon", 1e-5));
        CHECK(lm.rope_ratio == j.value("rope_ratio", 1.0));
        CHECK(lm.rmsnorm == j.value("rmsnorm", true));
        CHECK(lm.add_qkv_bias == j.value("add_qkv_bias", false));
        CHECK(lm.add_bias_linear == j.value("add_bias_linear", false));
        CHECK(cfg.boi_token_id == j.at("boi_token_id").get<std::int64_t>());
        CHECK(cfg.eoi_token_id == j.at("eoi_token_id").get<std::int64_t>());
        const json eos = j.at("eos_token_id");
        CHECK(cfg.eos_token_ids == (eos.is_array() ? eos.get<std::vector<std::int64_t>>()
                                                   : std::vector<std::int64_t>{eos.get<std::int64_t>()}));
        CHECK(cfg.torch_dtype == j.value("torch_dtype", ""));

        REQUIRE(cfg.vision.has_value());
        const json& v = j.at("vision_config");
        CHECK(cfg.vision->hidden_size == v.at("hidden_size").get<std::int64_t>());
        CHECK(cfg.vision->num_heads == v.at("num_heads").get<std::int64_t>());
        CHECK(cfg.vision->num_hidden_layers == v.at("num_hidden_layers").get<std::int64_t>());
        CHECK(cfg.vision->intermediate_size == v.at("intermediate_size").get<std::int64_t>());
        CHECK(cfg.vision->patch_size == v.at("patch_size").get<std::int64_t>());
        CHECK(cfg.vision->image_size == v.at("image_size").get<std::int64_t>());
        CHECK(cfg.vision->num_positions == v.at("num_positions").get<std::int64_t>());
        CHECK(cfg.vision->layer_norm_eps == v.at("layer_norm_eps").get<double>());
        CHECK(cfg.vision->scaling_factor == v.at("scaling_factor").get<double>());
        const std::int64_t grid = v.at("image_size").get<std::int64_t>() / v.at("patch_size").get<std::int64_t>();
        CHECK(cfg.vision->num_image_embeddings() == (grid / 2) * (grid / 2) + 2);
    }
}

TEST_CASE("the real GLM-4V-9B vision config gives 1602 image embeddings", "[io][config]") {
    const ModelConfig cfg = parse(real_vision_model());
    REQUIRE(cfg.vision.has_value());
    CHECK(cfg.vision->grid_size() == 80);
    CHECK(cfg.vision->num_image_embeddings() == 1602);
}

TEST_CASE("absent keys take ChatGLMConfig's defaults", "[io][config]") {
    const ModelConfig cfg = parse(json::object());
    const auto& lm = cfg.language;
    CHECK(lm.num_layers == 28);
    CHECK(lm.hidden_size == 4096);
    CHECK(lm.ffn_hidden_size == 13696);
    CHECK(lm.kv_channels == 128);
    CHECK(lm.num_attention_heads == 32);
    CHECK(lm.num_kv_groups == 32); // multi_query_attention defaults to false: one group per head
    CHECK(lm.padded_vocab_size == 65024);
    CHECK(lm.seq_length == 2048);
    CHECK(lm.layernorm_epsilon == 1e-5);
    CHECK(lm.rope_ratio == 1.0);
    CHECK(lm.rmsnorm);
    CHECK(lm.post_layer_norm);
    CHECK_FALSE(lm.add_bias_linear);
    CHECK_FALSE(lm.add_qkv_bias);
    CHECK_FALSE(lm.apply_residual_connection_post_layernorm);
    CHECK(cfg.eos_token_ids.empty());
    CHECK_FALSE(cfg.vision.has_value());

    SECTION("multi_query_group_num counts only with multi_query_attention") {
        CHECK(parse(json{{"multi_query_group_num", 2}}).language.num_kv_groups == 32);
        CHECK(parse(json{{"multi_query_attention", true}, {"multi_query_group_num", 2}}).language.num_kv_groups == 2);
        CHECK(parse(json{{"multi_query_attention", true}}).language.num_kv_groups == 1);
    }
    SECTION("null counts as absent") {
        CHECK(parse(json{{"rope_ratio", nullptr}, {"eos_token_id", nullptr}, {"vision_config", nullptr}})
                  .language.rope_ratio == 1.0);
    }
    SECTION("one eos id is a list of one") {
        CHECK(parse(json{{"eos_token_id", 5}}).eos_token_ids == std::vector<std::int64_t>{5});
    }
    SECTION("vision in_channels and hidden_act have defaults") {
        json j = real_vision_model();
        j["vision_config"].erase("in_channels");
        j["vision_config"].erase("hidden_act");
        const ModelConfig v = parse(j);
        CHECK(v.vision->in_channels == 3);
        CHECK(v.vision->hidden_act == "gelu");
    }
}

TEST_CASE("each missing required vision key is named in the error", "[io][config]") {
    const auto key = GENERATE(as<std::string>{}, "hidden_size", "num_heads", "num_hidden_layers", "intermediate_size",
                              "patch_size", "image_size", "num_positions", "layer_norm_eps", "scaling_factor");
    json j = real_vision_model();
    j["vision_config"].erase(key);
    const auto e = parse_error(j);
    INFO(e.what());
    CHECK(e.kind() == ErrorKind::ModelCorrupt);
    CHECK_THAT(e.what(), Catch::Contains("config.json vision_config: missing '" + key + "'"));
}

TEST_CASE("each wrongly typed or impossible value is named in the error", "[io][config]") {
    struct Case {
        const char* name;
        json patch; // merged into the real vision model's config
        ErrorKind kind;
        const char* says;
    };
    const Case cases[] = {
        {"an integer given as a string",
         {{"num_layers", "2"}},
         ErrorKind::ModelCorrupt,
         "'num_layers' is not an integer"},
        {"an integer given as a fraction",
         {{"hidden_size", 64.5}},
         ErrorKind::ModelCorrupt,
         "'hidden_size' is not an integer"},
        {"an integer past INT64_MAX",
         {{"seq_length", 18446744073709551615ull}},
         ErrorKind::ModelCorrupt,
         "'seq_length' is out of range"},
        {"a negative size", {{"hidden_size", -64}}, ErrorKind::ModelCorrupt, "'hidden_size' must be positive, not -64"},
        {"a zero size", {{"num_layers", 0}}, ErrorKind::ModelCorrupt, "'num_layers' must be positive, not 0"},
        {"an implausibly large size",
         {{"padded_vocab_size", 1ll << 40}},
         ErrorKind::ModelCorrupt,
         "'padded_vocab_size' is implausibly large"},
        {"a zero kv_channels", {{"kv_channels", 0}}, ErrorKind::ModelCorrupt, "'kv_channels' must be positive"},
        {"a head size the rotary embedding cannot split",
         {{"kv_channels", 18}},
         ErrorKind::Unsupported,
         "kv_channels 18 must be a multiple of 4"},
        {"a boolean given as a number", {{"rmsnorm", 1}}, ErrorKind::ModelCorrupt, "'rmsnorm' is not true/false"},
        {"a number given as a string",
         {{"layernorm_epsilon", "1e-5"}},
         ErrorKind::ModelCorrupt,
         "'layernorm_epsilon' is not a number"},
        {"a string given as a number", {{"torch_dtype", 16}}, ErrorKind::ModelCorrupt, "'torch_dtype' is not a string"},
        {"eos ids given as a string",
         {{"eos_token_id", "</s>"}},
         ErrorKind::ModelCorrupt,
         "'eos_token_id' is not an id or a list of ids"},
        {"eos ids holding a string",
         {{"eos_token_id", {1, "2"}}},
         ErrorKind::ModelCorrupt,
         "'eos_token_id' holds a non-id"},
        {"heads that do not divide into groups",
         {{"multi_query_attention", true}, {"multi_query_group_num", 3}},
         ErrorKind::ModelCorrupt,
         "is not a multiple of multi_query_group_num 3"},
        {"a non-positive epsilon",
         {{"layernorm_epsilon", 0}},
         ErrorKind::ModelCorrupt,
         "layernorm_epsilon must be > 0"},
        {"vision_config as a list",
         {{"vision_config", {1, 2}}},
         ErrorKind::ModelCorrupt,
         "vision_config is not an object"},
        {"a vision size as a string",
         {{"vision_config", {{"patch_size", "14"}}}},
         ErrorKind::ModelCorrupt,
         "vision_config: 'patch_size' is not an integer"},
        {"vision heads that do not divide the width",
         {{"vision_config", {{"num_heads", 15}}}},
         ErrorKind::ModelCorrupt,
         "vision hidden_size 1792 is not a multiple of num_heads 15"},
        {"an image that is not whole patches",
         {{"vision_config", {{"image_size", 1121}}}},
         ErrorKind::ModelCorrupt,
         "must be an even number of patches"},
        {"position embeddings for another grid",
         {{"vision_config", {{"num_positions", 6400}}}},
         ErrorKind::ModelCorrupt,
         "num_positions 6400 should be 6401"},
        {"an activation other than gelu",
         {{"vision_config", {{"hidden_act", "relu"}}}},
         ErrorKind::Unsupported,
         "hidden_act 'relu' is not supported"},
        {"a zero scaling factor",
         {{"vision_config", {{"scaling_factor", 0}}}},
         ErrorKind::ModelCorrupt,
         "scaling_factor is 0"},
        {"a vision model without boi",
         {{"boi_token_id", nullptr}},
         ErrorKind::ModelCorrupt,
         "a vision model needs boi_token_id and eoi_token_id"},
    };
    for (const Case& c : cases) {
        SECTION(c.name) {
            json j = real_vision_model();
            j.merge_patch(c.patch);
            const auto e = parse_error(j);
            INFO(e.what());
            CHECK(e.kind() == c.kind);
            CHECK_THAT(e.what(), Catch::Contains(c.says) && Catch::Contains("config.json"));
        }
    }
}

TEST_CASE("config.json that is not a JSON object is refused", "[io][config]") {
    const auto not_json = glm4v::test::error_from([] { parse_model_config("{\"num_layers\": ", "config.json"); });
    CHECK(not_json.kind() == ErrorKind::ModelCorrupt);
    CHECK_THAT(not_json.what(), Catch::Contains("config.json is not valid JSON"));
    const auto list = glm4v::test::error_from([] { parse_model_config("[1]", "config.json"); });
    CHECK(list.kind() == ErrorKind::ModelCorrupt);
    CHECK_THAT(list.what(), Catch::Contains("config.json is not a JSON object"));
}

TEST_CASE("a missing config.json is a missing model and a folder in its place an I/O error", "[io][config]") {
    const glm4v::test::ScratchDir dir;
    const auto missing = glm4v::test::error_from([&] { read_model_config((dir / "config.json").string()); });
    CHECK(missing.kind() == ErrorKind::ModelMissing);
    CHECK_THAT(missing.what(), Catch::Contains((dir / "config.json").string()));
    fs::create_directory(dir / "config.json");
    const auto folder = glm4v::test::error_from([&] { read_model_config((dir / "config.json").string()); });
    CHECK(folder.kind() == ErrorKind::Io);
    CHECK_THAT(folder.what(), Catch::Contains("not a regular file"));
}
