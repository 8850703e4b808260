#pragma once
// Turns generated ids into text as they arrive, emitting only whole UTF-8 characters: a character split
// across tokens (common for CJK and emoji in byte-level BPE) waits for its last byte. Bytes that can no
// longer complete become U+FFFD, exactly where Tokenizer::decode() would put them, so the concatenated
// stream equals decode() of all ids.

#include <string>

#include "engine/tokenizer/tokenizer.h"

namespace glm4v::engine::tokenizer {

class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

    // The text that `id` completes; often empty mid-character. A special token reads as its content. An id
    // outside the vocabulary (a model may emit padded-vocabulary ids) reads as U+FFFD rather than
    // failing the reply.
    std::string push(TokenId id);
    // What is still held back, incomplete characters as U+FFFD; the decoder starts over afterwards.
    std::string finish();

    // Bytes waiting for the rest of their character.
    std::size_t pending_bytes() const { return pending_.size(); }

private:
    std::string emit(std::string text);

    const Tokenizer& tokenizer_;
    std::string pending_;
    bool at_start_ = true;
};

} // namespace glm4v::engine::tokenizer
