#pragma once
// tiktoken's byte-pair encoding of one piece: start from single bytes, repeatedly merge the adjacent pair
// whose concatenation has the lowest rank (the leftmost one on ties) until no adjacent pair is a token.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/tokenizer/bpe_ranks.h"
#include "engine/tokenizer/tokenizer.h"

namespace glm4v::engine::tokenizer {

// Appends the ranks of `piece`'s tokens to `out`. Short pieces (nearly all) use tiktoken's own scan on a
// stack array; long ones a heap, so a megabyte of one letter costs O(n log n), not O(n^2). Both give the
// same tokens.
void byte_pair_encode(const BpeRanks& ranks, const std::uint8_t* piece, std::size_t size, std::vector<TokenId>& out);

// The heap variant for any length; exposed so tests can compare it with the scan on short pieces too.
void byte_pair_encode_long(const BpeRanks& ranks, const std::uint8_t* piece, std::size_t size,
                           std::vector<TokenId>& out);

} // namespace glm4v::engine::tokenizer
