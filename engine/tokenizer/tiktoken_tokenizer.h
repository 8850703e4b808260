#pragma once
// GLM-4's tokenizer: tiktoken's algorithm over a rank file. Text is split into pieces by the GLM-4
// pattern (piece_splitter.h); a piece that is itself a token is that token, any other is byte-pair
// encoded (byte_pair_merge.h). Output equals tiktoken's encode_ordinary() id for id.

#include <filesystem>

#include "engine/tokenizer/bpe_ranks.h"
#include "engine/tokenizer/piece_splitter.h"
#include "engine/tokenizer/tokenizer.h"

namespace glm4v::engine::tokenizer {

class TiktokenTokenizer final : public Tokenizer {
public:
    // Throws ModelCorrupt when a special token's id is also a rank.
    TiktokenTokenizer(BpeRanks ranks, std::vector<SpecialToken> special_tokens);

    TokenizerFormat format() const override { return TokenizerFormat::Tiktoken; }
    std::vector<TokenId> encode(std::string_view text) const override;
    bool append_token_bytes(TokenId id, std::string& out) const override;
    std::int64_t vocab_size() const override;

    const BpeRanks& ranks() const { return ranks_; }

private:
    BpeRanks ranks_;
    PieceSplitter splitter_;
};

// Whether `head` (the first bytes of a tokenizer.model) looks like a tiktoken rank file: its first line
// is "base64 digits". SentencePiece models are protobuf and start with a field tag byte instead.
bool looks_like_tiktoken_ranks(std::string_view head);

} // namespace glm4v::engine::tokenizer
