#pragma once
// A SentencePiece model (protobuf tokenizer.model) behind the Tokenizer interface, through
// libsentencepiece: encode and decode are the library's own, so results equal its tools'.

#include <memory>
#include <string>

#include "engine/tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace glm4v::engine::tokenizer {

class SentencePieceTokenizer final : public Tokenizer {
public:
    // `serialized` is the model file's content. Throws ModelCorrupt naming `source_name` when the library
    // rejects it. Special tokens are the config's plus the model's control pieces ("<s>", "</s>").
    SentencePieceTokenizer(const std::string& serialized, const std::string& source_name,
                           std::vector<SpecialToken> config_special_tokens);
    ~SentencePieceTokenizer() override;

    TokenizerFormat format() const override { return TokenizerFormat::SentencePiece; }
    std::vector<TokenId> encode(std::string_view text) const override;
    // Runs of model ids go through the library's decoder (control pieces read as nothing, the dummy-prefix
    // space is dropped); ids past the model, listed in tokenizer_config.json, read as their content.
    std::string decode(const std::vector<TokenId>& ids) const override;
    bool append_token_bytes(TokenId id, std::string& out) const override;
    bool strips_leading_space() const override { return strips_leading_space_; }
    std::int64_t vocab_size() const override;

private:
    SentencePieceTokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> processor,
                           std::vector<SpecialToken> config_special_tokens);

    std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
    std::string unknown_surface_; // what the library's decoder writes for <unk>
    bool strips_leading_space_ = false;
};

} // namespace glm4v::engine::tokenizer
