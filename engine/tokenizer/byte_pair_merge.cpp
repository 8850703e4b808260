#include "engine/tokenizer/byte_pair_merge.h"

#include <algorithm>
#include <functional>

namespace glm4v::engine::tokenizer {
namespace {

// Up to here tiktoken's quadratic scan on the stack is cheapest; past it the heap wins (measured on
// bench_tokenizer's mixed Chinese/English text, where CJK pieces run to 90 bytes).
constexpr std::size_t kMaxShortPiece = 16;

} // namespace

void byte_pair_encode(const BpeRanks& ranks, const std::uint8_t* piece, std::size_t n, std::vector<TokenId>& out) {
    if (n == 1) {
        out.push_back(static_cast<TokenId>(ranks.byte_rank(piece[0])));
    } else if (n <= kMaxShortPiece) {
        byte_pair_encode_scan(ranks, piece, n, out);
    } else {
        byte_pair_encode_heap(ranks, piece, n, out);
    }
}

void byte_pair_encode_scan(const BpeRanks& ranks, const std::uint8_t* piece, std::size_t n, std::vector<TokenId>& out) {
    if (n == 0) return;
    // parts[i]: a current token starting at `start`, its own rank `token`, and `pair`, the rank of it merged
    // with its right neighbour. parts[count - 1] is a sentinel at the end of the piece.
    struct Part {
        std::uint32_t start;
        Rank token;
        Rank pair;
    };
    Part stack_parts[kMaxShortPiece + 1];
    std::vector<Part> heap_parts;
    if (n > kMaxShortPiece) heap_parts.resize(n + 1);
    Part* parts = n > kMaxShortPiece ? heap_parts.data() : stack_parts;
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
    for (std::size_t i = 0; i + 1 < count; ++i)
        out.push_back(static_cast<TokenId>(parts[i].token));
}

void byte_pair_encode_heap(const BpeRanks& ranks, const std::uint8_t* piece, std::size_t n, std::vector<TokenId>& out) {
    if (n == 0) return;
    // A doubly linked list of parts indexed by their first byte, and a min-heap of (pair rank, start).
    // Ordering by start breaks rank ties leftmost, which is what the scan does. Entries go stale when a
    // neighbour merges; a pair's bytes only grow, so an entry is current iff its rank is still the
    // part's pair rank. The buffers are per thread and reused, so a call allocates nothing once warm.
    constexpr std::uint32_t kNone = 0xFFFFFFFFu;
    struct Node {
        std::uint32_t prev;
        std::uint32_t next;
        Rank token; // kNoRank once merged into its left neighbour
        Rank pair;
    };
    thread_local std::vector<Node> nodes;
    thread_local std::vector<std::uint64_t> heap;
    nodes.resize(n);
    heap.clear();
    const auto greater = std::greater<std::uint64_t>();
    const auto compute_pair = [&](std::uint32_t i) {
        const std::uint32_t j = nodes[i].next;
        if (j == kNone) return BpeRanks::kNoRank;
        const std::uint32_t end = nodes[j].next == kNone ? static_cast<std::uint32_t>(n) : nodes[j].next;
        return ranks.find(piece + i, end - i);
    };
    const auto push = [&](std::uint32_t i) {
        if (nodes[i].pair == BpeRanks::kNoRank) return;
        heap.push_back((static_cast<std::uint64_t>(nodes[i].pair) << 32) | i);
        std::push_heap(heap.begin(), heap.end(), greater);
    };
    for (std::uint32_t i = 0; i < n; ++i)
        nodes[i] = {i > 0 ? i - 1 : kNone, i + 1 < n ? i + 1 : kNone, ranks.byte_rank(piece[i]),
                    i + 1 < n ? ranks.find(piece + i, 2) : BpeRanks::kNoRank};
    for (std::uint32_t i = 0; i + 1 < n; ++i)
        if (nodes[i].pair != BpeRanks::kNoRank) heap.push_back((static_cast<std::uint64_t>(nodes[i].pair) << 32) | i);
    std::make_heap(heap.begin(), heap.end(), greater);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), greater);
        const std::uint64_t top = heap.back();
        heap.pop_back();
        const auto i = static_cast<std::uint32_t>(top & 0xFFFFFFFFu);
        const auto rank = static_cast<Rank>(top >> 32);
        Node& node = nodes[i];
        if (node.token == BpeRanks::kNoRank || node.pair != rank) continue;
        const std::uint32_t j = node.next; // merges into i
        node.token = rank;
        nodes[j].token = BpeRanks::kNoRank;
        node.next = nodes[j].next;
        if (node.next != kNone) nodes[node.next].prev = i;
        node.pair = compute_pair(i);
        push(i);
        if (node.prev != kNone) {
            nodes[node.prev].pair = compute_pair(node.prev);
            push(node.prev);
        }
    }
    for (std::uint32_t i = 0; i != kNone; i = nodes[i].next)
        out.push_back(static_cast<TokenId>(nodes[i].token));
}

} // namespace glm4v::engine::tokenizer
