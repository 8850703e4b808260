#pragma once
// Where loaded weights go and in what form. The loaders in vision_tower.cpp and language_model.cpp spell each
// Hugging Face tensor name once and ask these helpers for it; the helpers read it from a WeightSource, move it
// to the device, and make linear layers dense or NF4 (DESIGN.md section 3):
//   - a layer stored by transformers + bitsandbytes in 4-bit (`<prefix>.weight.quant_state.bitsandbytes__nf4`
//     beside it) is taken as it is, whatever was asked;
//   - otherwise, with quantize_nf4, its weight is quantized as it loads, on the GPU when the device is one;
//   - otherwise it stays dense in the compute dtype.
// Every tensor placed is also noted in `record` when one is given, in bitsandbytes' layout, which is what the
// quantized cache file holds (model/quant_cache.h).

#include <torch/types.h>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/quant/linear.h"

namespace glm4v::engine::io {
class Checkpoint;
}

namespace glm4v::engine::model {

class WeightSource {
public:
    virtual ~WeightSource() = default;
    // The tensor `name` as stored (any device, any float dtype), of exactly `shape`. Throws ModelCorrupt naming it.
    virtual torch::Tensor get(const std::string& name, torch::IntArrayRef shape) const = 0;
    // A tensor whose shape is not known in advance (bitsandbytes' quantization state), undefined when absent.
    virtual torch::Tensor find(const std::string& name) const = 0;
};

// Zero-copy views of a checkpoint's memory-mapped tensors.
class CheckpointSource : public WeightSource {
public:
    explicit CheckpointSource(const io::Checkpoint& checkpoint) : checkpoint_(checkpoint) {}
    torch::Tensor get(const std::string& name, torch::IntArrayRef shape) const override;
    torch::Tensor find(const std::string& name) const override;

private:
    const io::Checkpoint& checkpoint_;
};

// (name, tensor) in load order, as a bitsandbytes 4-bit checkpoint would name and shape them.
using WeightRecord = std::vector<std::pair<std::string, torch::Tensor>>;

struct WeightPlacement {
    const WeightSource* source = nullptr;
    torch::Device device = torch::kCPU;
    torch::ScalarType dtype = torch::kFloat32;
    bool quantize_nf4 = false;
    // The token embedding table (1.2 GB in bf16) stays in host memory: a lookup reads a few rows per token, and
    // on an 8 GB card the GPU memory is worth more than the microseconds of copying them over.
    bool embeddings_on_host = false;
    // Low-VRAM mode: the vision tower's 63 layers (2.5 GB in NF4) live in pinned host memory and are streamed to
    // the GPU a layer at a time while an image is encoded (vision_forward); they are still quantized on the GPU.
    bool vision_layers_on_host = false;
    WeightRecord* record = nullptr;
    // Called after each tensor is placed, for load progress.
    std::function<void(const std::string& name)> on_tensor;

    // The tensor `name`, checked against `shape`, on device in dtype.
    torch::Tensor tensor(const std::string& name, torch::IntArrayRef shape) const;
    // The same, kept in host memory (in dtype): for tables read a row at a time, like the token embeddings.
    torch::Tensor host(const std::string& name, torch::IntArrayRef shape) const;
    // A linear layer `prefix`.weight [out, in] with `prefix`.bias when has_bias.
    quant::Linear linear(const std::string& prefix, std::int64_t out, std::int64_t in, bool has_bias) const;
    // The same placement, but storing in pinned host memory what it would put on the GPU (quantizing still there).
    WeightPlacement on_host() const;

private:
    std::optional<torch::Device> quantize_device; // default `device`; the GPU for layers held on the host
    bool pin = false;

    torch::Tensor place(const std::string& name, torch::IntArrayRef shape, torch::Device where) const;
    quant::Nf4Weight stored_nf4(const std::string& weight_name, const torch::Tensor& state, std::int64_t out,
                                std::int64_t in) const;
    void note(const std::string& name, const torch::Tensor& stored) const;
    void note_nf4(const std::string& weight_name, const quant::Nf4Weight& w) const;
};

} // namespace glm4v::engine::model
