#include "app/cli/batch_results.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace glm4v::app::cli {
namespace fs = std::filesystem;
using engine::ErrorKind;
using Json = nlohmann::ordered_json; // keeps the keys in the order written: image first, for people reading

namespace {

std::string errno_text() {
    return std::strerror(errno);
}

// A line this command wrote: an object naming its image and prompt.
bool is_result(const Json& line) {
    return line.is_object() && line.contains("image") && line["image"].is_string() && line.contains("prompt") &&
           line["prompt"].is_string();
}

Json parse_line(const std::string& text) {
    return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

template <typename T> Json optional_json(const std::optional<T>& value) {
    return value ? Json(*value) : Json(nullptr);
}

} // namespace

std::string batch_image_key(const std::string& path) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(fs::absolute(path, ec), ec);
    return ec ? fs::absolute(path).lexically_normal().string() : canonical.string();
}

BatchResultsFile::BatchResultsFile(const fs::path& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    GLM4V_CHECK(fd_ >= 0, ErrorKind::Io) << "cannot open " << path.string() << ": " << errno_text();
    try {
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            GLM4V_CHECK(errno != EWOULDBLOCK, ErrorKind::InvalidInput)
                << path.string() << " is being written by another glm4v batch; wait for it or choose another --out";
            GLM4V_FAIL(ErrorKind::Io) << "cannot lock " << path.string() << ": " << errno_text();
        }
        std::string text;
        char buffer[1 << 16];
        for (ssize_t n; (n = ::read(fd_, buffer, sizeof buffer)) != 0;) {
            if (n < 0 && errno == EINTR) continue;
            GLM4V_CHECK(n > 0, ErrorKind::Io) << "cannot read " << path.string() << ": " << errno_text();
            text.append(buffer, static_cast<std::size_t>(n));
        }

        // What follows the last newline was being written when the run stopped. It is kept when it is a
        // whole result (someone removed the final newline by hand), and given its newline back.
        const std::size_t complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
        if (complete < text.size()) {
            if (is_result(parse_line(text.substr(complete)))) {
                text += '\n';
                GLM4V_CHECK(::write(fd_, "\n", 1) == 1 && ::fdatasync(fd_) == 0, ErrorKind::Io)
                    << "cannot write " << path.string() << ": " << errno_text();
            } else {
                dropped_bytes_ = text.size() - complete;
                text.resize(complete);
                GLM4V_CHECK(::ftruncate(fd_, static_cast<off_t>(complete)) == 0 && ::fdatasync(fd_) == 0, ErrorKind::Io)
                    << "cannot cut the incomplete last line of " << path.string() << ": " << errno_text();
            }
        }

        std::size_t line_number = 0;
        for (std::size_t begin = 0; begin < text.size();) {
            std::size_t end = text.find('\n', begin);
            if (end == std::string::npos) end = text.size();
            const std::string line = text.substr(begin, end - begin);
            begin = end + 1;
            ++line_number;
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            const Json j = parse_line(line);
            // Not ours: refuse rather than append results to someone else's file.
            GLM4V_CHECK(is_result(j), ErrorKind::InvalidInput)
                << path.string() << ", line " << line_number
                << ": not a glm4v batch result (an object with \"image\" and \"prompt\"); choose another --out";
            done_.emplace(batch_image_key(j["image"].get<std::string>()), j["prompt"].get<std::string>());
        }
    } catch (...) {
        ::close(fd_);
        throw;
    }
}

BatchResultsFile::~BatchResultsFile() {
    ::close(fd_);
}

bool BatchResultsFile::contains(const std::string& image, const std::string& prompt) const {
    return done_.count({batch_image_key(image), prompt}) > 0;
}

void BatchResultsFile::append(const BatchResult& r) {
    Json j;
    j["image"] = r.image;
    j["sha256"] = optional_json(r.sha256);
    j["prompt"] = r.prompt;
    j["reply"] = r.reply;
    j["finish"] = optional_json(r.finish);
    j["prompt_tokens"] = r.prompt_tokens;
    j["generated_tokens"] = r.generated_tokens;
    j["time_to_first_token_ms"] = r.time_to_first_token_ms;
    j["tokens_per_second"] = r.tokens_per_second;
    j["seconds"] = r.seconds;
    j["conversation"] = optional_json(r.conversation);
    j["error"] = optional_json(r.error);
    j["error_kind"] = optional_json(r.error_kind);
    // Replies are whole UTF-8 characters, but a file name need not be UTF-8: JSON gets U+FFFD for its
    // bad bytes rather than no line at all.
    const std::string line = j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";

    struct stat before {};
    GLM4V_CHECK(::fstat(fd_, &before) == 0, ErrorKind::Io) << "cannot stat " << path_.string() << ": " << errno_text();
    std::size_t written = 0;
    while (written < line.size()) {
        const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const std::string why = n < 0 ? errno_text() : "nothing written";
            // A half line would be dropped by the next open anyway; cutting it now keeps the file whole.
            const bool cut = ::ftruncate(fd_, before.st_size) == 0;
            GLM4V_FAIL(ErrorKind::Io) << "cannot write " << path_.string() << ": " << why
                                      << (cut ? "" : " (its partial last line is dropped by the next run)");
        }
        written += static_cast<std::size_t>(n);
    }
    GLM4V_CHECK(::fdatasync(fd_) == 0, ErrorKind::Io) << "cannot flush " << path_.string() << ": " << errno_text();
    done_.emplace(batch_image_key(r.image), r.prompt);
}

} // namespace glm4v::app::cli
