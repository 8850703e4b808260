#include "engine/io/safetensors_writer.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace glm4v::engine::io {
namespace fs = std::filesystem;

namespace {
std::string errno_text() { return std::strerror(errno); }

void fsync_folder(const fs::path& folder) {
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return; // some file systems cannot open folders; the rename is still atomic
    ::fsync(fd);
    ::close(fd);
}
} // namespace

SafetensorsWriter::SafetensorsWriter(std::string path)
    : path_(std::move(path)), temp_path_(path_ + ".tmp-" + std::to_string(::getpid())) {
    const fs::path folder = fs::path(path_).parent_path();
    std::error_code ec;
    if (!folder.empty()) fs::create_directories(folder, ec);
    GLM4V_CHECK(!ec, ErrorKind::Io) << "cannot create " << folder.string() << ": " << ec.message();
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    GLM4V_CHECK(fd_ >= 0, ErrorKind::Io) << "cannot create " << temp_path_ << ": " << errno_text();
}

SafetensorsWriter::~SafetensorsWriter() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_path_.c_str());
}

void SafetensorsWriter::declare(const std::string& name, DType dtype, std::vector<std::int64_t> shape) {
    GLM4V_CHECK(data_start_ == 0, ErrorKind::InvalidInput) << path_ << ": '" << name << "' declared after data was written";
    GLM4V_CHECK(!name.empty() && name != "__metadata__" && !entries_.count(name), ErrorKind::InvalidInput)
        << path_ << ": tensor name '" << name << "' is empty, reserved or declared twice";
    Entry e;
    e.dtype = dtype;
    std::size_t count = 1;
    for (const std::int64_t d : shape) {
        GLM4V_CHECK(d >= 0, ErrorKind::InvalidInput) << path_ << ": '" << name << "' has a negative dimension";
        count *= static_cast<std::size_t>(d);
    }
    e.shape = std::move(shape);
    e.nbytes = count * dtype_size(dtype);
    entries_.emplace(name, std::move(e));
    order_.push_back(name);
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
    GLM4V_CHECK(data_start_ == 0, ErrorKind::InvalidInput) << path_ << ": metadata set after data was written";
    metadata_[key] = value;
}

void SafetensorsWriter::write_header() {
    std::vector<std::string> by_size = order_;
    std::stable_sort(by_size.begin(), by_size.end(), [&](const std::string& a, const std::string& b) {
        return dtype_size(entries_.at(a).dtype) > dtype_size(entries_.at(b).dtype);
    });
    std::size_t offset = 0;
    for (const std::string& name : by_size) {
        Entry& e = entries_.at(name);
        e.offset = offset;
        offset += e.nbytes;
    }
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata_.empty()) header["__metadata__"] = metadata_;
    for (const std::string& name : order_) {
        const Entry& e = entries_.at(name);
        header[name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {e.offset, e.offset + e.nbytes}}};
    }
    std::string text = header.dump();
    text.append((8 - (8 + text.size()) % 8) % 8, ' '); // the data section starts 8-byte aligned
    const std::uint64_t length = text.size();
    unsigned char prefix[8];
    for (int i = 0; i < 8; ++i) prefix[i] = static_cast<unsigned char>(length >> (8 * i));
    pwrite_all(prefix, 8, 0);
    pwrite_all(text.data(), text.size(), 8);
    data_start_ = 8 + length;
}

void SafetensorsWriter::write(const std::string& name, const void* data, std::size_t nbytes) {
    auto it = entries_.find(name);
    GLM4V_CHECK(it != entries_.end(), ErrorKind::InvalidInput) << path_ << ": '" << name << "' was not declared";
    Entry& e = it->second;
    GLM4V_CHECK(!e.written && nbytes == e.nbytes, ErrorKind::InvalidInput)
        << path_ << ": '" << name << "' written twice or with " << nbytes << " bytes, declared " << e.nbytes;
    if (data_start_ == 0) write_header();
    pwrite_all(data, nbytes, data_start_ + e.offset);
    e.written = true;
}

void SafetensorsWriter::pwrite_all(const void* data, std::size_t nbytes, std::uint64_t offset) {
    const auto* p = static_cast<const unsigned char*>(data);
    while (nbytes > 0) {
        const ssize_t n = ::pwrite(fd_, p, std::min<std::size_t>(nbytes, std::size_t{1} << 30), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        GLM4V_CHECK(n > 0, ErrorKind::Io) << "cannot write " << temp_path_ << ": " << (n < 0 ? errno_text() : "no progress");
        p += n;
        nbytes -= static_cast<std::size_t>(n);
        offset += static_cast<std::uint64_t>(n);
    }
}

void SafetensorsWriter::commit() {
    GLM4V_CHECK(!committed_, ErrorKind::InvalidInput) << path_ << ": committed twice";
    if (data_start_ == 0) write_header();
    for (const auto& [name, e] : entries_)
        GLM4V_CHECK(e.written, ErrorKind::InvalidInput) << path_ << ": '" << name << "' was declared but never written";
    GLM4V_CHECK(::fsync(fd_) == 0, ErrorKind::Io) << "cannot flush " << temp_path_ << ": " << errno_text();
    const int closed = ::close(fd_);
    fd_ = -1;
    GLM4V_CHECK(closed == 0, ErrorKind::Io) << "cannot close " << temp_path_ << ": " << errno_text();
    GLM4V_CHECK(::rename(temp_path_.c_str(), path_.c_str()) == 0, ErrorKind::Io)
        << "cannot rename " << temp_path_ << " to " << path_ << ": " << errno_text();
    committed_ = true;
    fsync_folder(fs::path(path_).parent_path());
}

void remove_stale_temporaries(const std::string& path) {
    const fs::path target(path);
    const std::string prefix = target.filename().string() + ".tmp-";
    std::error_code ec;
    for (fs::directory_iterator it(target.parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind(prefix, 0) != 0) continue;
        const std::string pid_text = name.substr(prefix.size());
        char* rest = nullptr;
        const long pid = std::strtol(pid_text.c_str(), &rest, 10);
        const bool running = pid > 0 && rest && *rest == '\0' && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
        if (!running) fs::remove(it->path(), ec);
    }
}

} // namespace glm4v::engine::io
