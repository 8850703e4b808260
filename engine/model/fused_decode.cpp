#include "engine/model/fused_decode.h"

#include "engine/cuda/decode_ops.h"
#include "engine/cuda/nf4_ops.h"
#include "engine/model/layers.h"
#include "engine/runtime/kv_cache.h"

namespace glm4v::engine::model {
namespace {

using Input = cuda::Nf4GemvOptions::Input;

bool gemv_ready(const quant::Linear& l) {
    return l.is_nf4() && l.device().is_cuda() && cuda::nf4_gemv_supports(l.nf4_weight());
}

// The up projection's product goes through SwiGLU in the GEMV's epilogue, which pairs its rows 8 at a time.
bool swiglu_gemv_ready(const quant::Linear& l) { return gemv_ready(l) && l.nf4_weight().out_features % 16 == 0; }

cuda::Nf4GemvOptions normed(const torch::Tensor& norm_weight, double eps, const quant::Linear& l) {
    cuda::Nf4GemvOptions o;
    o.input = Input::RmsNorm;
    o.norm_weight = norm_weight;
    o.eps = eps;
    o.bias = l.bias();
    return o;
}

// y = residual + l(x), written over the residual.
cuda::Nf4GemvOptions added_to(const torch::Tensor& residual, const quant::Linear& l) {
    cuda::Nf4GemvOptions o;
    o.bias = l.bias();
    o.residual = residual;
    o.out = residual;
    return o;
}

} // namespace

bool fused_decode_supported(const LanguageWeights& w, const io::LanguageConfig& c, torch::ScalarType dtype) {
    if (dtype != torch::kBFloat16 && dtype != torch::kFloat16) return false;
    if (!c.rmsnorm || c.apply_residual_connection_post_layernorm) return false;
    if (!cuda::decode_attention_supports(c.num_attention_heads, c.num_kv_groups, c.kv_channels, c.rotary_dims()))
        return false;
    if (!gemv_ready(w.output_layer)) return false;
    for (const GlmLayerWeights& l : w.layers)
        if (!gemv_ready(l.query_key_value) || !gemv_ready(l.dense) || !swiglu_gemv_ready(l.dense_h_to_4h) ||
            !gemv_ready(l.dense_4h_to_h))
            return false;
    return true;
}

torch::Tensor language_decode_step_fused(const LanguageWeights& w, const io::LanguageConfig& c, const torch::Tensor& x,
                                         const torch::Tensor& position, const torch::Tensor& row,
                                         runtime::KvCache& cache) {
    const auto rope = rope_table(position, c.rotary_dims(), c.rope_ratio, x.scalar_type());
    const torch::Tensor h = x.contiguous().clone(); // the residual stream, updated in place
    for (std::size_t i = 0; i < w.layers.size(); ++i) {
        const GlmLayerWeights& l = w.layers[i];
        const auto layer = static_cast<std::int64_t>(i);
        const auto qkv = cuda::nf4_gemv(h, l.query_key_value.nf4_weight(),
                                        normed(l.input_layernorm_weight, c.layernorm_epsilon, l.query_key_value));
        const auto q = cuda::rope_append(qkv, rope, row, cache.keys(layer), cache.values(layer), c.num_attention_heads);
        const auto attended = cuda::decode_attention(q, cache.keys(layer), cache.values(layer), row);
        cuda::nf4_gemv(attended, l.dense.nf4_weight(), added_to(h, l.dense));
        auto up = normed(l.post_attention_layernorm_weight, c.layernorm_epsilon, l.dense_h_to_4h);
        up.swiglu_output = true;
        const auto activated = cuda::nf4_gemv(h, l.dense_h_to_4h.nf4_weight(), up);
        cuda::nf4_gemv(activated, l.dense_4h_to_h.nf4_weight(), added_to(h, l.dense_4h_to_h));
    }
    cuda::Nf4GemvOptions head;
    if (w.final_layernorm_weight.defined()) head = normed(w.final_layernorm_weight, c.layernorm_epsilon, w.output_layer);
    return cuda::nf4_gemv(h, w.output_layer.nf4_weight(), head).to(torch::kFloat32);
}

} // namespace glm4v::engine::model
