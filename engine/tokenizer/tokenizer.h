#pragma once
// The tokenizer interface the engine and the app use, whatever the model folder ships: GLM-4's tiktoken
// rank file or a SentencePiece model (DESIGN.md section 2). Which one is decided by the file's content.
// Special tokens always come from the folder's tokenizer_config.json (`added_tokens_decoder`), never from
// constants, and plain-text encoding never produces them: a user typing "<|user|>" gets the ids of those
// characters, not the role token.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace glm4v::engine::tokenizer {

using TokenId = std::int32_t;

enum class TokenizerFormat { Tiktoken, SentencePiece };

struct SpecialToken {
    std::string content; // "<|user|>"
    TokenId id = -1;
};

class Tokenizer {
public:
    explicit Tokenizer(std::vector<SpecialToken> special_tokens);
    virtual ~Tokenizer() = default;
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;

    virtual TokenizerFormat format() const = 0;

    // Plain text to ids; special-token text is encoded as ordinary characters. Throws InvalidInput when
    // `text` is not valid UTF-8. Thread-safe.
    virtual std::vector<TokenId> encode(std::string_view text) const = 0;

    // Ids to text: each run of ordinary tokens is joined and its invalid UTF-8 becomes U+FFFD (one per
    // maximal ill-formed subpart); a special token reads as its content. Throws InvalidInput naming the
    // first id the vocabulary lacks.
    virtual std::string decode(const std::vector<TokenId>& ids) const;

    // Appends the bytes `id` stands for in the middle of a text (a special token: its content). Returns
    // false, appending nothing, when the vocabulary has no such id.
    virtual bool append_token_bytes(TokenId id, std::string& out) const = 0;

    // Whether decoding drops one space at the very start of a text (SentencePiece's dummy prefix).
    virtual bool strips_leading_space() const { return false; }

    // One past the largest id, special tokens included.
    virtual std::int64_t vocab_size() const = 0;

    const std::vector<SpecialToken>& special_tokens() const { return special_tokens_; }
    std::optional<TokenId> special_token_id(std::string_view content) const;
    // As special_token_id(), but a token the model folder lacks is a ModelCorrupt error naming it.
    TokenId require_special_token(std::string_view content) const;
    // The special token with this id, or nullptr.
    const SpecialToken* find_special_token(TokenId id) const;

private:
    std::vector<SpecialToken> special_tokens_; // sorted by id
};

// Loads `model_dir`/tokenizer.model (tiktoken ranks or SentencePiece, told apart by content) with the
// special tokens of `model_dir`/tokenizer_config.json. Throws ModelMissing naming the folder or the file
// that is absent, ModelCorrupt naming the file whose content is wrong.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir);

// The same from explicit files; `tokenizer_config` may be empty (no special tokens, SentencePiece's own
// control pieces aside).
std::unique_ptr<Tokenizer> load_tokenizer_files(const std::filesystem::path& tokenizer_model,
                                                const std::filesystem::path& tokenizer_config);

} // namespace glm4v::engine::tokenizer
