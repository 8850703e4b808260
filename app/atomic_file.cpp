#include "app/atomic_file.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/error.h"

namespace glm4v::app {
namespace fs = std::filesystem;
using engine::ErrorKind;

namespace {
constexpr const char* kTemporaryPrefix = ".tmp-";

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    int fd_;
};

void write_all(int fd, const void* data, std::size_t size, const fs::path& path) {
    const char* bytes = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t written = ::write(fd, bytes, size);
        if (written < 0 && errno == EINTR) continue;
        GLM4V_CHECK(written > 0, ErrorKind::Io) << "cannot write " << path << ": " << std::strerror(errno);
        bytes += written;
        size -= static_cast<std::size_t>(written);
    }
}

void fsync_dir(const fs::path& dir) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() >= 0) ::fsync(fd.get());
}
} // namespace

bool is_temporary_file_name(const std::string& name) { return name.rfind(kTemporaryPrefix, 0) == 0; }

void write_file_atomically(const fs::path& path, std::initializer_list<ByteSpan> pieces) {
    static std::atomic<unsigned> counter{0};
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    const fs::path temporary = dir / (std::string(kTemporaryPrefix) + std::to_string(::getpid()) + "-" +
                                      std::to_string(counter++) + "-" + path.filename().string());
    Fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    GLM4V_CHECK(fd.get() >= 0, ErrorKind::Io) << "cannot create " << temporary << ": " << std::strerror(errno);
    try {
        for (const ByteSpan& piece : pieces) write_all(fd.get(), piece.data, piece.size, temporary);
        GLM4V_CHECK(::fsync(fd.get()) == 0, ErrorKind::Io) << "cannot flush " << temporary << ": " << std::strerror(errno);
        GLM4V_CHECK(::close(fd.release()) == 0, ErrorKind::Io)
            << "cannot close " << temporary << ": " << std::strerror(errno);
        GLM4V_CHECK(::rename(temporary.c_str(), path.c_str()) == 0, ErrorKind::Io)
            << "cannot rename " << temporary << " to " << path << ": " << std::strerror(errno);
    } catch (...) {
        ::unlink(temporary.c_str());
        throw;
    }
    fsync_dir(dir);
}

void write_file_atomically(const fs::path& path, const void* data, std::size_t size) {
    write_file_atomically(path, {ByteSpan{data, size}});
}

std::string read_whole_file(const fs::path& path, std::size_t max_bytes) {
    // O_NONBLOCK: opening a FIFO someone dropped must not hang the worker; it is refused below.
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    GLM4V_CHECK(fd.get() >= 0, ErrorKind::Io) << "cannot open " << path << ": " << std::strerror(errno);
    struct stat info {};
    GLM4V_CHECK(::fstat(fd.get(), &info) == 0, ErrorKind::Io) << "cannot stat " << path << ": " << std::strerror(errno);
    GLM4V_CHECK(S_ISREG(info.st_mode), ErrorKind::Io)
        << "cannot read " << path << ": " << (S_ISDIR(info.st_mode) ? "it is a directory" : "not a regular file");
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
    GLM4V_CHECK(static_cast<std::uint64_t>(info.st_size) <= max_bytes, ErrorKind::InvalidInput)
        << path << " is " << info.st_size << " bytes; the largest accepted is " << max_bytes;
    std::string bytes;
    bytes.reserve(static_cast<std::size_t>(info.st_size));
    char buffer[1 << 16];
    for (;;) {
        const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        GLM4V_CHECK(got >= 0, ErrorKind::Io) << "cannot read " << path << ": " << std::strerror(errno);
        if (got == 0) break;
        bytes.append(buffer, static_cast<std::size_t>(got));
        // A file that grows while we read it (or a FIFO) must not get past the bound either.
        GLM4V_CHECK(bytes.size() <= max_bytes, ErrorKind::InvalidInput)
            << path << " is over " << max_bytes << " bytes, the largest accepted";
    }
    return bytes;
}

} // namespace glm4v::app
