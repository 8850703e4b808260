#pragma once
// GLM-4's pre-tokenizer: the cl100k-style split pattern (DESIGN.md section 2) through PCRE2 with JIT.
// BPE then runs inside each piece. Pieces must equal those of tiktoken's Rust regex exactly, which needs
// two corrections to PCRE2 10.42, both written into the pattern (see piece_splitter.cpp):
//   - `\s`: PCRE2 with UCP also matches U+180E; Rust's is Unicode White_Space, so the class is spelled out.
//   - `\p{L}`, `\p{N}`: PCRE2 10.42 knows Unicode 14, tiktoken 0.14 Unicode 16; the letters and numbers
//     added since are listed explicitly.

#include <cstddef>
#include <string>
#include <string_view>

struct pcre2_real_code_8;
struct pcre2_real_match_data_8;

namespace glm4v::engine::tokenizer {

class PieceSplitter {
public:
    // Compiles the GLM-4 pattern, JIT-compiled where PCRE2 supports it. Throws Unsupported if PCRE2 lacks
    // Unicode support.
    PieceSplitter();
    ~PieceSplitter();
    PieceSplitter(const PieceSplitter&) = delete;
    PieceSplitter& operator=(const PieceSplitter&) = delete;

    // The pattern as PCRE2 gets it.
    static std::string pattern();

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
        const PieceSplitter& splitter_;
        std::string_view text_;
        std::size_t offset_ = 0;
        pcre2_real_match_data_8* match_data_;
    };

private:
    pcre2_real_code_8* code_ = nullptr;
    bool jit_ = false;
};

} // namespace glm4v::engine::tokenizer
