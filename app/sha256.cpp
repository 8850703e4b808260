#include "app/sha256.h"

#include <openssl/evp.h>

#include "engine/error.h"

namespace glm4v::app {
using engine::ErrorKind;

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    GLM4V_CHECK(ctx_ && EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) == 1,
                ErrorKind::OutOfMemory)
        << "cannot start a SHA-256 digest";
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(const void* data, std::size_t size) {
    if (size == 0) return;
    EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, size);
}

std::string Sha256::finish_raw() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest, &length);
    return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string to_hex(const std::string& raw) {
    static const char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(raw.size() * 2);
    for (unsigned char byte : raw) {
        hex.push_back(digits[byte >> 4]);
        hex.push_back(digits[byte & 15]);
    }
    return hex;
}

std::string sha256_hex(const void* data, std::size_t size) {
    Sha256 digest;
    digest.update(data, size);
    return to_hex(digest.finish_raw());
}

std::string sha256_hex(const std::string& bytes) { return sha256_hex(bytes.data(), bytes.size()); }

bool is_sha256_hex(const std::string& text) {
    if (text.size() != 64) return false;
    for (char c : text)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

} // namespace glm4v::app
