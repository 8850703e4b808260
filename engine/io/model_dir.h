#pragma once
// Model folder discovery: which files a GLM-4V model folder must hold, and where they are. Runs before any
// file is parsed, so the "no model" screen can say exactly which files to put where (DESIGN.md section 5).

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace glm4v::engine::io {

struct ModelDir {
    std::filesystem::path dir;
    std::filesystem::path config;                           // config.json
    std::filesystem::path tokenizer_model;                  // tokenizer.model (tiktoken ranks or SentencePiece)
    std::filesystem::path tokenizer_config;                 // tokenizer_config.json
    std::filesystem::path weights;                          // model.safetensors.index.json, else model.safetensors
    std::vector<std::filesystem::path> weight_files;        // the shards the index lists, or model.safetensors itself
    std::optional<std::filesystem::path> generation_config; // generation_config.json, when present
};

// The required files absent from `dir`, as names relative to it, in the order a user would fetch them:
// config.json, tokenizer.model, tokenizer_config.json, then the weights ("model.safetensors.index.json (or
// model.safetensors)" when neither exists, else each shard the index lists but the folder lacks). A file
// is present when it, or the target of its symlink, is a regular file. Empty when nothing is missing.
// Throws ModelMissing when `dir` is not a folder and ModelCorrupt when the index cannot be read.
std::vector<std::string> missing_model_files(const std::filesystem::path& dir);

// The model folder's files. Throws ModelMissing with a message naming the folder and every missing file,
// meant to be shown to the user as is.
ModelDir open_model_dir(const std::filesystem::path& dir);

} // namespace glm4v::engine::io
