#pragma once
// config.json of a GLM-4V checkpoint, read into typed structs. Defaults are the reference
// implementation's (ChatGLMConfig); the vision part has no defaults there, so its keys are required.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace glm4v::engine::io {

struct LanguageConfig {
    std::int64_t num_layers = 28;
    std::int64_t hidden_size = 4096;
    std::int64_t ffn_hidden_size = 13696;
    std::int64_t kv_channels = 128; // head size
    std::int64_t num_attention_heads = 32;
    std::int64_t num_kv_groups = 1; // multi_query_group_num, or num_attention_heads without MQA
    std::int64_t padded_vocab_size = 65024;
    std::int64_t seq_length = 2048;
    double layernorm_epsilon = 1e-5;
    double rope_ratio = 1.0;
    bool rmsnorm = true;
    bool add_bias_linear = false;
    bool add_qkv_bias = false;
    bool post_layer_norm = true;
    bool apply_residual_connection_post_layernorm = false;

    std::int64_t q_size() const { return num_attention_heads * kv_channels; }
    std::int64_t kv_size() const { return num_kv_groups * kv_channels; }
    std::int64_t rotary_dims() const { return kv_channels / 2; } // rotary on the first half of each head
};

struct VisionConfig {
    std::int64_t hidden_size = 0;
    std::int64_t num_heads = 0;
    std::int64_t num_hidden_layers = 0;
    std::int64_t intermediate_size = 0;
    std::int64_t patch_size = 0;
    std::int64_t image_size = 0;
    std::int64_t in_channels = 3;
    std::int64_t num_positions = 0;
    double layer_norm_eps = 1e-6;
    double scaling_factor = 1.0;
    std::string hidden_act = "gelu";

    std::int64_t grid_size() const { return image_size / patch_size; }                              // patches per side
    std::int64_t num_image_embeddings() const { return (grid_size() / 2) * (grid_size() / 2) + 2; } // + boi, eoi
};

struct ModelConfig {
    LanguageConfig language;
    std::optional<VisionConfig> vision;
    std::vector<std::int64_t> eos_token_ids;
    std::int64_t boi_token_id = -1;
    std::int64_t eoi_token_id = -1;
    std::int64_t pad_token_id = -1;
    std::string torch_dtype; // as saved, e.g. "bfloat16"
};

// Throws ModelMissing when the file is absent and ModelCorrupt naming the key when a value is wrong.
ModelConfig read_model_config(const std::string& path);
ModelConfig parse_model_config(const std::string& json_text, const std::string& source_name);

} // namespace glm4v::engine::io
