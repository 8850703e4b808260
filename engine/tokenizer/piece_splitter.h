#pragma once
// GLM-4's pre-tokenizer: the cl100k-style split pattern (DESIGN.md section 2) through PCRE2 with JIT.
// BPE then runs inside each piece. Pieces must equal those of tiktoken's Rust regex exactly, which needs
// two corrections to PCRE2 10.42, both written into the pattern (see piece_splitter.cpp):
//   - `\s`: PCRE2 with UCP also matches U+180E; Rust's is Unicode White_Space, so the class is spelled out.
//   - `\p{L}`, `\p{N}`: PCRE2 10.42 knows Unicode 14, tiktoken 0.14 Unicode 16; the letters and numbers
//     added since are listed explicitly.
// The corrected classes cost PCRE2 about twice the time per character, and they only matter for text
// holding one of those code points; other text goes through the plain pattern, which splits it the same.

#include <cstddef>
#include <string>
#include <string_view>

struct pcre2_real_code_8;
struct pcre2_real_match_data_8;

namespace glm4v::engine::tokenizer {

class PieceSplitter {
    struct Compiled {
        pcre2_real_code_8* code = nullptr;
        bool jit = false;
    };

public:
    // Compiles the GLM-4 pattern, JIT-compiled where PCRE2 supports it. Throws Unsupported if PCRE2 lacks
    // Unicode support.
    PieceSplitter();
    ~PieceSplitter();
    PieceSplitter(const PieceSplitter&) = delete;
    PieceSplitter& operator=(const PieceSplitter&) = delete;

    // The corrected pattern as PCRE2 gets it, and GLM-4's own.
    static std::string pattern();
    static std::string plain_pattern();
    // Whether `text` (valid UTF-8) holds a code point on which the plain pattern would split differently.
    static bool needs_exact_pattern(std::string_view text);

    // Per-thread match state; one per encode() call keeps PieceSplitter itself immutable and thread-safe.
    class Cursor {
    public:
        // `text` must be valid UTF-8 (it is not checked again, which keeps each match O(piece)).
        Cursor(const PieceSplitter& splitter, std::string_view text);
        ~Cursor();
        Cursor(const Cursor&) = delete;
        Cursor& operator=(const Cursor&) = delete;
        // The next piece as [begin, end) byte offsets; false at the end of the text.
        bool next(std::size_t& begin, std::size_t& end);

    private:
        const Compiled& pattern_;
        std::string_view text_;
        std::size_t offset_ = 0;
        pcre2_real_match_data_8* match_data_;
    };

private:
    Compiled exact_; // pattern()
    Compiled plain_; // plain_pattern()
};

} // namespace glm4v::engine::tokenizer
