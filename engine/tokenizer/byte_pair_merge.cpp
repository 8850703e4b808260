#include "engine/tokenizer/byte_pair_merge.h"

#include <algorithm>
#include <functional>
#include <queue>

namespace glm4v::engine::tokenizer {
namespace {

constexpr std::size_t kMaxShortPiece = 128;

} // namespace

void byte_pair_encode(const BpeRanks& ranks, const std::uint8_t* piece, std::size_t n, std::vector<TokenId>& out) {
    if (n == 0) return;
    if (n == 1) {
        out.push_back(static_cast<TokenId>(ranks.byte_rank(piece[0])));
        return;
    }
    if (n > kMaxShortPiece) {
        byte_pair_encode_long(ranks, piece, n, out);
        return;
    }
    // parts[i]: a current token starting at `start`, its own rank `token`, and `pair`, the rank of it merged
    // with its right neighbour. parts[count - 1] is a sentinel at the end of the piece.
    struct Part {
        std::uint32_t start;
        Rank token;
        Rank pair;
    };
    Part parts[kMaxShortPiece + 1];
    std::size_t count = n + 1;
    for (std::size_t i = 0; i < n; ++i)
        parts[i] = {static_cast<std::uint32_t>(i), ranks.byte_rank(piece[i]),
                    i + 1 < n ? ranks.find(piece + i, 2) : BpeRanks::kNoRank};
    parts[n] = {static_cast<std::uint32_t>(n), BpeRanks::kNoRank, BpeRanks::kNoRank};

    const auto pair_rank = [&](std::size_t i) {
        // The bytes of parts[i] and parts[i + 1] together; none past the last real part.
        return i + 2 < count ? ranks.find(piece + parts[i].start, parts[i + 2].start - parts[i].start)
                             : BpeRanks::kNoRank;
    };
    for (;;) {
        Rank best = BpeRanks::kNoRank;
        std::size_t at = 0;
        for (std::size_t i = 0; i + 1 < count; ++i)
            if (parts[i].pair < best) { // strict: the leftmost of equal ranks wins, as in tiktoken
                best = parts[i].pair;
                at = i;
            }
        if (best == BpeRanks::kNoRank) break;
        parts[at].token = best;
        std::copy(parts + at + 2, parts + count, parts + at + 1);
        --count;
        parts[at].pair = pair_rank(at);
        if (at > 0) parts[at - 1].pair = pair_rank(at - 1);
    }
    for (std::size_t i = 0; i + 1 < count; ++i) out.push_back(static_cast<TokenId>(parts[i].token));
}

void byte_pair_encode_long(const BpeRanks& ranks, const std::uint8_t* piece, std::size_t n,
                           std::vector<TokenId>& out) {
    if (n == 0) return;
    // A doubly linked list of parts indexed by their first byte, and a min-heap of (pair rank, start).
    // Ordering by start breaks rank ties leftmost, which is what the scan does. Entries go stale when a
    // neighbour merges; a pair's bytes only grow, so an entry is current iff its rank is still the
    // part's pair rank.
    constexpr std::uint32_t kNone = 0xFFFFFFFFu;
    std::vector<std::uint32_t> next(n), prev(n);
    std::vector<Rank> token(n), pair(n);
    std::vector<bool> alive(n, true);
    std::vector<std::uint64_t> heap_storage;
    heap_storage.reserve(n);
    std::priority_queue<std::uint64_t, std::vector<std::uint64_t>, std::greater<>> heap(std::greater<>(),
                                                                                        std::move(heap_storage));
    const auto end_of = [&](std::uint32_t i) { return next[i] == kNone ? static_cast<std::uint32_t>(n) : next[i]; };
    const auto compute_pair = [&](std::uint32_t i) {
        if (next[i] == kNone) return BpeRanks::kNoRank;
        return ranks.find(piece + i, end_of(next[i]) - i);
    };
    const auto push = [&](std::uint32_t i) {
        if (pair[i] != BpeRanks::kNoRank) heap.push((static_cast<std::uint64_t>(pair[i]) << 32) | i);
    };
    for (std::uint32_t i = 0; i < n; ++i) {
        next[i] = i + 1 < n ? i + 1 : kNone;
        prev[i] = i > 0 ? i - 1 : kNone;
        token[i] = ranks.byte_rank(piece[i]);
    }
    for (std::uint32_t i = 0; i < n; ++i) {
        pair[i] = compute_pair(i);
        push(i);
    }
    while (!heap.empty()) {
        const std::uint64_t top = heap.top();
        heap.pop();
        const auto i = static_cast<std::uint32_t>(top & 0xFFFFFFFFu);
        const auto rank = static_cast<Rank>(top >> 32);
        if (!alive[i] || pair[i] != rank) continue;
        const std::uint32_t j = next[i]; // merges into i
        token[i] = rank;
        alive[j] = false;
        next[i] = next[j];
        if (next[j] != kNone) prev[next[j]] = i;
        pair[i] = compute_pair(i);
        push(i);
        if (prev[i] != kNone) {
            pair[prev[i]] = compute_pair(prev[i]);
            push(prev[i]);
        }
    }
    for (std::uint32_t i = 0; i != kNone; i = next[i]) out.push_back(static_cast<TokenId>(token[i]));
}

} // namespace glm4v::engine::tokenizer
