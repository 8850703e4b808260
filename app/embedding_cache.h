#pragma once
// Vision embeddings kept on disk, so that reopening a past conversation never re-runs the vision tower
// (DESIGN.md section 4). Keyed by (image sha256, model fingerprint); values are the float32 vectors of
// engine::runtime::Chat::image_embeddings(). Bounded in bytes, least recently used evicted first.
//
// One file per entry, <image sha256>-<hash of fingerprint>.emb: a header (magic, version, the key,
// element count), the floats, then a SHA-256 of all of it. A file that fails any check is deleted and
// read as a miss, so a torn or bit-rotted entry can never reach the model. Files are written atomically;
// recency is the file's modification time, which a hit refreshes.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace glm4v::app {

class EmbeddingCache {
public:
    static constexpr std::uint64_t kDefaultMaxBytes = std::uint64_t{2} << 30;

    // Creates `dir` when missing. Throws ErrorKind::Io when it cannot.
    explicit EmbeddingCache(std::filesystem::path dir, std::uint64_t max_bytes = kDefaultMaxBytes);

    // nullopt on a miss, including an entry that was damaged (and is now deleted).
    std::optional<std::vector<float>> get(const std::string& image_sha256, const std::string& model_fingerprint);
    // Stores, then evicts the least recently used entries until the total is within the bound. An entry
    // larger than the whole bound is not stored. Throws ErrorKind::Io when the write fails (a full disk).
    void put(const std::string& image_sha256, const std::string& model_fingerprint, const std::vector<float>& values);
    // Every entry of this image, whatever the model (the image left the history).
    void remove_image(const std::string& image_sha256);

    std::uint64_t size_bytes() const;
    std::uint64_t max_bytes() const { return max_bytes_; }
    const std::filesystem::path& dir() const { return dir_; }
    std::filesystem::path entry_path(const std::string& image_sha256, const std::string& model_fingerprint) const;

private:
    void evict(const std::filesystem::path& keep);

    std::filesystem::path dir_;
    std::uint64_t max_bytes_;
};

} // namespace glm4v::app
