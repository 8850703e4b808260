#include "engine/model/fused_prefill.h"

#include "engine/cuda/decode_ops.h"
#include "engine/cuda/prefill_ops.h"
#include "engine/model/layers.h"
#include "engine/runtime/kv_cache.h"

namespace glm4v::engine::model {

torch::Tensor language_forward_fused(const LanguageWeights& w, const io::LanguageConfig& c, const torch::Tensor& x,
                                     const torch::Tensor& positions, runtime::KvCache& cache) {
    const auto S = x.size(0), past = cache.length();
    cache.check_room(S);
    const auto rope = rope_table(positions.to(x.device()), c.rotary_dims(), c.rope_ratio, x.scalar_type());
    const auto mask = causal_mask(past, S, x.device());
    const auto row = torch::full({1}, past, torch::TensorOptions().dtype(torch::kInt64).device(x.device()));
    const double eps = c.layernorm_epsilon;
    torch::Tensor h = x.contiguous().clone(); // the residual stream, updated in place
    for (std::size_t i = 0; i < w.layers.size(); ++i) {
        const GlmLayerWeights& l = w.layers[i];
        const auto layer = static_cast<std::int64_t>(i);
        const auto qkv = l.query_key_value.forward(cuda::rms_norm_rows(h, l.input_layernorm_weight, eps));
        const auto q = cuda::rope_append(qkv, rope, row, cache.keys(layer), cache.values(layer), c.num_attention_heads)
                           .view({S, c.num_attention_heads, c.kv_channels});
        const auto keys = cache.keys(layer).narrow(1, 0, past + S), values = cache.values(layer).narrow(1, 0, past + S);
        const auto attended = attention(q.transpose(0, 1), keys, values, mask); // [heads, S, D]
        h.add_(l.dense.forward(attended.transpose(0, 1).reshape({S, c.q_size()})));
        const auto up = l.dense_h_to_4h.forward(cuda::rms_norm_rows(h, l.post_attention_layernorm_weight, eps));
        h.add_(l.dense_4h_to_h.forward(cuda::swiglu_rows(up)));
    }
    cache.commit(S);
    if (w.final_layernorm_weight.defined()) h = cuda::rms_norm_rows(h, w.final_layernorm_weight, eps);
    return h;
}

} // namespace glm4v::engine::model
