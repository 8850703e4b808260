#include "engine/tokenizer/stream_decoder.h"

#include "engine/tokenizer/utf8.h"

namespace glm4v::engine::tokenizer {

std::string StreamDecoder::push(TokenId id) {
    std::string text;
    if (tokenizer_.find_special_token(id)) {
        // A special token ends any character in progress. Its text is the tokenizer's: the content, or
        // nothing for a SentencePiece control piece, as that library's decoder has it.
        utf8_append_repaired(text, pending_, true);
        pending_.clear();
        tokenizer_.append_token_bytes(id, text);
        return emit(std::move(text));
    }
    if (!tokenizer_.append_token_bytes(id, pending_)) {
        utf8_append_repaired(text, pending_, true);
        pending_.clear();
        text += kReplacementCharacter;
        return emit(std::move(text));
    }
    const std::size_t held = utf8_append_repaired(text, pending_, false);
    pending_.erase(0, pending_.size() - held);
    return emit(std::move(text));
}

std::string StreamDecoder::finish() {
    std::string text;
    utf8_append_repaired(text, pending_, true);
    pending_.clear();
    text = emit(std::move(text));
    at_start_ = true;
    return text;
}

std::string StreamDecoder::emit(std::string text) {
    if (at_start_ && !text.empty()) {
        if (tokenizer_.strips_leading_space() && text[0] == ' ') text.erase(0, 1);
        at_start_ = false;
    }
    return text;
}

} // namespace glm4v::engine::tokenizer
