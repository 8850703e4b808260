#pragma once
// A tiktoken rank file in memory: "base64(token bytes) rank" per line, the rank being both the token id
// and the merge priority (lower merges first). Lookups of byte strings are the hot path of encoding, so
// the table is open addressing over one byte arena: a probe compares a 32-bit tag before any bytes, and
// no lookup allocates.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace glm4v::engine::tokenizer {

using Rank = std::uint32_t;

class BpeRanks {
public:
    static constexpr Rank kNoRank = 0xFFFFFFFFu;

    // Throws ModelCorrupt naming `source_name` and the line for a malformed line, a repeated token or rank,
    // or a missing single byte (every byte must be a token, or some text could not be encoded).
    static BpeRanks parse(std::string_view file_text, const std::string& source_name);
    static BpeRanks read(const std::filesystem::path& path);

    // The rank of the token with exactly these bytes, or kNoRank.
    Rank find(const std::uint8_t* bytes, std::size_t size) const {
        // Two-byte lookups are most of all lookups (every merge starts from byte pairs): one array read.
        if (size == 2) return two_byte_ranks_[(static_cast<std::size_t>(bytes[0]) << 8) | bytes[1]];
        if (size > max_token_size_) return kNoRank; // long pieces and late merges skip the hash
        const std::uint64_t h = hash_bytes(bytes, size);
        const auto tag = static_cast<std::uint32_t>(h >> 32);
        for (std::size_t slot = h & mask_;; slot = (slot + 1) & mask_) {
            const Slot& s = slots_[slot];
            if (s.rank == kNoRank) return kNoRank;
            if (s.tag == tag && token_size(s.rank) == size &&
                std::memcmp(arena_.data() + begin_[s.rank], bytes, size) == 0)
                return s.rank;
        }
    }
    Rank find(std::string_view bytes) const {
        return find(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    }
    Rank byte_rank(std::uint8_t byte) const { return byte_ranks_[byte]; }

    bool has_rank(Rank rank) const { return rank < begin_.size() - 1 && token_size(rank) > 0; }
    // The token's bytes; empty for a rank the file does not have.
    std::string_view token(Rank rank) const {
        return has_rank(rank) ? std::string_view(arena_).substr(begin_[rank], token_size(rank)) : std::string_view();
    }
    std::size_t size() const { return count_; }
    Rank max_rank() const { return static_cast<Rank>(begin_.size() - 2); }

    static std::uint64_t hash_bytes(const std::uint8_t* p, std::size_t n) {
        std::uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
        while (n >= 8) {
            std::uint64_t v;
            std::memcpy(&v, p, 8);
            h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
            h ^= h >> 31;
            p += 8;
            n -= 8;
        }
        std::uint64_t v = 0;
        std::memcpy(&v, p, n);
        h = (h ^ v) * 0x94D049BB133111EBull;
        h ^= h >> 29;
        h *= 0xBF58476D1CE4E5B9ull;
        return h ^ (h >> 32);
    }

private:
    struct Slot {
        std::uint32_t tag = 0;
        Rank rank = kNoRank;
    };
    std::size_t token_size(Rank rank) const { return begin_[rank + 1] - begin_[rank]; }

    std::string arena_;                // every token's bytes, in rank order
    std::vector<std::uint32_t> begin_; // [max_rank + 2]: token r is arena_[begin_[r], begin_[r + 1])
    std::vector<Slot> slots_;          // power-of-two size, at most half full
    std::size_t mask_ = 0;
    std::size_t count_ = 0;
    std::size_t max_token_size_ = 0;
    Rank byte_ranks_[256] = {};
    std::vector<Rank> two_byte_ranks_; // [65536], kNoRank where the pair is no token
};

} // namespace glm4v::engine::tokenizer
