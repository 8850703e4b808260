#include "engine/tokenizer/piece_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdint>
#include <cstdio>
#include <iterator>

#include "engine/error.h"
#include "engine/log.h"

namespace glm4v::engine::tokenizer {
namespace {

// Unicode White_Space, which Rust's `\s` is; PCRE2's UCP `\s` adds U+180E (a format character since
// Unicode 6.3), so it cannot be used as is.
constexpr const char* kSpace = "\\t-\\r \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}"
                               "\\x{205f}\\x{3000}";

// Letters (L*) and numbers (N*) assigned in Unicode 15.0-16.0, which tiktoken 0.14's regex knows and
// PCRE2 10.42 (Unicode 14) does not; found by classifying every code point both ways
// (tests/tokenizer/tiktoken_oracle.py checks all of them). Harmless with a newer PCRE2.
struct CodePointRange {
    std::uint32_t first;
    std::uint32_t last;
};
constexpr CodePointRange kNewLetters[] = {
    {0x1C89, 0x1C8A},   {0xA7CB, 0xA7CD},   {0xA7DA, 0xA7DC},   {0x105C0, 0x105F3}, {0x10D4A, 0x10D65},
    {0x10D6F, 0x10D85}, {0x10EC2, 0x10EC4}, {0x1123F, 0x11240}, {0x11380, 0x11389}, {0x1138B, 0x1138B},
    {0x1138E, 0x1138E}, {0x11390, 0x113B5}, {0x113B7, 0x113B7}, {0x113D1, 0x113D1}, {0x113D3, 0x113D3},
    {0x11BC0, 0x11BE0}, {0x11F02, 0x11F02}, {0x11F04, 0x11F10}, {0x11F12, 0x11F33}, {0x1342F, 0x1342F},
    {0x13441, 0x13446}, {0x13460, 0x143FA}, {0x16100, 0x1611D}, {0x16D40, 0x16D6C}, {0x18CFF, 0x18CFF},
    {0x1B132, 0x1B132}, {0x1B155, 0x1B155}, {0x1DF25, 0x1DF2A}, {0x1E030, 0x1E06D}, {0x1E4D0, 0x1E4EB},
    {0x1E5D0, 0x1E5ED}, {0x1E5F0, 0x1E5F0}, {0x2B739, 0x2B739}, {0x2EBF0, 0x2EE5D}, {0x31350, 0x323AF},
};
constexpr CodePointRange kNewNumbers[] = {
    {0x10D40, 0x10D49}, {0x116D0, 0x116E3}, {0x11BF0, 0x11BF9}, {0x11F50, 0x11F59}, {0x16130, 0x16139},
    {0x16D70, 0x16D79}, {0x1CCF0, 0x1CCF9}, {0x1D2C0, 0x1D2D3}, {0x1E4F0, 0x1E4F9}, {0x1E5F1, 0x1E5FA},
};
constexpr std::uint32_t kMongolianVowelSeparator = 0x180E; // \s in PCRE2's UCP mode, not White_Space

std::string class_items(const CodePointRange* begin, const CodePointRange* end) {
    std::string out;
    char buf[40];
    for (const CodePointRange* r = begin; r != end; ++r) {
        if (r->first == r->last)
            std::snprintf(buf, sizeof buf, "\\x{%x}", r->first);
        else
            std::snprintf(buf, sizeof buf, "\\x{%x}-\\x{%x}", r->first, r->last);
        out += buf;
    }
    return out;
}

bool in_ranges(std::uint32_t c, const CodePointRange* begin, const CodePointRange* end) {
    for (const CodePointRange* r = begin; r != end; ++r)
        if (c >= r->first && c <= r->last) return true;
    return false;
}

// Compiles with UTF and UCP, JIT-compiled where PCRE2 can; false when JIT is unavailable.
pcre2_code* compile_pattern(const std::string& pattern, bool& jit) {
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr);
    if (!code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error, message, sizeof message);
        GLM4V_FAIL(ErrorKind::Unsupported) << "PCRE2 rejects the split pattern at offset " << error_offset << ": "
                                           << reinterpret_cast<const char*>(message);
    }
    jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    return code;
}

} // namespace

std::string PieceSplitter::plain_pattern() {
    return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
}

std::string PieceSplitter::pattern() {
    const std::string letter = "\\p{L}" + class_items(std::begin(kNewLetters), std::end(kNewLetters));
    const std::string number = "\\p{N}" + class_items(std::begin(kNewNumbers), std::end(kNewNumbers));
    const std::string space = kSpace;
    // plain_pattern() with \s, \p{L} and \p{N} replaced by the classes above.
    // clang-format off
    return "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
           "|[^\\r\\n" + letter + number + "]?[" + letter + "]+"
           "|[" + number + "]{1,3}"
           "| ?[^" + space + letter + number + "]+[\\r\\n]*"
           "|[" + space + "]*[\\r\\n]+"
           "|[" + space + "]+(?![^" + space + "])"
           "|[" + space + "]+";
    // clang-format on
}

bool PieceSplitter::needs_exact_pattern(std::string_view text) {
    // Every code point listed above is U+1C89..U+1CFF (lead byte E1), U+A7xx (EA) or past U+FFFF (F0..F4);
    // other text is skipped a byte at a time. `text` is valid UTF-8.
    const auto* p = reinterpret_cast<const std::uint8_t*>(text.data());
    const std::size_t n = text.size();
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t b = p[i];
        if (b != 0xE1 && b != 0xEA && b < 0xF0) continue;
        std::uint32_t c = 0;
        if (b < 0xF0 && i + 2 < n) {
            c = ((b & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
        } else if (b >= 0xF0 && i + 3 < n) {
            c = ((b & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) | (p[i + 3] & 0x3Fu);
        }
        if (c == kMongolianVowelSeparator || in_ranges(c, std::begin(kNewLetters), std::end(kNewLetters)) ||
            in_ranges(c, std::begin(kNewNumbers), std::end(kNewNumbers)))
            return true;
    }
    return false;
}

PieceSplitter::PieceSplitter() {
    std::uint32_t has_unicode = 0;
    pcre2_config(PCRE2_CONFIG_UNICODE, &has_unicode);
    GLM4V_CHECK(has_unicode, ErrorKind::Unsupported) << "PCRE2 was built without Unicode support";
    exact_.code = compile_pattern(pattern(), exact_.jit);
    plain_.code = compile_pattern(plain_pattern(), plain_.jit);
    if (!exact_.jit || !plain_.jit)
        log_warn("PieceSplitter: PCRE2 JIT unavailable, tokenizing with the slower interpreter");
}

PieceSplitter::~PieceSplitter() {
    pcre2_code_free(exact_.code);
    pcre2_code_free(plain_.code);
}

PieceSplitter::Cursor::Cursor(const PieceSplitter& splitter, std::string_view text)
    : pattern_(needs_exact_pattern(text) ? splitter.exact_ : splitter.plain_), text_(text),
      match_data_(pcre2_match_data_create_from_pattern(pattern_.code, nullptr)) {
    GLM4V_CHECK(match_data_ != nullptr, ErrorKind::OutOfMemory) << "PCRE2 match data";
}

PieceSplitter::Cursor::~Cursor() {
    pcre2_match_data_free(match_data_);
}

bool PieceSplitter::Cursor::next(std::size_t& begin, std::size_t& end) {
    if (offset_ >= text_.size()) return false;
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text_.data());
    // The text was validated once by the caller; PCRE2 would otherwise re-check all of it on every call.
    const int rc =
        pattern_.jit
            ? pcre2_jit_match(pattern_.code, subject, text_.size(), offset_, PCRE2_NO_UTF_CHECK, match_data_, nullptr)
            : pcre2_match(pattern_.code, subject, text_.size(), offset_, PCRE2_NO_UTF_CHECK, match_data_, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) {
        offset_ = text_.size();
        return false;
    }
    GLM4V_CHECK(rc > 0, ErrorKind::Unsupported) << "PCRE2 match failed with code " << rc;
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data_);
    begin = ovector[0];
    end = ovector[1];
    // No alternative of the pattern matches the empty string; an empty match would loop forever.
    GLM4V_CHECK(end > begin, ErrorKind::Unsupported) << "the split pattern matched an empty piece";
    offset_ = end;
    return true;
}

} // namespace glm4v::engine::tokenizer
