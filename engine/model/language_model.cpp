#include "engine/model/language_model.h"

#include "engine/error.h"
#include "engine/model/layers.h"
#include "engine/model/weights.h"
#include "engine/runtime/kv_cache.h"

namespace glm4v::engine::model {

LanguageWeights load_language_weights(const io::ModelConfig& config, const WeightPlacement& place) {
    const io::LanguageConfig& c = config.language;
    const std::int64_t H = c.hidden_size, F = c.ffn_hidden_size;
    const bool qkv_bias = c.add_qkv_bias || c.add_bias_linear;
    const std::string lm = "transformer.";

    LanguageWeights w;
    const std::string embeddings = lm + "embedding.word_embeddings.weight";
    w.word_embeddings = place.embeddings_on_host ? place.host(embeddings, {c.padded_vocab_size, H})
                                                 : place.tensor(embeddings, {c.padded_vocab_size, H});
    for (std::int64_t i = 0; i < c.num_layers; ++i) {
        const std::string p = lm + "encoder.layers." + std::to_string(i) + ".";
        GlmLayerWeights l;
        l.input_layernorm_weight          = place.tensor(p + "input_layernorm.weight", {H});
        l.query_key_value                 = place.linear(p + "self_attention.query_key_value", c.q_size() + 2 * c.kv_size(), H, qkv_bias);
        l.dense                           = place.linear(p + "self_attention.dense", H, c.q_size(), c.add_bias_linear);
        l.post_attention_layernorm_weight = place.tensor(p + "post_attention_layernorm.weight", {H});
        l.dense_h_to_4h                   = place.linear(p + "mlp.dense_h_to_4h", 2 * F, H, c.add_bias_linear);
        l.dense_4h_to_h                   = place.linear(p + "mlp.dense_4h_to_h", H, F, c.add_bias_linear);
        if (!c.rmsnorm) {
            l.input_layernorm_bias          = place.tensor(p + "input_layernorm.bias", {H});
            l.post_attention_layernorm_bias = place.tensor(p + "post_attention_layernorm.bias", {H});
        }
        w.layers.push_back(std::move(l));
    }
    if (c.post_layer_norm) {
        w.final_layernorm_weight = place.tensor(lm + "encoder.final_layernorm.weight", {H});
        if (!c.rmsnorm) w.final_layernorm_bias = place.tensor(lm + "encoder.final_layernorm.bias", {H});
    }
    w.output_layer = place.linear(lm + "output_layer", c.padded_vocab_size, H, false);
    return w;
}

torch::Tensor embed_tokens(const LanguageWeights& w, const torch::Tensor& ids, const torch::Device& device) {
    return torch::embedding(w.word_embeddings, ids.to(w.word_embeddings.device())).to(device);
}

namespace {
torch::Tensor norm(const io::LanguageConfig& c, const torch::Tensor& x, const torch::Tensor& weight,
                   const torch::Tensor& bias) {
    return c.rmsnorm ? rms_norm(x, weight, c.layernorm_epsilon) : layer_norm(x, weight, bias, c.layernorm_epsilon);
}

torch::Tensor self_attention(const GlmLayerWeights& l, const io::LanguageConfig& c, std::int64_t layer,
                             const torch::Tensor& x, const torch::Tensor& rope, const torch::Tensor& mask,
                             runtime::KvCache& cache) {
    const auto S = x.size(0), D = c.kv_channels;
    const auto qkv = l.query_key_value.forward(x); // [S, q + 2 kv]
    auto q = qkv.narrow(1, 0, c.q_size()).view({S, c.num_attention_heads, D});
    auto k = qkv.narrow(1, c.q_size(), c.kv_size()).view({S, c.num_kv_groups, D});
    const auto v = qkv.narrow(1, c.q_size() + c.kv_size(), c.kv_size()).view({S, c.num_kv_groups, D});
    q = apply_rope(q, rope);
    k = apply_rope(k, rope);
    const auto [keys, values] = cache.append(layer, k, v); // [groups, T, D]
    const auto out = attention(q.transpose(0, 1), keys, values, mask); // [heads, S, D]
    return l.dense.forward(out.transpose(0, 1).reshape({S, c.q_size()}));
}
} // namespace

torch::Tensor causal_mask(std::int64_t past, std::int64_t rows, const torch::Device& device) {
    if (rows == 1) return {};
    const auto opts = torch::TensorOptions().dtype(torch::kInt64).device(device);
    return torch::arange(past + rows, opts).unsqueeze(0) <= (torch::arange(rows, opts) + past).unsqueeze(1);
}

torch::Tensor language_forward(const LanguageWeights& w, const io::LanguageConfig& c, const torch::Tensor& x,
                               const torch::Tensor& positions, runtime::KvCache& cache) {
    const auto S = x.size(0);
    const auto past = cache.length();
    const auto rope = rope_table(positions.to(x.device()), c.rotary_dims(), c.rope_ratio, x.scalar_type());
    const auto mask = causal_mask(past, S, x.device());

    auto h = x;
    for (std::size_t i = 0; i < w.layers.size(); ++i) {
        const GlmLayerWeights& l = w.layers[i];
        const auto normed = norm(c, h, l.input_layernorm_weight, l.input_layernorm_bias);
        const auto attn = self_attention(l, c, static_cast<std::int64_t>(i), normed, rope, mask, cache);
        h = (c.apply_residual_connection_post_layernorm ? normed : h) + attn;
        const auto normed2 = norm(c, h, l.post_attention_layernorm_weight, l.post_attention_layernorm_bias);
        const auto mlp = l.dense_4h_to_h.forward(swiglu(l.dense_h_to_4h.forward(normed2)));
        h = (c.apply_residual_connection_post_layernorm ? normed2 : h) + mlp;
    }
    cache.commit(S);
    if (w.final_layernorm_weight.defined()) h = norm(c, h, w.final_layernorm_weight, w.final_layernorm_bias);
    return h;
}

torch::Tensor language_decode_step(const LanguageWeights& w, const io::LanguageConfig& c, const torch::Tensor& x,
                                   const torch::Tensor& position, const torch::Tensor& row, runtime::KvCache& cache) {
    const auto D = c.kv_channels, G = c.num_kv_groups, per_group = c.num_attention_heads / c.num_kv_groups;
    const auto rope = rope_table(position, c.rotary_dims(), c.rope_ratio, x.scalar_type());
    const auto capacity = cache.capacity();
    const auto visible = (torch::arange(capacity, row.options()) <= row).view({1, 1, 1, capacity});
    auto h = x;
    for (std::size_t i = 0; i < w.layers.size(); ++i) {
        const GlmLayerWeights& l = w.layers[i];
        const auto layer = static_cast<std::int64_t>(i);
        const auto normed = norm(c, h, l.input_layernorm_weight, l.input_layernorm_bias);
        const auto qkv = l.query_key_value.forward(normed);
        const auto q = apply_rope(qkv.narrow(1, 0, c.q_size()).view({1, c.num_attention_heads, D}), rope);
        const auto k = apply_rope(qkv.narrow(1, c.q_size(), c.kv_size()).view({1, G, D}), rope);
        const auto v = qkv.narrow(1, c.q_size() + c.kv_size(), c.kv_size()).view({1, G, D});
        cache.keys(layer).index_copy_(1, row, k.transpose(0, 1));
        cache.values(layer).index_copy_(1, row, v.transpose(0, 1));
        // A group's query heads are consecutive: as rows of one query block they share its keys.
        const auto out = torch::scaled_dot_product_attention(q.view({1, G, per_group, D}), cache.keys(layer).unsqueeze(0),
                                                             cache.values(layer).unsqueeze(0), visible);
        h = (c.apply_residual_connection_post_layernorm ? normed : h) + l.dense.forward(out.reshape({1, c.q_size()}));
        const auto normed2 = norm(c, h, l.post_attention_layernorm_weight, l.post_attention_layernorm_bias);
        const auto mlp = l.dense_4h_to_h.forward(swiglu(l.dense_h_to_4h.forward(normed2)));
        h = (c.apply_residual_connection_post_layernorm ? normed2 : h) + mlp;
    }
    if (w.final_layernorm_weight.defined()) h = norm(c, h, w.final_layernorm_weight, w.final_layernorm_bias);
    return language_logits(w, h);
}

torch::Tensor language_logits(const LanguageWeights& w, const torch::Tensor& hidden) {
    return w.output_layer.forward(hidden).to(torch::kFloat32);
}

} // namespace glm4v::engine::model
