#pragma once
// The short-query half of history search. FTS5's trigram tokenizer finds any substring of three or
// more characters, but nothing shorter, and the common Chinese query is a two-character word (发票,
// 菜单). So each message is also indexed as the set of its single characters and character pairs; a
// 1-2 character query is then one token lookup in an FTS5 table (detail=none) instead of a scan.
// Tokens are spelled in ASCII hex ("53d1x7968" for 发票), so no FTS5 tokenizer can split or fold them
// differently from this code.

#include <string>

namespace glm4v::app {

// Code points of `text`; each invalid UTF-8 byte becomes one U+FFFD.
std::u32string utf8_decode(const std::string& text);
std::string utf8_encode(const std::u32string& text);

// utf8_decode with ASCII letters lower-cased, which is the case folding short queries get (longer ones
// get the trigram tokenizer's Unicode folding). One code point in, one out, so positions line up.
std::u32string search_fold(const std::string& text);

// Space-separated, de-duplicated tokens: every character and every adjacent pair of characters, with
// no gram spanning whitespace or a control character.
std::string search_gram_tokens(const std::string& text);

// The one token a 1 or 2 character query (already folded) looks up.
std::string search_gram_token(const std::u32string& query);

} // namespace glm4v::app
