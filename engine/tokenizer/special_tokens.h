#pragma once
// Special tokens as a Hugging Face tokenizer_config.json lists them under `added_tokens_decoder`
// ({"151329": {"content": "<|endoftext|>", "special": true, ...}, ...}).

#include <filesystem>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace glm4v::engine::tokenizer {

// Every added token, sorted by id. Throws ModelMissing when the file is absent and ModelCorrupt naming
// the entry when an id or content is malformed or repeated.
std::vector<SpecialToken> read_special_tokens(const std::filesystem::path& tokenizer_config);
std::vector<SpecialToken> parse_special_tokens(const std::string& json_text, const std::string& source_name);

} // namespace glm4v::engine::tokenizer
