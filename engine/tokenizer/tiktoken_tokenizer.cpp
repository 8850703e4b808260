#include "engine/tokenizer/tiktoken_tokenizer.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/tokenizer/byte_pair_merge.h"
#include "engine/tokenizer/utf8.h"

namespace glm4v::engine::tokenizer {

TiktokenTokenizer::TiktokenTokenizer(BpeRanks ranks, std::vector<SpecialToken> special_tokens)
    : Tokenizer(std::move(special_tokens)), ranks_(std::move(ranks)) {
    for (const SpecialToken& s : this->special_tokens())
        GLM4V_CHECK(!ranks_.has_rank(static_cast<Rank>(s.id)), ErrorKind::ModelCorrupt)
            << "special token '" << s.content << "' has id " << s.id << ", which is also an ordinary token";
}

std::vector<TokenId> TiktokenTokenizer::encode(std::string_view text) const {
    const std::size_t valid = utf8_valid_prefix(text);
    GLM4V_CHECK(valid == text.size(), ErrorKind::InvalidInput)
        << "text to tokenize is not valid UTF-8 (byte " << valid << " of " << text.size() << ")";
    std::vector<TokenId> ids;
    ids.reserve(text.size() / 3 + 8);
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
    PieceSplitter::Cursor cursor(splitter_, text);
    std::size_t begin = 0;
    std::size_t end = 0;
    while (cursor.next(begin, end)) {
        const Rank whole = ranks_.find(bytes + begin, end - begin);
        if (whole != BpeRanks::kNoRank)
            ids.push_back(static_cast<TokenId>(whole));
        else
            byte_pair_encode(ranks_, bytes + begin, end - begin, ids);
    }
    return ids;
}

bool TiktokenTokenizer::append_token_bytes(TokenId id, std::string& out) const {
    if (id < 0) return false;
    if (ranks_.has_rank(static_cast<Rank>(id))) {
        out += ranks_.token(static_cast<Rank>(id));
        return true;
    }
    if (const SpecialToken* s = find_special_token(id)) {
        out += s->content;
        return true;
    }
    return false;
}

std::int64_t TiktokenTokenizer::vocab_size() const {
    std::int64_t size = static_cast<std::int64_t>(ranks_.max_rank()) + 1;
    for (const SpecialToken& s : special_tokens())
        size = std::max<std::int64_t>(size, s.id + 1);
    return size;
}

bool looks_like_tiktoken_ranks(std::string_view head) {
    const std::size_t eol = head.find('\n');
    std::string_view line = head.substr(0, eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t space = line.find(' ');
    if (space == 0 || space == std::string_view::npos || space + 1 == line.size()) return false;
    const auto is_b64 = [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
               c == '=';
    };
    const std::string_view token = line.substr(0, space);
    const std::string_view rank = line.substr(space + 1);
    return std::all_of(token.begin(), token.end(), is_b64) &&
           std::all_of(rank.begin(), rank.end(), [](char c) { return c >= '0' && c <= '9'; });
}

} // namespace glm4v::engine::tokenizer
