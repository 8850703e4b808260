#pragma once
// GLM-4's decoder (DESIGN.md section 2): pre-norm blocks, grouped-query attention with rotary
// embedding on half of each head, SwiGLU MLP, untied output layer.

#include <torch/types.h>

#include <vector>

#include "engine/io/config.h"
#include "engine/quant/linear.h"

namespace glm4v::engine::runtime {
class KvCache;
}

namespace glm4v::engine::model {

struct WeightPlacement;

struct GlmLayerWeights {
    torch::Tensor input_layernorm_weight, input_layernorm_bias; // bias only without rmsnorm
    quant::Linear query_key_value, dense;
    torch::Tensor post_attention_layernorm_weight, post_attention_layernorm_bias;
    quant::Linear dense_h_to_4h, dense_4h_to_h;
};

struct LanguageWeights {
    torch::Tensor word_embeddings; // [vocab, hidden]
    std::vector<GlmLayerWeights> layers;
    torch::Tensor final_layernorm_weight, final_layernorm_bias;
    quant::Linear output_layer;
};

LanguageWeights load_language_weights(const io::ModelConfig& config, const WeightPlacement& placement);

// [S] -> [S, hidden] on device (the table may live in host memory: WeightPlacement::embeddings_on_host).
torch::Tensor embed_tokens(const LanguageWeights& w, const torch::Tensor& ids, const torch::Device& device);

// x [S, hidden] at rope positions [S] (int64), appended after the cache's rows; attention is causal over
// the cache plus these rows. Returns the final hidden states [S, hidden]; the cache holds the new rows
// (committed) when it returns.
torch::Tensor language_forward(const LanguageWeights& w, const io::LanguageConfig& config, const torch::Tensor& x,
                               const torch::Tensor& positions, runtime::KvCache& cache);

// Which cache rows each of `rows` new rows after `past` sees: row i sees rows 0..past + i ([rows, past + rows] bool).
// One new row sees everything: undefined (no mask).
torch::Tensor causal_mask(std::int64_t past, std::int64_t rows, const torch::Device& device);

// One decoded token in shapes that never change, so that a CUDA graph can replay it: x [1, hidden] at rope
// position `position` and cache row `row` (int64 device tensors [1]). Its key and value go to row `row` (not
// committed); attention spans the cache's whole capacity with the rows after `row` masked off, and each key/value
// group serves its query heads without being copied per head. Returns the logits [1, vocab] in fp32.
torch::Tensor language_decode_step(const LanguageWeights& w, const io::LanguageConfig& config, const torch::Tensor& x,
                                   const torch::Tensor& position, const torch::Tensor& row, runtime::KvCache& cache);

torch::Tensor language_logits(const LanguageWeights& w, const torch::Tensor& hidden); // -> [S, vocab] fp32

} // namespace glm4v::engine::model
