#include <catch2/catch.hpp>
#include <fstream>

#include "app/embedding_cache.h"
#include "app/paths.h"
#include "app/sha256.h"
#include "engine/error.h"
#include "tests/app/scratch_home.h"

namespace app = glm4v::app;
namespace fs = std::filesystem;

namespace {
std::string key(int n) { return app::sha256_hex("image " + std::to_string(n)); }

std::vector<float> values(std::size_t count, float seed) {
    std::vector<float> v(count);
    for (std::size_t i = 0; i < count; ++i) v[i] = seed + static_cast<float>(i) * 0.25f;
    return v;
}
} // namespace

TEST_CASE("embeddings come back exactly as stored, per image and model", "[app][embeddings]") {
    glm4v::test::ScratchHome home;
    app::EmbeddingCache cache(app::embedding_cache_dir());
    CHECK_FALSE(cache.get(key(1), "glm-4v-9b/bf16"));
    const auto stored = values(1602 * 16, -3.5f);
    cache.put(key(1), "glm-4v-9b/bf16", stored);
    CHECK(cache.get(key(1), "glm-4v-9b/bf16") == stored);
    CHECK_FALSE(cache.get(key(1), "glm-4v-9b/nf4"));
    CHECK_FALSE(cache.get(key(2), "glm-4v-9b/bf16"));
    // Survives a new cache object (a restart).
    app::EmbeddingCache reopened(app::embedding_cache_dir());
    CHECK(reopened.get(key(1), "glm-4v-9b/bf16") == stored);
    cache.put(key(1), "glm-4v-9b/bf16", values(3, 1.0f)); // replaces
    CHECK(cache.get(key(1), "glm-4v-9b/bf16") == values(3, 1.0f));
    cache.put(key(3), "m", {});
    CHECK(cache.get(key(3), "m") == std::vector<float>{});
}

TEST_CASE("the least recently used entries are evicted at the size bound", "[app][embeddings]") {
    glm4v::test::ScratchHome home;
    const std::size_t count = 1000; // 4000 bytes of floats, plus header, key and checksum
    app::EmbeddingCache probe(app::cache_dir() / "probe");
    probe.put(key(0), "m", values(count, 0));
    const std::uint64_t entry_bytes = probe.size_bytes();
    REQUIRE(entry_bytes > count * 4);

    app::EmbeddingCache cache(app::embedding_cache_dir(), entry_bytes * 3);
    cache.put(key(1), "m", values(count, 1));
    cache.put(key(2), "m", values(count, 2));
    cache.put(key(3), "m", values(count, 3));
    CHECK(cache.size_bytes() == entry_bytes * 3);
    REQUIRE(cache.get(key(1), "m")); // 1 is now the most recently used; 2 the least
    cache.put(key(4), "m", values(count, 4));
    CHECK(cache.size_bytes() <= entry_bytes * 3);
    CHECK_FALSE(cache.get(key(2), "m"));
    CHECK(cache.get(key(1), "m") == values(count, 1));
    CHECK(cache.get(key(3), "m") == values(count, 3));
    CHECK(cache.get(key(4), "m") == values(count, 4));

    // An entry larger than the whole bound is not stored, and evicts nothing.
    cache.put(key(5), "m", values(count * 4, 5));
    CHECK_FALSE(cache.get(key(5), "m"));
    CHECK(cache.get(key(4), "m"));
}

TEST_CASE("a corrupted or truncated entry is a miss and is deleted", "[app][embeddings]") {
    glm4v::test::ScratchHome home;
    app::EmbeddingCache cache(app::embedding_cache_dir());
    const auto stored = values(500, 7);
    const fs::path path = cache.entry_path(key(1), "m");

    SECTION("one flipped bit in the floats") {
        cache.put(key(1), "m", stored);
        std::string bytes = glm4v::test::read_file(path);
        bytes[bytes.size() / 2] ^= 0x10;
        glm4v::test::write_file(path, bytes);
    }
    SECTION("truncated") {
        cache.put(key(1), "m", stored);
        const std::string bytes = glm4v::test::read_file(path);
        glm4v::test::write_file(path, bytes.substr(0, bytes.size() - 100));
    }
    SECTION("a header claiming a huge element count") {
        cache.put(key(1), "m", stored);
        std::string bytes = glm4v::test::read_file(path);
        for (int i = 24; i < 32; ++i) bytes[static_cast<std::size_t>(i)] = '\x7f';
        glm4v::test::write_file(path, bytes);
    }
    SECTION("an empty file") {
        glm4v::test::write_file(path, "");
    }
    SECTION("someone else's file") {
        glm4v::test::write_file(path, "not an embedding cache entry at all, just text that is long enough");
    }
    CHECK_FALSE(cache.get(key(1), "m"));
    CHECK_FALSE(fs::exists(path));
    cache.put(key(1), "m", stored); // and the slot works again
    CHECK(cache.get(key(1), "m") == stored);
}

TEST_CASE("an image key that is not a SHA-256 is refused before it reaches a file name", "[app][embeddings]") {
    glm4v::test::ScratchHome home;
    app::EmbeddingCache cache(app::embedding_cache_dir());
    CHECK_THROWS_AS(cache.put("../../etc/passwd", "m", {1.0f}), glm4v::engine::Error);
    CHECK_THROWS_AS(cache.get("ABC", "m"), glm4v::engine::Error);
}

TEST_CASE("remove_image drops every model's entry for that image and no other", "[app][embeddings]") {
    glm4v::test::ScratchHome home;
    app::EmbeddingCache cache(app::embedding_cache_dir());
    cache.put(key(1), "a", {1});
    cache.put(key(1), "b", {2});
    cache.put(key(2), "a", {3});
    cache.remove_image(key(1));
    CHECK_FALSE(cache.get(key(1), "a"));
    CHECK_FALSE(cache.get(key(1), "b"));
    CHECK(cache.get(key(2), "a") == std::vector<float>{3});
}
