#pragma once
// EVA2-CLIP-E and the GLU projector of GLM-4V (DESIGN.md section 2): pixels in, 2 + (grid/2)^2
// embeddings of the language model's width out (boi, the patches, eoi), divided by scaling_factor.

#include <torch/types.h>

#include <functional>
#include <vector>

#include "engine/io/config.h"
#include "engine/quant/linear.h"

namespace glm4v::engine::model {

struct WeightPlacement; // defined in weights.h

struct VisionLayerWeights {
    torch::Tensor input_layernorm_weight, input_layernorm_bias;
    quant::Linear query_key_value, dense; // attention
    torch::Tensor post_attention_layernorm_weight, post_attention_layernorm_bias;
    quant::Linear fc1, fc2; // mlp
};

struct VisionWeights {
    torch::Tensor patch_weight, patch_bias; // conv [hidden, in_ch, patch, patch]
    torch::Tensor cls_embedding;            // [1, hidden]
    torch::Tensor position_embedding;       // [num_positions, hidden]
    std::vector<VisionLayerWeights> layers;
    torch::Tensor conv_weight, conv_bias;   // 2x2 stride-2 downsampling, vision hidden -> language hidden
    quant::Linear linear_proj;              // GLU projector
    torch::Tensor norm1_weight, norm1_bias;
    quant::Linear gate_proj, dense_h_to_4h, dense_4h_to_h;
    torch::Tensor boi, eoi; // [1, 1, language hidden]
};

VisionWeights load_vision_weights(const io::ModelConfig& config, const WeightPlacement& placement);

// pixel_values [3, image_size, image_size], any float dtype -> [num_image_embeddings, language hidden],
// in the dtype of the vision weights.
torch::Tensor vision_forward(const VisionWeights& w, const io::VisionConfig& config, const torch::Tensor& pixel_values);

} // namespace glm4v::engine::model
