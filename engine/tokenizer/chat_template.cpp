#include "engine/tokenizer/chat_template.h"

namespace glm4v::engine::tokenizer {

ChatTemplate::ChatTemplate(const Tokenizer& tokenizer)
    : tokenizer_(tokenizer), gmask_(tokenizer.require_special_token("[gMASK]")),
      sop_(tokenizer.require_special_token("<sop>")), user_(tokenizer.require_special_token("<|user|>")),
      assistant_(tokenizer.require_special_token("<|assistant|>")),
      begin_of_image_(tokenizer.require_special_token("<|begin_of_image|>")),
      image_placeholder_(tokenizer.require_special_token("<|endoftext|>")),
      end_of_image_(tokenizer.require_special_token("<|end_of_image|>")) {}

void ChatTemplate::append_user_turn(std::vector<TokenId>& ids, std::string_view question, bool with_image,
                                    std::optional<std::size_t>* image_index) const {
    ids.push_back(user_);
    const std::vector<TokenId> newline = tokenizer_.encode("\n");
    ids.insert(ids.end(), newline.begin(), newline.end());
    if (with_image) {
        if (image_index) *image_index = ids.size();
        ids.insert(ids.end(), {begin_of_image_, image_placeholder_, end_of_image_});
    }
    const std::vector<TokenId> text = tokenizer_.encode(question);
    ids.insert(ids.end(), text.begin(), text.end());
    ids.push_back(assistant_);
}

ChatPrompt ChatTemplate::first_turn(std::string_view question, bool with_image) const {
    ChatPrompt prompt;
    prompt.ids = {gmask_, sop_};
    append_user_turn(prompt.ids, question, with_image, &prompt.image_index);
    return prompt;
}

std::vector<TokenId> ChatTemplate::next_turn(std::string_view question) const {
    std::vector<TokenId> ids;
    append_user_turn(ids, question, false, nullptr);
    return ids;
}

std::vector<TokenId> ChatTemplate::follow_up(const std::vector<TokenId>& previous_reply,
                                             std::string_view question) const {
    std::vector<TokenId> ids = previous_reply;
    append_user_turn(ids, question, false, nullptr);
    return ids;
}

} // namespace glm4v::engine::tokenizer
