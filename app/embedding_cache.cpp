#include "app/embedding_cache.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>

#include "app/atomic_file.h"
#include "app/paths.h"
#include "app/sha256.h"
#include "engine/error.h"
#include "engine/log.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "embedding cache files are little-endian; this host is not"
#endif

namespace glm4v::app {
namespace fs = std::filesystem;
using engine::ErrorKind;

namespace {

constexpr char kMagic[8] = {'G', 'L', 'M', '4', 'V', 'E', 'M', 'B'};
constexpr std::uint32_t kVersion = 1;
constexpr const char* kExtension = ".emb";
constexpr std::size_t kChecksumBytes = 32;
// Bounds a header can claim before we believe it and allocate.
constexpr std::uint32_t kMaxKeyBytes = 4096;

#pragma pack(push, 1)
struct Header {
    char magic[8];
    std::uint32_t version;
    std::uint32_t image_key_bytes;
    std::uint32_t model_key_bytes;
    std::uint32_t reserved;
    std::uint64_t element_count;
};
#pragma pack(pop)
static_assert(sizeof(Header) == 32);

// Modification times that strictly increase within this process. The kernel stamps files from a
// coarse clock (milliseconds apart at best), so two quick hits could tie and make LRU order arbitrary.
timespec next_stamp() {
    static std::atomic<std::int64_t> last{0};
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    std::int64_t ns = static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
    std::int64_t previous = last.load();
    for (;;) {
        const std::int64_t candidate = std::max(ns, previous + 1);
        if (last.compare_exchange_weak(previous, candidate)) {
            ns = candidate;
            break;
        }
    }
    return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

void touch(const fs::path& path) {
    const timespec stamp = next_stamp();
    const timespec times[2] = {stamp, stamp};
    utimensat(AT_FDCWD, path.c_str(), times, 0);
}

void check_image_key(const std::string& image_sha256) {
    GLM4V_CHECK(is_sha256_hex(image_sha256), ErrorKind::InvalidInput)
        << "embedding cache: '" << image_sha256 << "' is not a lowercase hex SHA-256";
}

void drop(const fs::path& path, const std::string& why) {
    engine::log_warn("EmbeddingCache: dropping ", path.filename().string(), ": ", why);
    std::error_code ec;
    fs::remove(path, ec);
}

} // namespace

EmbeddingCache::EmbeddingCache(fs::path dir, std::uint64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {
    ensure_dir(dir_);
}

fs::path EmbeddingCache::entry_path(const std::string& image_sha256, const std::string& model_fingerprint) const {
    check_image_key(image_sha256);
    return dir_ / (image_sha256 + "-" + sha256_hex(model_fingerprint).substr(0, 16) + kExtension);
}

std::optional<std::vector<float>> EmbeddingCache::get(const std::string& image_sha256,
                                                      const std::string& model_fingerprint) {
    const fs::path path = entry_path(image_sha256, model_fingerprint);
    std::error_code ec;
    if (!fs::exists(path, ec)) return std::nullopt;

    std::string bytes;
    try {
        bytes = read_whole_file(path, max_bytes_ + sizeof(Header) + 2 * kMaxKeyBytes + kChecksumBytes);
    } catch (const engine::Error& e) {
        drop(path, e.what());
        return std::nullopt;
    }
    Header header{};
    if (bytes.size() < sizeof(Header) + kChecksumBytes) {
        drop(path, "truncated header");
        return std::nullopt;
    }
    std::memcpy(&header, bytes.data(), sizeof header);
    if (std::memcmp(header.magic, kMagic, sizeof kMagic) != 0 || header.version != kVersion) {
        drop(path, "not an embedding cache file of version " + std::to_string(kVersion));
        return std::nullopt;
    }
    if (header.image_key_bytes > kMaxKeyBytes || header.model_key_bytes > kMaxKeyBytes ||
        header.element_count > (bytes.size() / sizeof(float))) {
        drop(path, "header claims more than the file holds");
        return std::nullopt;
    }
    const std::size_t keys = std::size_t{header.image_key_bytes} + header.model_key_bytes;
    const std::size_t payload = static_cast<std::size_t>(header.element_count) * sizeof(float);
    if (bytes.size() != sizeof(Header) + keys + payload + kChecksumBytes) {
        drop(path, "size does not match its header (truncated?)");
        return std::nullopt;
    }
    const std::size_t body = bytes.size() - kChecksumBytes;
    Sha256 digest;
    digest.update(bytes.data(), body);
    if (digest.finish_raw() != bytes.substr(body)) {
        drop(path, "checksum mismatch");
        return std::nullopt;
    }
    if (bytes.compare(sizeof(Header), header.image_key_bytes, image_sha256) != 0 ||
        bytes.compare(sizeof(Header) + header.image_key_bytes, header.model_key_bytes, model_fingerprint) != 0) {
        // Another key whose fingerprint hash prefix collides: not ours to use, and not ours to delete.
        return std::nullopt;
    }
    std::vector<float> values(static_cast<std::size_t>(header.element_count));
    std::memcpy(values.data(), bytes.data() + sizeof(Header) + keys, payload);
    touch(path);
    return values;
}

void EmbeddingCache::put(const std::string& image_sha256, const std::string& model_fingerprint,
                         const std::vector<float>& values) {
    const fs::path path = entry_path(image_sha256, model_fingerprint);
    GLM4V_CHECK(model_fingerprint.size() <= kMaxKeyBytes, ErrorKind::InvalidInput)
        << "embedding cache: model fingerprint longer than " << kMaxKeyBytes << " bytes";
    const std::size_t payload = values.size() * sizeof(float);
    const std::uint64_t total = sizeof(Header) + image_sha256.size() + model_fingerprint.size() + payload + kChecksumBytes;
    if (total > max_bytes_) {
        engine::log_warn("EmbeddingCache: an entry of ", total, " bytes is over the whole bound of ", max_bytes_,
                         " bytes; not cached");
        return;
    }
    Header header{};
    std::memcpy(header.magic, kMagic, sizeof kMagic);
    header.version = kVersion;
    header.image_key_bytes = static_cast<std::uint32_t>(image_sha256.size());
    header.model_key_bytes = static_cast<std::uint32_t>(model_fingerprint.size());
    header.element_count = values.size();
    Sha256 digest;
    digest.update(&header, sizeof header);
    digest.update(image_sha256.data(), image_sha256.size());
    digest.update(model_fingerprint.data(), model_fingerprint.size());
    digest.update(values.data(), payload);
    const std::string checksum = digest.finish_raw();
    write_file_atomically(path, {{&header, sizeof header},
                                 {image_sha256.data(), image_sha256.size()},
                                 {model_fingerprint.data(), model_fingerprint.size()},
                                 {values.data(), payload},
                                 {checksum.data(), checksum.size()}});
    touch(path);
    evict(path);
}

void EmbeddingCache::evict(const fs::path& keep) {
    struct Entry {
        fs::path path;
        std::uint64_t bytes;
        std::int64_t stamp_ns;
    };
    std::vector<Entry> entries;
    std::uint64_t total = 0;
    std::error_code ec;
    for (const auto& item : fs::directory_iterator(dir_, ec)) {
        const std::string name = item.path().filename().string();
        struct stat info {};
        if (::stat(item.path().c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
        const std::int64_t stamp = static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
        if (is_temporary_file_name(name)) {
            // Left by a writer that died; one still writing is younger than an hour.
            if (std::time(nullptr) - info.st_mtim.tv_sec > 3600) fs::remove(item.path(), ec);
            continue;
        }
        if (item.path().extension() != kExtension) continue;
        entries.push_back({item.path(), static_cast<std::uint64_t>(info.st_size), stamp});
        total += static_cast<std::uint64_t>(info.st_size);
    }
    if (total <= max_bytes_) return;
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.stamp_ns < b.stamp_ns; });
    for (const Entry& entry : entries) {
        if (total <= max_bytes_) break;
        if (entry.path == keep) continue;
        if (fs::remove(entry.path, ec)) total -= entry.bytes;
    }
}

void EmbeddingCache::remove_image(const std::string& image_sha256) {
    check_image_key(image_sha256);
    const std::string prefix = image_sha256 + "-";
    std::error_code ec;
    std::vector<fs::path> doomed;
    for (const auto& item : fs::directory_iterator(dir_, ec)) {
        const std::string name = item.path().filename().string();
        if (name.rfind(prefix, 0) == 0 && item.path().extension() == kExtension) doomed.push_back(item.path());
    }
    for (const fs::path& path : doomed) fs::remove(path, ec);
}

std::uint64_t EmbeddingCache::size_bytes() const {
    std::uint64_t total = 0;
    std::error_code ec;
    for (const auto& item : fs::directory_iterator(dir_, ec))
        if (item.path().extension() == kExtension && item.is_regular_file(ec)) total += item.file_size(ec);
    return total;
}

} // namespace glm4v::app
