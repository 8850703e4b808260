#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "engine/log.h"
#include "engine/tokenizer/sentencepiece_tokenizer.h"
#include "engine/tokenizer/special_tokens.h"
#include "engine/tokenizer/tiktoken_tokenizer.h"
#include "engine/tokenizer/utf8.h"

namespace glm4v::engine::tokenizer {
namespace fs = std::filesystem;

Tokenizer::Tokenizer(std::vector<SpecialToken> special_tokens) : special_tokens_(std::move(special_tokens)) {
    std::sort(special_tokens_.begin(), special_tokens_.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    for (std::size_t i = 1; i < special_tokens_.size(); ++i)
        GLM4V_CHECK(special_tokens_[i].id != special_tokens_[i - 1].id, ErrorKind::ModelCorrupt)
            << "special tokens '" << special_tokens_[i - 1].content << "' and '" << special_tokens_[i].content
            << "' share id " << special_tokens_[i].id;
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids) const {
    std::string text;
    std::string run; // bytes of consecutive ordinary tokens, repaired as one
    for (const TokenId id : ids) {
        if (const SpecialToken* special = find_special_token(id)) {
            utf8_append_repaired(text, run, true);
            run.clear();
            text += special->content;
            continue;
        }
        GLM4V_CHECK(append_token_bytes(id, run), ErrorKind::InvalidInput)
            << "token id " << id << " is outside the vocabulary (size " << vocab_size() << ")";
    }
    utf8_append_repaired(text, run, true);
    return text;
}

std::optional<TokenId> Tokenizer::special_token_id(std::string_view content) const {
    for (const SpecialToken& s : special_tokens_)
        if (s.content == content) return s.id;
    return std::nullopt;
}

TokenId Tokenizer::require_special_token(std::string_view content) const {
    const auto id = special_token_id(content);
    GLM4V_CHECK(id.has_value(), ErrorKind::ModelCorrupt)
        << "the tokenizer has no special token '" << std::string(content)
        << "' (tokenizer_config.json, added_tokens_decoder)";
    return *id;
}

const SpecialToken* Tokenizer::find_special_token(TokenId id) const {
    const auto it = std::lower_bound(special_tokens_.begin(), special_tokens_.end(), id,
                                     [](const SpecialToken& s, TokenId v) { return s.id < v; });
    return it != special_tokens_.end() && it->id == id ? &*it : nullptr;
}

std::unique_ptr<Tokenizer> load_tokenizer_files(const fs::path& tokenizer_model, const fs::path& tokenizer_config) {
    GLM4V_CHECK(fs::is_regular_file(tokenizer_model), ErrorKind::ModelMissing)
        << tokenizer_model.string() << " is missing";
    std::vector<SpecialToken> specials;
    if (!tokenizer_config.empty()) specials = read_special_tokens(tokenizer_config);
    std::ifstream in(tokenizer_model, std::ios::binary);
    GLM4V_CHECK(in.good(), ErrorKind::Io) << "cannot read " << tokenizer_model.string();
    std::ostringstream content;
    content << in.rdbuf();
    const std::string bytes = content.str();
    if (looks_like_tiktoken_ranks(std::string_view(bytes).substr(0, 4096))) {
        log_debug("load_tokenizer_files: ", tokenizer_model.string(), " is a tiktoken rank file");
        return std::make_unique<TiktokenTokenizer>(BpeRanks::parse(bytes, tokenizer_model.string()),
                                                   std::move(specials));
    }
    log_debug("load_tokenizer_files: ", tokenizer_model.string(), " is not tiktoken ranks, trying SentencePiece");
    return std::make_unique<SentencePieceTokenizer>(bytes, tokenizer_model.string(), std::move(specials));
}

std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& model_dir) {
    GLM4V_CHECK(fs::is_directory(model_dir), ErrorKind::ModelMissing)
        << "model folder " << model_dir.string() << " does not exist";
    const fs::path model = model_dir / "tokenizer.model";
    const fs::path config = model_dir / "tokenizer_config.json";
    GLM4V_CHECK(fs::is_regular_file(model), ErrorKind::ModelMissing)
        << "model folder " << model_dir.string() << " has no tokenizer.model";
    // GLM-4's special-token ids exist only in this file; without it no prompt could be built.
    GLM4V_CHECK(fs::is_regular_file(config), ErrorKind::ModelMissing)
        << "model folder " << model_dir.string() << " has no tokenizer_config.json";
    return load_tokenizer_files(model, config);
}

} // namespace glm4v::engine::tokenizer
