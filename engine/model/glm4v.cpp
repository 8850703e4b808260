#include "engine/model/glm4v.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/log.h"
#include "engine/model/quant_cache.h"
#include "engine/model/weights.h"
#include "engine/tokenizer/tokenizer.h"

namespace glm4v::engine::model {
namespace fs = std::filesystem;

namespace {
std::uint64_t fnv1a(std::uint64_t h, const std::string& bytes) {
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
    return h;
}

std::string make_fingerprint(const std::string& config_path, const io::Checkpoint& ck, torch::ScalarType dtype,
                             const torch::Device& device, WeightFormat format) {
    std::ostringstream key;
    std::ifstream config(config_path, std::ios::binary);
    key << config.rdbuf();
    for (const auto& file : ck.files()) key << '|' << fs::path(file).filename().string() << ':' << fs::file_size(file);
    key << '|' << c10::toString(dtype) << '|' << (device.is_cuda() ? "cuda" : "cpu");
    if (format == WeightFormat::Nf4) key << "|nf4";
    std::ostringstream hex;
    hex << std::hex << fnv1a(1469598103934665603ull, key.str());
    return hex.str();
}

// Tensors a load places one by one: bitsandbytes' side tensors (absmax, quant_map, ...) go with their weight.
std::size_t placed_tensor_count(const io::Checkpoint& ck) {
    std::size_t n = 0;
    for (const std::string& name : ck.names())
        if (name.find(".weight.") == std::string::npos) ++n;
    return std::max<std::size_t>(n, 1);
}

bool stored_in_4bit(const io::Checkpoint& ck) {
    for (const std::string& name : ck.names())
        if (name.find(".quant_state.bitsandbytes__") != std::string::npos) return true;
    return false;
}

// The quantized cache for this source, when it exists and opens; a damaged one is removed (and rewritten).
std::optional<io::Checkpoint> open_quant_cache(const std::string& path) {
    if (!fs::exists(path)) return std::nullopt;
    try {
        return io::Checkpoint::open(path);
    } catch (const Error& e) {
        log_warn("Glm4v::load: removing the damaged quantized cache ", path, ": ", e.what());
        std::error_code ec;
        fs::remove(path, ec);
        return std::nullopt;
    }
}
} // namespace

Glm4v::~Glm4v() = default;

std::shared_ptr<void> Glm4v::take_spare_decoder() const {
    const std::lock_guard<std::mutex> lock(spare_mutex_);
    return std::move(spare_decoder_);
}

void Glm4v::keep_spare_decoder(std::shared_ptr<void> spare) const {
    const std::lock_guard<std::mutex> lock(spare_mutex_);
    spare_decoder_ = std::move(spare);
}

std::shared_ptr<const Glm4v> Glm4v::load(const std::string& dir, const LoadOptions& options,
                                         const LoadProgress& progress) {
    c10::InferenceMode inference;
    GLM4V_CHECK(fs::is_directory(dir), ErrorKind::ModelMissing) << "model folder not found: " << dir;
    std::shared_ptr<Glm4v> m(new Glm4v());
    const std::string config_path = (fs::path(dir) / "config.json").string();
    GLM4V_CHECK(fs::exists(config_path), ErrorKind::ModelMissing) << "no config.json in " << dir;
    m->config_ = io::read_model_config(config_path);
    m->tokenizer_ = tokenizer::load_tokenizer(dir);
    m->device_ = resolve_device(options.device);
    m->dtype_ = options.dtype.value_or(default_dtype(m->device_));
    m->low_vram_ = options.low_vram;

    const io::Checkpoint checkpoint = io::Checkpoint::open(dir);
    const bool stored_4bit = stored_in_4bit(checkpoint);
    m->weight_format_ = stored_4bit ? WeightFormat::Nf4
                                    : options.weights.value_or(m->device_.is_cuda() ? WeightFormat::Nf4 : WeightFormat::Dense);
    const bool nf4 = m->weight_format_ == WeightFormat::Nf4;
    const std::string cache_path =
        nf4 && !stored_4bit && !options.cache_dir.empty() ? quant_cache_path(options.cache_dir, dir, checkpoint) : "";
    std::optional<io::Checkpoint> cached = cache_path.empty() ? std::nullopt : open_quant_cache(cache_path);
    log_info("Glm4v::load: ", dir, " on ", m->device_.str(), " in ", c10::toString(m->dtype_), nf4 ? ", NF4" : "",
             cached ? " from " + cache_path : std::string());

    // Loading maps to [0, share] of the progress bar; writing a new cache file takes the rest.
    const bool write_cache = !cache_path.empty() && !cached;
    const double share = write_cache ? 0.8 : 1.0;
    const auto load_from = [&](const io::Checkpoint& ck, WeightRecord* record) {
        const double total = static_cast<double>(placed_tensor_count(ck));
        std::size_t placed = 0;
        m->place_weights(CheckpointSource(ck), record, [&](const std::string& name) {
            ++placed;
            if (progress) progress(share * std::min(1.0, placed / total), (nf4 && !cached ? "quantizing " : "loading ") + name);
        });
    };
    WeightRecord record;
    if (cached) {
        try {
            load_from(*cached, nullptr);
            m->weights_source_ = cache_path;
        } catch (const Error& e) {
            // Readable but not what this version expects: quantize again from the source.
            log_warn("Glm4v::load: the quantized cache ", cache_path, " does not fit this model (", e.what(), "); rebuilding it");
            cached.reset();
            std::error_code ec;
            fs::remove(cache_path, ec);
        }
    }
    if (!cached) {
        load_from(checkpoint, cache_path.empty() ? nullptr : &record);
        m->weights_source_ = dir;
        if (!cache_path.empty()) {
            try {
                write_quant_cache(cache_path, record, [&](double f) {
                    if (progress) progress(share + (1.0 - share) * f, "writing the quantized cache");
                });
                log_info("Glm4v::load: wrote the quantized cache ", cache_path);
            } catch (const Error& e) {
                // A full disk costs the next start a re-quantization, not this one its model.
                log_warn("Glm4v::load: could not write the quantized cache (", e.what(), "); the next start quantizes again");
            }
            record.clear();
        }
    }
    m->fingerprint_ = make_fingerprint(config_path, checkpoint, m->dtype_, m->device_, m->weight_format_);
    if (progress) progress(1.0, "ready");
    return m;
}

void Glm4v::place_weights(const WeightSource& source, WeightRecord* record,
                          const std::function<void(const std::string& name)>& on_tensor) {
    const bool nf4 = weight_format_ == WeightFormat::Nf4;
    WeightPlacement place;
    place.source = &source;
    place.device = device_;
    place.dtype = dtype_;
    place.quantize_nf4 = nf4;
    place.embeddings_on_host = nf4 && device_.is_cuda();
    place.vision_layers_on_host = low_vram_ && device_.is_cuda();
    place.record = record;
    place.on_tensor = on_tensor;
    language_ = load_language_weights(config_, place);
    if (config_.vision) vision_ = load_vision_weights(config_, place);
}

std::shared_ptr<const Glm4v> Glm4v::from_source(io::ModelConfig config, std::unique_ptr<tokenizer::Tokenizer> tokenizer,
                                                const WeightSource& source, const LoadOptions& options) {
    c10::InferenceMode inference;
    std::shared_ptr<Glm4v> m(new Glm4v());
    m->config_ = std::move(config);
    m->tokenizer_ = std::move(tokenizer);
    m->device_ = resolve_device(options.device);
    m->dtype_ = options.dtype.value_or(default_dtype(m->device_));
    m->weight_format_ = options.weights.value_or(m->device_.is_cuda() ? WeightFormat::Nf4 : WeightFormat::Dense);
    m->low_vram_ = options.low_vram;
    m->place_weights(source, nullptr, {});
    m->weights_source_ = "generated";
    m->fingerprint_ = "generated";
    return m;
}

torch::Tensor Glm4v::encode_image(const torch::Tensor& pixel_values) const {
    GLM4V_CHECK(has_vision(), ErrorKind::Unsupported) << "this model has no vision tower";
    c10::InferenceMode inference;
    return vision_forward(vision_, *config_.vision, pixel_values);
}

} // namespace glm4v::engine::model
