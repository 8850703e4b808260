#include "engine/io/config.h"

#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/error.h"

namespace glm4v::engine::io {
using nlohmann::json;

namespace {
constexpr std::int64_t kMaxSize = std::numeric_limits<std::int32_t>::max();

class Reader {
public:
    Reader(const json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

    template <typename T> void optional(const char* key, T& out) const {
        if (!obj_.contains(key) || obj_[key].is_null()) return;
        out = get<T>(key);
    }
    template <typename T> void required(const char* key, T& out) const {
        GLM4V_CHECK(obj_.contains(key) && !obj_[key].is_null(), ErrorKind::ModelCorrupt)
            << where_ << ": missing '" << key << "'";
        out = get<T>(key);
    }
    // Sizes are positive and below 2^31: no real model comes near, and products of two sizes (grid_size^2,
    // heads * head size) then cannot overflow int64.
    void positive(const char* key, std::int64_t value) const {
        GLM4V_CHECK(value > 0, ErrorKind::ModelCorrupt)
            << where_ << ": '" << key << "' must be positive, not " << value;
        GLM4V_CHECK(value <= kMaxSize, ErrorKind::ModelCorrupt)
            << where_ << ": '" << key << "' is implausibly large (" << value << ")";
    }

private:
    template <typename T> T get(const char* key) const {
        const json& v = obj_[key];
        if constexpr (std::is_same_v<T, bool>) {
            GLM4V_CHECK(v.is_boolean(), ErrorKind::ModelCorrupt) << where_ << ": '" << key << "' is not true/false";
        } else if constexpr (std::is_integral_v<T>) {
            GLM4V_CHECK(v.is_number_integer(), ErrorKind::ModelCorrupt)
                << where_ << ": '" << key << "' is not an integer";
            // nlohmann keeps non-negative integers unsigned; one past INT64_MAX would wrap to a negative size.
            GLM4V_CHECK(!v.is_number_unsigned() ||
                            v.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max()),
                        ErrorKind::ModelCorrupt)
                << where_ << ": '" << key << "' is out of range";
        } else if constexpr (std::is_floating_point_v<T>) {
            GLM4V_CHECK(v.is_number(), ErrorKind::ModelCorrupt) << where_ << ": '" << key << "' is not a number";
        } else {
            GLM4V_CHECK(v.is_string(), ErrorKind::ModelCorrupt) << where_ << ": '" << key << "' is not a string";
        }
        return v.get<T>();
    }
    const json& obj_;
    std::string where_;
};

std::vector<std::int64_t> read_id_list(const json& v, const std::string& where) {
    std::vector<std::int64_t> ids;
    if (v.is_number_integer())
        ids.push_back(v.get<std::int64_t>());
    else {
        GLM4V_CHECK(v.is_array(), ErrorKind::ModelCorrupt) << where << ": 'eos_token_id' is not an id or a list of ids";
        for (const json& id : v) {
            GLM4V_CHECK(id.is_number_integer(), ErrorKind::ModelCorrupt) << where << ": 'eos_token_id' holds a non-id";
            ids.push_back(id.get<std::int64_t>());
        }
    }
    return ids;
}
} // namespace

ModelConfig parse_model_config(const std::string& json_text, const std::string& source_name) {
    json root;
    try {
        root = json::parse(json_text);
    } catch (const json::exception& e) {
        GLM4V_FAIL(ErrorKind::ModelCorrupt) << source_name << " is not valid JSON (" << e.what() << ")";
    }
    GLM4V_CHECK(root.is_object(), ErrorKind::ModelCorrupt) << source_name << " is not a JSON object";

    ModelConfig cfg;
    LanguageConfig& lm = cfg.language;
    const Reader r(root, source_name);
    r.optional("num_layers", lm.num_layers);
    r.optional("hidden_size", lm.hidden_size);
    r.optional("ffn_hidden_size", lm.ffn_hidden_size);
    r.optional("kv_channels", lm.kv_channels);
    r.optional("num_attention_heads", lm.num_attention_heads);
    r.optional("padded_vocab_size", lm.padded_vocab_size);
    r.optional("seq_length", lm.seq_length);
    r.optional("layernorm_epsilon", lm.layernorm_epsilon);
    r.optional("rope_ratio", lm.rope_ratio);
    r.optional("rmsnorm", lm.rmsnorm);
    r.optional("add_bias_linear", lm.add_bias_linear);
    r.optional("add_qkv_bias", lm.add_qkv_bias);
    r.optional("post_layer_norm", lm.post_layer_norm);
    r.optional("apply_residual_connection_post_layernorm", lm.apply_residual_connection_post_layernorm);
    bool multi_query = false;
    r.optional("multi_query_attention", multi_query);
    std::int64_t groups = 1;
    r.optional("multi_query_group_num", groups);

    r.positive("num_layers", lm.num_layers);
    r.positive("hidden_size", lm.hidden_size);
    r.positive("ffn_hidden_size", lm.ffn_hidden_size);
    r.positive("num_attention_heads", lm.num_attention_heads);
    r.positive("padded_vocab_size", lm.padded_vocab_size);
    r.positive("seq_length", lm.seq_length);
    // kv_channels is the head size whatever hidden_size is: ChatGLM projects to heads x kv_channels.
    r.positive("kv_channels", lm.kv_channels);
    GLM4V_CHECK(lm.kv_channels % 4 == 0, ErrorKind::Unsupported)
        << source_name << ": kv_channels " << lm.kv_channels << " must be a multiple of 4 for the rotary embedding";
    lm.num_kv_groups = multi_query ? groups : lm.num_attention_heads;
    GLM4V_CHECK(lm.num_kv_groups > 0 && lm.num_attention_heads % lm.num_kv_groups == 0, ErrorKind::ModelCorrupt)
        << source_name << ": num_attention_heads " << lm.num_attention_heads
        << " is not a multiple of multi_query_group_num " << lm.num_kv_groups;
    GLM4V_CHECK(lm.layernorm_epsilon > 0, ErrorKind::ModelCorrupt) << source_name << ": layernorm_epsilon must be > 0";
    GLM4V_CHECK(lm.rope_ratio > 0, ErrorKind::ModelCorrupt) << source_name << ": rope_ratio must be > 0";

    if (root.contains("eos_token_id") && !root["eos_token_id"].is_null())
        cfg.eos_token_ids = read_id_list(root["eos_token_id"], source_name);
    r.optional("pad_token_id", cfg.pad_token_id);
    r.optional("boi_token_id", cfg.boi_token_id);
    r.optional("eoi_token_id", cfg.eoi_token_id);
    r.optional("torch_dtype", cfg.torch_dtype);

    if (root.contains("vision_config") && !root["vision_config"].is_null()) {
        GLM4V_CHECK(root["vision_config"].is_object(), ErrorKind::ModelCorrupt)
            << source_name << ": vision_config is not an object";
        VisionConfig v;
        const Reader vr(root["vision_config"], source_name + " vision_config");
        vr.required("hidden_size", v.hidden_size);
        vr.required("num_heads", v.num_heads);
        vr.required("num_hidden_layers", v.num_hidden_layers);
        vr.required("intermediate_size", v.intermediate_size);
        vr.required("patch_size", v.patch_size);
        vr.required("image_size", v.image_size);
        vr.optional("in_channels", v.in_channels);
        vr.required("num_positions", v.num_positions);
        vr.required("layer_norm_eps", v.layer_norm_eps);
        vr.required("scaling_factor", v.scaling_factor);
        vr.optional("hidden_act", v.hidden_act);
        vr.positive("hidden_size", v.hidden_size);
        vr.positive("num_heads", v.num_heads);
        vr.positive("num_hidden_layers", v.num_hidden_layers);
        vr.positive("in_channels", v.in_channels);
        vr.positive("intermediate_size", v.intermediate_size);
        vr.positive("patch_size", v.patch_size);
        vr.positive("image_size", v.image_size);
        GLM4V_CHECK(v.hidden_size % v.num_heads == 0, ErrorKind::ModelCorrupt)
            << source_name << ": vision hidden_size " << v.hidden_size << " is not a multiple of num_heads "
            << v.num_heads;
        GLM4V_CHECK(v.image_size % v.patch_size == 0 && v.grid_size() % 2 == 0, ErrorKind::ModelCorrupt)
            << source_name << ": vision image_size " << v.image_size << " must be an even number of patches of "
            << v.patch_size;
        GLM4V_CHECK(v.num_positions == v.grid_size() * v.grid_size() + 1, ErrorKind::ModelCorrupt)
            << source_name << ": vision num_positions " << v.num_positions << " should be "
            << v.grid_size() * v.grid_size() + 1 << " for image_size " << v.image_size << " and patch_size "
            << v.patch_size;
        GLM4V_CHECK(v.hidden_act == "gelu", ErrorKind::Unsupported)
            << source_name << ": vision hidden_act '" << v.hidden_act << "' is not supported (only gelu)";
        GLM4V_CHECK(v.scaling_factor != 0, ErrorKind::ModelCorrupt) << source_name << ": scaling_factor is 0";
        GLM4V_CHECK(v.layer_norm_eps > 0, ErrorKind::ModelCorrupt)
            << source_name << ": vision layer_norm_eps must be > 0";
        GLM4V_CHECK(cfg.boi_token_id >= 0 && cfg.eoi_token_id >= 0, ErrorKind::ModelCorrupt)
            << source_name << ": a vision model needs boi_token_id and eoi_token_id";
        cfg.vision = v;
    }
    return cfg;
}

ModelConfig read_model_config(const std::string& path) {
    std::error_code ec;
    GLM4V_CHECK(std::filesystem::exists(path, ec), ErrorKind::ModelMissing) << "file not found: " << path;
    GLM4V_CHECK(std::filesystem::is_regular_file(path, ec), ErrorKind::Io) << "not a regular file: " << path;
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    GLM4V_CHECK(in.good() || in.eof(), ErrorKind::Io) << "cannot read " << path;
    return parse_model_config(text.str(), path);
}

} // namespace glm4v::engine::io
