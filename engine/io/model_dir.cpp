#include "engine/io/model_dir.h"

#include <sstream>

#include "engine/error.h"
#include "engine/io/safetensors.h"

namespace glm4v::engine::io {
namespace fs = std::filesystem;

namespace {
constexpr const char* kConfig = "config.json";
constexpr const char* kTokenizerModel = "tokenizer.model";
constexpr const char* kTokenizerConfig = "tokenizer_config.json";
constexpr const char* kGenerationConfig = "generation_config.json";
constexpr const char* kIndex = "model.safetensors.index.json";
constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kRequiredList = "config.json, tokenizer.model, tokenizer_config.json and the weights "
                                      "(model.safetensors.index.json with the shards it lists, or model.safetensors)";

// Follows symlinks: a Hugging Face cache snapshot is all links into blobs/, and a dangling one (a download
// that never finished) counts as missing.
bool is_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

void check_is_folder(const fs::path& dir) {
    std::error_code ec;
    GLM4V_CHECK(fs::exists(dir, ec), ErrorKind::ModelMissing)
        << "The model folder " << dir.string() << " does not exist. It must hold " << kRequiredList << ".";
    GLM4V_CHECK(fs::is_directory(dir, ec), ErrorKind::ModelMissing)
        << dir.string() << " is not a folder. The model folder must hold " << kRequiredList << ".";
}

std::string join_names(const std::vector<std::string>& names) {
    std::ostringstream out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out << (i + 1 == names.size() ? " and " : ", ");
        out << names[i];
    }
    return out.str();
}
} // namespace

std::vector<std::string> missing_model_files(const fs::path& dir) {
    check_is_folder(dir);
    std::vector<std::string> missing;
    for (const char* name : {kConfig, kTokenizerModel, kTokenizerConfig})
        if (!is_file(dir / name)) missing.emplace_back(name);
    if (is_file(dir / kIndex)) {
        for (const std::string& shard : read_shard_index((dir / kIndex).string()).shard_files)
            if (!is_file(dir / shard)) missing.push_back(shard);
    } else if (!is_file(dir / kSingleFile)) {
        missing.push_back(std::string(kIndex) + " (or " + kSingleFile + ")");
    }
    return missing;
}

ModelDir open_model_dir(const fs::path& dir) {
    const std::vector<std::string> missing = missing_model_files(dir);
    GLM4V_CHECK(missing.empty(), ErrorKind::ModelMissing)
        << "The model folder " << dir.string() << " is missing " << join_names(missing) << ".";

    ModelDir m;
    m.dir = dir;
    m.config = dir / kConfig;
    m.tokenizer_model = dir / kTokenizerModel;
    m.tokenizer_config = dir / kTokenizerConfig;
    if (is_file(dir / kIndex)) {
        m.weights = dir / kIndex;
        for (const std::string& shard : read_shard_index(m.weights.string()).shard_files)
            m.weight_files.push_back(dir / shard);
    } else {
        m.weights = dir / kSingleFile;
        m.weight_files.push_back(m.weights);
    }
    if (is_file(dir / kGenerationConfig)) m.generation_config = dir / kGenerationConfig;
    return m;
}

} // namespace glm4v::engine::io
