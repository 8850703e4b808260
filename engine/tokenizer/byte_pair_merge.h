#pragma once
// tiktoken's byte-pair encoding of one piece: start from single bytes, repeatedly merge the adjacent pair
// whose concatenation has the lowest rank (the leftmost one on ties) until no adjacent pair is a token.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/tokenizer/bpe_ranks.h"
#include "engine/tokenizer/tokenizer.h"

namespace glm4v::engine::tokenizer {

// Appends the ranks of `piece`'s tokens to `out`: short pieces (nearly all) through the scan, long ones
// through the heap. Both give the same tokens.
void byte_pair_encode(const BpeRanks& ranks, const std::uint8_t* piece, std::size_t size, std::vector<TokenId>& out);

// tiktoken's own algorithm: each round scans all pairs for the lowest rank. O(n^2), fastest for short pieces.
void byte_pair_encode_scan(const BpeRanks& ranks, const std::uint8_t* piece, std::size_t size,
                           std::vector<TokenId>& out);

// The same merges through a min-heap over a linked list: O(n log n), so a megabyte of one letter stays
// cheap. Per-thread buffers: no allocation once warm.
void byte_pair_encode_heap(const BpeRanks& ranks, const std::uint8_t* piece, std::size_t size,
                           std::vector<TokenId>& out);

} // namespace glm4v::engine::tokenizer
