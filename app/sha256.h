#pragma once
// SHA-256 (OpenSSL) as lowercase hex: the content address of images and the key of cached embeddings.

#include <cstddef>
#include <cstdint>
#include <string>

namespace glm4v::app {

class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    void update(const void* data, std::size_t size);
    // 32 raw bytes; the object cannot be updated afterwards.
    std::string finish_raw();

private:
    void* ctx_; // EVP_MD_CTX, kept opaque so callers need no OpenSSL header
};

std::string sha256_hex(const void* data, std::size_t size);
std::string sha256_hex(const std::string& bytes);
std::string to_hex(const std::string& raw);
// 64 lowercase hex digits: what a content address must look like before it goes into a file name.
bool is_sha256_hex(const std::string& text);

} // namespace glm4v::app
