#pragma once
// GLM-4V-9B loaded and placed: config, tokenizer, vision tower and language model weights on one device
// in one dtype. Immutable after load (but for one spare decode state), so any number of Chats may share it (one at a
// time computes).

#include <torch/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "engine/io/config.h"
#include "engine/model/language_model.h"
#include "engine/model/vision_tower.h"
#include "engine/model/weights.h"

namespace glm4v::engine::tokenizer {
class Tokenizer;
}

namespace glm4v::engine::model {

// How linear-layer weights are held. A checkpoint saved in bitsandbytes 4-bit is NF4 whatever is asked.
enum class WeightFormat { Dense, Nf4 };

struct LoadOptions {
    std::string device = "auto"; // "cpu", "cuda", "cuda:N", or "auto" (the GPU when there is one)
    // Default: bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU (DESIGN.md section 2).
    std::optional<torch::ScalarType> dtype;
    // Default: NF4 on a GPU (what makes the model fit consumer cards), dense on the CPU.
    std::optional<WeightFormat> weights;
    // Low-VRAM mode (a GPU of 6-8 GB): the vision tower's layers stay in host memory and stream to the GPU while an
    // image is encoded, 2.5 GB less on the GPU for a slower new image (docs/performance.md).
    bool low_vram = false;
    // Where the quantized cache file lives (model/quant_cache.h); empty: quantize on every load, write nothing.
    std::string cache_dir;
};

// fraction in [0, 1], and what is being done ("layer 12 of 40").
using LoadProgress = std::function<void(double fraction, const std::string& what)>;

class Glm4v {
public:
    // `dir` holds config.json, the tokenizer files and the safetensors weights.
    static std::shared_ptr<const Glm4v> load(const std::string& dir, const LoadOptions& options,
                                             const LoadProgress& progress = {});
    // A model of `config` whose weights come from `source` rather than a folder (the benchmarks' random
    // weights); options.cache_dir is not used.
    static std::shared_ptr<const Glm4v> from_source(io::ModelConfig config, std::unique_ptr<tokenizer::Tokenizer> tokenizer,
                                                    const WeightSource& source, const LoadOptions& options);
    ~Glm4v();

    const io::ModelConfig& config() const { return config_; }
    const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
    torch::Device device() const { return device_; }
    torch::ScalarType dtype() const { return dtype_; }
    WeightFormat weight_format() const { return weight_format_; }
    // The file(s) the weights were read from: the quantized cache file when one was used, else the model folder.
    const std::string& weights_source() const { return weights_source_; }
    bool has_vision() const { return config_.vision.has_value(); }
    const LanguageWeights& language() const { return language_; }
    const VisionWeights& vision() const { return vision_; }

    // pixel_values [3, S, S] (runtime/preprocess.h) -> [num_image_embeddings, hidden] in dtype().
    torch::Tensor encode_image(const torch::Tensor& pixel_values) const;
    // Identifies weights, dtype and device kind, so cached image embeddings are reused only when valid.
    const std::string& fingerprint() const { return fingerprint_; }

    // A finished conversation's decode state (runtime::Chat's KV cache and decode graph), kept for the next one, so
    // that it skips allocating the cache and capturing the graph. Opaque here; it lives no longer than the weights its
    // graph points into. The one mutable part of a model: take and keep are thread-safe.
    std::shared_ptr<void> take_spare_decoder() const;
    void keep_spare_decoder(std::shared_ptr<void> spare) const;

private:
    Glm4v() = default;
    void place_weights(const WeightSource& source, WeightRecord* record,
                       const std::function<void(const std::string& name)>& on_tensor);
    io::ModelConfig config_;
    std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
    torch::Device device_ = torch::kCPU;
    torch::ScalarType dtype_ = torch::kFloat32;
    WeightFormat weight_format_ = WeightFormat::Dense;
    bool low_vram_ = false;
    std::string weights_source_;
    LanguageWeights language_;
    VisionWeights vision_;
    std::string fingerprint_;
    mutable std::mutex spare_mutex_;
    mutable std::shared_ptr<void> spare_decoder_; // the last member: destroyed before the weights
};

// Resolves LoadOptions::device ("auto", "cuda", ...) to a device, with a clear error when asked for a
// GPU that is not there.
torch::Device resolve_device(const std::string& name);
torch::ScalarType default_dtype(const torch::Device& device);

} // namespace glm4v::engine::model
