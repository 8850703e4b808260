#pragma once
// Helpers the tokenizer tests share: rank files written from byte strings, printable strings for failure
// messages.

#include <string>
#include <vector>

#include "engine/tokenizer/bpe_ranks.h"
#include "engine/tokenizer/tiktoken_tokenizer.h"

namespace glm4v::test {

std::string base64_encode(const std::string& bytes);

// A rank file: the 256 single bytes (rank = byte value), then `extra` tokens in order.
std::string rank_file_text(const std::vector<std::string>& extra);

// A tokenizer over rank_file_text(extra) with these special tokens.
engine::tokenizer::TiktokenTokenizer make_tiktoken(const std::vector<std::string>& extra,
                                                   std::vector<engine::tokenizer::SpecialToken> specials = {});

// `text` with control and non-ASCII bytes escaped, for failure messages.
std::string printable(const std::string& text);
std::string ids_string(const std::vector<engine::tokenizer::TokenId>& ids);

} // namespace glm4v::test
