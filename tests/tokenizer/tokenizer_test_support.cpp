#include "tests/tokenizer/tokenizer_test_support.h"

#include <cstdio>

namespace glm4v::test {
using namespace glm4v::engine::tokenizer;

std::string base64_encode(const std::string& bytes) {
    static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        std::uint32_t v = static_cast<std::uint8_t>(bytes[i]) << 16;
        if (i + 1 < bytes.size()) v |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
        if (i + 2 < bytes.size()) v |= static_cast<std::uint8_t>(bytes[i + 2]);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? alphabet[v & 63] : '=';
    }
    return out;
}

std::string rank_file_text(const std::vector<std::string>& extra) {
    std::string text;
    for (int b = 0; b < 256; ++b)
        text += base64_encode(std::string(1, static_cast<char>(b))) + " " + std::to_string(b) + "\n";
    for (std::size_t i = 0; i < extra.size(); ++i)
        text += base64_encode(extra[i]) + " " + std::to_string(256 + i) + "\n";
    return text;
}

TiktokenTokenizer make_tiktoken(const std::vector<std::string>& extra, std::vector<SpecialToken> specials) {
    return TiktokenTokenizer(BpeRanks::parse(rank_file_text(extra), "test ranks"), std::move(specials));
}

std::string printable(const std::string& text) {
    std::string out;
    for (const char c : text) {
        const auto b = static_cast<unsigned char>(c);
        if (b >= 0x20 && b < 0x7f && b != '\\') {
            out += c;
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", b);
            out += buf;
        }
    }
    return out;
}

std::string ids_string(const std::vector<TokenId>& ids) {
    std::string out = "[";
    for (std::size_t i = 0; i < ids.size(); ++i)
        out += (i ? ", " : "") + std::to_string(ids[i]);
    return out + "]";
}

} // namespace glm4v::test
