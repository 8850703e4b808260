#include "engine/tokenizer/piece_splitter.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

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
constexpr const char* kNewLetters =
    "\\x{1c89}-\\x{1c8a}\\x{a7cb}-\\x{a7cd}\\x{a7da}-\\x{a7dc}\\x{105c0}-\\x{105f3}\\x{10d4a}-\\x{10d65}"
    "\\x{10d6f}-\\x{10d85}\\x{10ec2}-\\x{10ec4}\\x{1123f}-\\x{11240}\\x{11380}-\\x{11389}\\x{1138b}\\x{1138e}"
    "\\x{11390}-\\x{113b5}\\x{113b7}\\x{113d1}\\x{113d3}\\x{11bc0}-\\x{11be0}\\x{11f02}\\x{11f04}-\\x{11f10}"
    "\\x{11f12}-\\x{11f33}\\x{1342f}\\x{13441}-\\x{13446}\\x{13460}-\\x{143fa}\\x{16100}-\\x{1611d}"
    "\\x{16d40}-\\x{16d6c}\\x{18cff}\\x{1b132}\\x{1b155}\\x{1df25}-\\x{1df2a}\\x{1e030}-\\x{1e06d}"
    "\\x{1e4d0}-\\x{1e4eb}\\x{1e5d0}-\\x{1e5ed}\\x{1e5f0}\\x{2b739}\\x{2ebf0}-\\x{2ee5d}\\x{31350}-\\x{323af}";
constexpr const char* kNewNumbers =
    "\\x{10d40}-\\x{10d49}\\x{116d0}-\\x{116e3}\\x{11bf0}-\\x{11bf9}\\x{11f50}-\\x{11f59}\\x{16130}-\\x{16139}"
    "\\x{16d70}-\\x{16d79}\\x{1ccf0}-\\x{1ccf9}\\x{1d2c0}-\\x{1d2d3}\\x{1e4f0}-\\x{1e4f9}\\x{1e5f1}-\\x{1e5fa}";

} // namespace

std::string PieceSplitter::pattern() {
    const std::string letter = std::string("\\p{L}") + kNewLetters;
    const std::string number = std::string("\\p{N}") + kNewNumbers;
    const std::string space = kSpace;
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    return "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
           "|[^\\r\\n" + letter + number + "]?[" + letter + "]+"
           "|[" + number + "]{1,3}"
           "| ?[^" + space + letter + number + "]+[\\r\\n]*"
           "|[" + space + "]*[\\r\\n]+"
           "|[" + space + "]+(?![^" + space + "])"
           "|[" + space + "]+";
}

PieceSplitter::PieceSplitter() {
    std::uint32_t has_unicode = 0;
    pcre2_config(PCRE2_CONFIG_UNICODE, &has_unicode);
    GLM4V_CHECK(has_unicode, ErrorKind::Unsupported) << "PCRE2 was built without Unicode support";
    const std::string pat = pattern();
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(), PCRE2_UTF | PCRE2_UCP, &error,
                          &error_offset, nullptr);
    if (!code_) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error, message, sizeof message);
        GLM4V_FAIL(ErrorKind::Unsupported) << "PCRE2 rejects the split pattern at offset " << error_offset << ": "
                                           << reinterpret_cast<const char*>(message);
    }
    jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
    if (!jit_) log_warn("PieceSplitter: PCRE2 JIT unavailable, tokenizing with the slower interpreter");
}

PieceSplitter::~PieceSplitter() { pcre2_code_free(code_); }

PieceSplitter::Cursor::Cursor(const PieceSplitter& splitter, std::string_view text)
    : splitter_(splitter), text_(text), match_data_(pcre2_match_data_create_from_pattern(splitter.code_, nullptr)) {
    GLM4V_CHECK(match_data_ != nullptr, ErrorKind::OutOfMemory) << "PCRE2 match data";
}

PieceSplitter::Cursor::~Cursor() { pcre2_match_data_free(match_data_); }

bool PieceSplitter::Cursor::next(std::size_t& begin, std::size_t& end) {
    if (offset_ >= text_.size()) return false;
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text_.data());
    // The text was validated once by the caller; PCRE2 would otherwise re-check all of it on every call.
    const int rc = splitter_.jit_
                       ? pcre2_jit_match(splitter_.code_, subject, text_.size(), offset_, PCRE2_NO_UTF_CHECK,
                                         match_data_, nullptr)
                       : pcre2_match(splitter_.code_, subject, text_.size(), offset_, PCRE2_NO_UTF_CHECK,
                                     match_data_, nullptr);
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
