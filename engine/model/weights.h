#pragma once
// Where loaded weights go and in what form; the loaders in vision_tower.cpp and language_model.cpp
// spell each Hugging Face tensor name once and ask these helpers for the tensor.

#include <torch/types.h>

#include <functional>
#include <string>

#include "engine/quant/linear.h"

namespace glm4v::engine::io {
class Checkpoint;
}

namespace glm4v::engine::model {

struct WeightPlacement {
    const io::Checkpoint* checkpoint = nullptr;
    torch::Device device = torch::kCPU;
    torch::ScalarType dtype = torch::kFloat32;
    // Turns a named [out, in] weight (already on device, in dtype) and its bias into a Linear; the
    // default keeps it dense. NF4 loading plugs in here.
    std::function<quant::Linear(const std::string& name, torch::Tensor weight, torch::Tensor bias)> make_linear;
    // Called after each tensor is placed, for load progress.
    std::function<void(const std::string& name)> on_tensor;

    // The tensor `name`, checked against `shape`, on device in dtype. Throws ModelCorrupt naming it.
    torch::Tensor tensor(const std::string& name, torch::IntArrayRef shape) const;
    // A linear layer `prefix`.weight [out, in] with `prefix`.bias when has_bias.
    quant::Linear linear(const std::string& prefix, std::int64_t out, std::int64_t in, bool has_bias) const;
};

} // namespace glm4v::engine::model
