#include "engine/tokenizer/utf8.h"

#include <cstdint>

namespace glm4v::engine::tokenizer {
namespace {

// Length of the well-formed sequence a lead byte starts (0: not a lead byte), and the range its second
// byte must fall in; the remaining bytes are always 80..BF (Unicode Table 3-7).
struct LeadInfo {
    int length;
    std::uint8_t second_min;
    std::uint8_t second_max;
};

LeadInfo lead_info(std::uint8_t b) {
    if (b < 0x80) return {1, 0, 0};
    if (b < 0xC2) return {0, 0, 0};
    if (b < 0xE0) return {2, 0x80, 0xBF};
    if (b == 0xE0) return {3, 0xA0, 0xBF};
    if (b == 0xED) return {3, 0x80, 0x9F};
    if (b < 0xF0) return {3, 0x80, 0xBF};
    if (b == 0xF0) return {4, 0x90, 0xBF};
    if (b < 0xF4) return {4, 0x80, 0xBF};
    if (b == 0xF4) return {4, 0x80, 0x8F};
    return {0, 0, 0};
}

// How many bytes from `i` on form a valid prefix of the sequence the lead byte at `i` starts; equals
// info.length when the whole sequence is there and well-formed.
int valid_run(std::string_view s, std::size_t i, const LeadInfo& info) {
    int k = 1;
    for (; k < info.length && i + k < s.size(); ++k) {
        const auto b = static_cast<std::uint8_t>(s[i + k]);
        const bool ok = k == 1 ? (b >= info.second_min && b <= info.second_max) : (b >= 0x80 && b <= 0xBF);
        if (!ok) break;
    }
    return k;
}

} // namespace

std::size_t utf8_valid_prefix(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<std::uint8_t>(s[i]);
        if (b < 0x80) {
            ++i;
            continue;
        }
        const LeadInfo info = lead_info(b);
        if (info.length == 0 || valid_run(s, i, info) != info.length) return i;
        i += static_cast<std::size_t>(info.length);
    }
    return i;
}

std::size_t utf8_append_repaired(std::string& out, std::string_view s, bool final) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<std::uint8_t>(s[i]);
        if (b < 0x80) {
            out.push_back(static_cast<char>(b));
            ++i;
            continue;
        }
        const LeadInfo info = lead_info(b);
        if (info.length == 0) {
            out.append(kReplacementCharacter);
            ++i;
            continue;
        }
        const int run = valid_run(s, i, info);
        if (run == info.length) {
            out.append(s.substr(i, static_cast<std::size_t>(run)));
        } else if (i + static_cast<std::size_t>(run) == s.size() && !final) {
            return static_cast<std::size_t>(run); // may still complete with the next token's bytes
        } else {
            out.append(kReplacementCharacter); // the maximal subpart: lead plus the valid continuation bytes
        }
        i += static_cast<std::size_t>(run);
    }
    return 0;
}

} // namespace glm4v::engine::tokenizer
