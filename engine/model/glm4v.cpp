#include "engine/model/glm4v.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/log.h"
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
                             const torch::Device& device) {
    std::ostringstream key;
    std::ifstream config(config_path, std::ios::binary);
    key << config.rdbuf();
    for (const auto& file : ck.files()) key << '|' << fs::path(file).filename().string() << ':' << fs::file_size(file);
    key << '|' << c10::toString(dtype) << '|' << (device.is_cuda() ? "cuda" : "cpu");
    std::ostringstream hex;
    hex << std::hex << fnv1a(1469598103934665603ull, key.str());
    return hex.str();
}
} // namespace

Glm4v::~Glm4v() = default;

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

    const io::Checkpoint checkpoint = io::Checkpoint::open(dir);
    const double total = static_cast<double>(checkpoint.names().size());
    std::size_t placed = 0;
    WeightPlacement place;
    place.checkpoint = &checkpoint;
    place.device = m->device_;
    place.dtype = m->dtype_;
    place.on_tensor = [&](const std::string& name) {
        ++placed;
        if (progress) progress(placed / total, name);
    };
    log_info("Glm4v::load: ", dir, " on ", m->device_.str(), " in ", c10::toString(m->dtype_));
    m->language_ = load_language_weights(m->config_, place);
    if (m->config_.vision) m->vision_ = load_vision_weights(m->config_, place);
    m->fingerprint_ = make_fingerprint(config_path, checkpoint, m->dtype_, m->device_);
    if (progress) progress(1.0, "ready");
    return m;
}

torch::Tensor Glm4v::encode_image(const torch::Tensor& pixel_values) const {
    GLM4V_CHECK(has_vision(), ErrorKind::Unsupported) << "this model has no vision tower";
    c10::InferenceMode inference;
    return vision_forward(vision_, *config_.vision, pixel_values);
}

} // namespace glm4v::engine::model
