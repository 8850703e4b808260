#include "engine/model/vision_tower.h"

#include "engine/error.h"
#include "engine/model/layers.h"
#include "engine/model/weights.h"

namespace glm4v::engine::model {

VisionWeights load_vision_weights(const io::ModelConfig& config, const WeightPlacement& place) {
    GLM4V_CHECK(config.vision.has_value(), ErrorKind::ModelCorrupt) << "config.json has no vision_config";
    const io::VisionConfig& v = *config.vision;
    const std::int64_t H = v.hidden_size, F = v.intermediate_size, P = v.patch_size;
    const std::int64_t LH = config.language.hidden_size, LF = config.language.ffn_hidden_size;
    const std::string vis = "transformer.vision.";

    VisionWeights w;
    w.patch_weight       = place.tensor(vis + "patch_embedding.proj.weight", {H, v.in_channels, P, P});
    w.patch_bias         = place.tensor(vis + "patch_embedding.proj.bias", {H});
    w.cls_embedding      = place.tensor(vis + "patch_embedding.cls_embedding", {1, H});
    w.position_embedding = place.tensor(vis + "patch_embedding.position_embedding.weight", {v.num_positions, H});
    const WeightPlacement layer_place = place.vision_layers_on_host ? place.on_host() : place;
    for (std::int64_t i = 0; i < v.num_hidden_layers; ++i) {
        const std::string p = vis + "transformer.layers." + std::to_string(i) + ".";
        VisionLayerWeights l;
        l.input_layernorm_weight          = layer_place.tensor(p + "input_layernorm.weight", {H});
        l.input_layernorm_bias            = layer_place.tensor(p + "input_layernorm.bias", {H});
        l.query_key_value                 = layer_place.linear(p + "attention.query_key_value", 3 * H, H, true);
        l.dense                           = layer_place.linear(p + "attention.dense", H, H, true);
        l.post_attention_layernorm_weight = layer_place.tensor(p + "post_attention_layernorm.weight", {H});
        l.post_attention_layernorm_bias   = layer_place.tensor(p + "post_attention_layernorm.bias", {H});
        l.fc1                             = layer_place.linear(p + "mlp.fc1", F, H, true);
        l.fc2                             = layer_place.linear(p + "mlp.fc2", H, F, true);
        w.layers.push_back(std::move(l));
    }
    w.conv_weight   = place.tensor(vis + "conv.weight", {LH, H, 2, 2});
    w.conv_bias     = place.tensor(vis + "conv.bias", {LH});
    w.linear_proj   = place.linear(vis + "linear_proj.linear_proj", LH, LH, false);
    w.norm1_weight  = place.tensor(vis + "linear_proj.norm1.weight", {LH});
    w.norm1_bias    = place.tensor(vis + "linear_proj.norm1.bias", {LH});
    w.gate_proj     = place.linear(vis + "linear_proj.gate_proj", LF, LH, false);
    w.dense_h_to_4h = place.linear(vis + "linear_proj.dense_h_to_4h", LF, LH, false);
    w.dense_4h_to_h = place.linear(vis + "linear_proj.dense_4h_to_h", LH, LF, false);
    w.boi           = place.tensor(vis + "boi", {1, 1, LH});
    w.eoi           = place.tensor(vis + "eoi", {1, 1, LH});
    return w;
}

namespace {
VisionLayerWeights layer_to(const VisionLayerWeights& l, const torch::Device& device) {
    VisionLayerWeights d;
    d.input_layernorm_weight = l.input_layernorm_weight.to(device);
    d.input_layernorm_bias = l.input_layernorm_bias.to(device);
    d.query_key_value = l.query_key_value.to(device);
    d.dense = l.dense.to(device);
    d.post_attention_layernorm_weight = l.post_attention_layernorm_weight.to(device);
    d.post_attention_layernorm_bias = l.post_attention_layernorm_bias.to(device);
    d.fc1 = l.fc1.to(device);
    d.fc2 = l.fc2.to(device);
    return d;
}

torch::Tensor vision_attention(const VisionLayerWeights& l, const io::VisionConfig& v, const torch::Tensor& x) {
    const auto L = x.size(0);
    const auto qkv = l.query_key_value.forward(x).view({L, 3, v.num_heads, -1}).permute({1, 2, 0, 3}); // [3, h, L, d]
    const auto out = attention(qkv[0], qkv[1], qkv[2], {});                                            // [h, L, d]
    return l.dense.forward(out.transpose(0, 1).reshape({L, -1}));                                      // [L, H]
}
} // namespace

torch::Tensor vision_forward(const VisionWeights& w, const io::VisionConfig& v, const torch::Tensor& pixel_values) {
    GLM4V_CHECK(pixel_values.dim() == 3 && pixel_values.size(0) == v.in_channels &&
                    pixel_values.size(1) == v.image_size && pixel_values.size(2) == v.image_size,
                ErrorKind::InvalidInput)
        << "pixel values of shape " << pixel_values.sizes() << ", expected [" << v.in_channels << ", "
        << v.image_size << ", " << v.image_size << "]";
    // Inputs take the dtype the vision weights have at run time (DESIGN.md section 2), never an assumed one.
    const auto images = pixel_values.to(w.patch_weight.device(), w.patch_weight.scalar_type()).unsqueeze(0);

    auto x = torch::conv2d(images, w.patch_weight, w.patch_bias, {v.patch_size, v.patch_size}); // [1, H, g, g]
    x = x.flatten(2).transpose(1, 2).squeeze(0);                                          // [g*g, H]
    x = torch::cat(std::vector<torch::Tensor>{w.cls_embedding, x}, 0) + w.position_embedding;                       // [1 + g*g, H]

    for (const auto& held : w.layers) {
        // Low-VRAM mode holds the layers in host memory: this one comes over now and goes when the next does.
        const VisionLayerWeights l = held.fc1.device() == x.device() ? held : layer_to(held, x.device());
        // EVA2-CLIP is post-norm: the norms apply to each branch's output, not its input.
        x = x + layer_norm(vision_attention(l, v, x), l.input_layernorm_weight, l.input_layernorm_bias,
                           v.layer_norm_eps);
        x = x + layer_norm(l.fc2.forward(torch::gelu(l.fc1.forward(x))), l.post_attention_layernorm_weight,
                           l.post_attention_layernorm_bias, v.layer_norm_eps);
    }

    const auto g = v.grid_size();
    x = x.narrow(0, 1, g * g).view({g, g, -1}).permute({2, 0, 1}).unsqueeze(0); // drop CLS: [1, H, g, g]
    x = torch::conv2d(x, w.conv_weight, w.conv_bias, {2, 2});                  // [1, LH, g/2, g/2]
    x = x.flatten(2).transpose(1, 2).squeeze(0);                                 // [(g/2)^2, LH]

    x = w.linear_proj.forward(x);
    x = torch::gelu(layer_norm(x, w.norm1_weight, w.norm1_bias, 1e-5)); // nn.LayerNorm's default eps
    x = w.dense_4h_to_h.forward(torch::silu(w.gate_proj.forward(x)) * w.dense_h_to_4h.forward(x));

    x = torch::cat(std::vector<torch::Tensor>{w.boi.view({1, -1}), x, w.eoi.view({1, -1})}, 0); // [2 + (g/2)^2, LH]
    return x / v.scaling_factor;
}

} // namespace glm4v::engine::model
