#pragma once
// GLM-4V's prompt as token ids (DESIGN.md section 2):
//   first turn  [gMASK]<sop><|user|>\n<|begin_of_image|><|endoftext|><|end_of_image|>{question}<|assistant|>
//               (no image: the same without the three image tokens)
//   follow-up   {previous reply's ids}<|user|>\n{question}<|assistant|>
// Special tokens are inserted as ids looked up in tokenizer_config.json; "\n" and the question are each
// encoded on their own as plain text, as the reference tokenizer does, so a question containing
// "<|user|>" stays text.

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace glm4v::engine::tokenizer {

struct ChatPrompt {
    std::vector<TokenId> ids;
    // Index in `ids` of <|begin_of_image|>; the image's embeddings replace it and the next two tokens.
    std::optional<std::size_t> image_index;
};

class ChatTemplate {
public:
    // Looks the special tokens up once; throws ModelCorrupt naming the first one the tokenizer lacks.
    explicit ChatTemplate(const Tokenizer& tokenizer);

    ChatPrompt first_turn(std::string_view question, bool with_image) const;
    // <|user|>\n{question}<|assistant|>: what a follow-up appends after the reply already in the cache.
    std::vector<TokenId> next_turn(std::string_view question) const;
    // The reply's ids, then next_turn(question).
    std::vector<TokenId> follow_up(const std::vector<TokenId>& previous_reply, std::string_view question) const;

private:
    void append_user_turn(std::vector<TokenId>& ids, std::string_view question, bool with_image,
                          std::optional<std::size_t>* image_index) const;

    const Tokenizer& tokenizer_;
    TokenId gmask_;
    TokenId sop_;
    TokenId user_;
    TokenId assistant_;
    TokenId begin_of_image_;
    TokenId image_placeholder_; // <|endoftext|>, standing for the image between boi and eoi
    TokenId end_of_image_;
};

} // namespace glm4v::engine::tokenizer
