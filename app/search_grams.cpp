#include "app/search_grams.h"

#include <cstdint>
#include <unordered_set>

namespace glm4v::app {

namespace {
bool breaks_grams(char32_t c) { return c <= 0x20 || c == 0x7f || c == 0x3000 || c == 0xa0; }

void append_hex(std::string& out, char32_t c) {
    static const char digits[] = "0123456789abcdef";
    char buffer[8];
    int n = 0;
    do {
        buffer[n++] = digits[c & 15];
        c >>= 4;
    } while (c);
    while (n) out.push_back(buffer[--n]);
}
} // namespace

std::u32string utf8_decode(const std::string& text) {
    std::u32string out;
    out.reserve(text.size());
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned char b = s[i];
        char32_t c = 0xfffd;
        std::size_t length = 1;
        if (b < 0x80) {
            c = b;
        } else {
            const std::size_t need = b >= 0xf0 && b < 0xf5 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 0;
            if (need && i + need <= n) {
                char32_t value = b & (0x7f >> need);
                bool ok = true;
                for (std::size_t k = 1; k < need; ++k) {
                    if ((s[i + k] & 0xc0) != 0x80) ok = false;
                    value = (value << 6) | (s[i + k] & 0x3f);
                }
                const bool overlong = (need == 3 && value < 0x800) || (need == 4 && value < 0x10000);
                if (ok && !overlong && value <= 0x10ffff && !(value >= 0xd800 && value <= 0xdfff)) {
                    c = value;
                    length = need;
                }
            }
        }
        out.push_back(c);
        i += length;
    }
    return out;
}

std::u32string search_fold(const std::string& text) {
    std::u32string points = utf8_decode(text);
    for (char32_t& c : points)
        if (c >= 'A' && c <= 'Z') c += 32;
    return points;
}

std::string search_gram_token(const std::u32string& query) {
    std::string token;
    for (std::size_t i = 0; i < query.size(); ++i) {
        if (i) token.push_back('x');
        append_hex(token, query[i]);
    }
    return token;
}

std::string search_gram_tokens(const std::string& text) {
    const std::u32string folded = search_fold(text);
    std::unordered_set<std::uint64_t> seen;
    std::string out;
    auto add = [&](std::uint64_t key, const std::u32string& gram) {
        if (!seen.insert(key).second) return;
        if (!out.empty()) out.push_back(' ');
        out += search_gram_token(gram);
    };
    for (std::size_t i = 0; i < folded.size(); ++i) {
        const char32_t c = folded[i];
        if (breaks_grams(c)) continue;
        add(c, std::u32string(1, c));
        if (i + 1 < folded.size() && !breaks_grams(folded[i + 1]))
            add((std::uint64_t{c} << 21 | folded[i + 1]) | (std::uint64_t{1} << 63), folded.substr(i, 2));
    }
    return out;
}

std::string utf8_encode(const std::u32string& text) {
    std::string out;
    for (char32_t c : text) {
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
        } else if (c < 0x800) {
            out.push_back(static_cast<char>(0xc0 | (c >> 6)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
        } else if (c < 0x10000) {
            out.push_back(static_cast<char>(0xe0 | (c >> 12)));
            out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
        } else {
            out.push_back(static_cast<char>(0xf0 | (c >> 18)));
            out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
        }
    }
    return out;
}

} // namespace glm4v::app
