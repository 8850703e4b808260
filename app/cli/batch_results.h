#pragma once
// glm4v batch's output, results.jsonl: one JSON object per line, one line per image, appended as each
// image finishes (docs/history.md, "glm4v batch"). A rerun of the same command skips the (image, prompt)
// pairs the file already holds, so an interrupted batch loses at most the image it was working on.
//
// A line is written by one write() and flushed to disk before the next image starts, so a killed run
// leaves whole lines; only a power cut (or a full disk) can leave a torn last line, which the next open
// drops. Lines are never rewritten.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace glm4v::app::cli {

struct BatchResult {
    std::string image;                 // the path as the command line gave it (a folder's files: folder/name)
    std::optional<std::string> sha256; // of the file's bytes; none when it could not be read
    std::string prompt;
    std::string reply;                 // on failure, what was said before it (often nothing)
    std::optional<std::string> finish; // "eos" or "length"; none on failure
    std::int64_t prompt_tokens = 0;    // image embeddings included
    std::int64_t generated_tokens = 0;
    double time_to_first_token_ms = 0;
    double tokens_per_second = 0;
    double seconds = 0;                       // the whole image: reading, encoding, answering
    std::optional<std::int64_t> conversation; // the history's conversation, when recorded
    std::optional<std::string> error;         // why this image has no reply
    std::optional<std::string> error_kind;    // engine::error_kind_name: "invalid input", "I/O error", ...
};

// Two spellings of one file (photos/a.png, ./photos/a.png, a symbolic link) give the same key. Relative
// paths are resolved against the current folder, so a rerun should start where the first run did.
std::string batch_image_key(const std::string& path);

class BatchResultsFile {
public:
    // Opens or creates `path`, locks it (a second batch writing the same file is refused), drops a torn
    // last line and reads which pairs are done. A complete line that is not a result is refused.
    explicit BatchResultsFile(const std::filesystem::path& path);
    ~BatchResultsFile();
    BatchResultsFile(const BatchResultsFile&) = delete;
    BatchResultsFile& operator=(const BatchResultsFile&) = delete;

    bool contains(const std::string& image, const std::string& prompt) const;
    // Returns once the line is on disk; throws ErrorKind::Io, leaving the file as it was, on failure.
    void append(const BatchResult& result);

    std::size_t dropped_bytes() const { return dropped_bytes_; } // of a torn last line, when opened

private:
    std::filesystem::path path_;
    int fd_ = -1;
    std::set<std::pair<std::string, std::string>> done_; // (batch_image_key, prompt)
    std::size_t dropped_bytes_ = 0;
};

} // namespace glm4v::app::cli
