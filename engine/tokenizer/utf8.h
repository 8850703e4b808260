#pragma once
// UTF-8 checks and repair shared by the encoder (which accepts only valid text) and the decoders (which
// turn token bytes back into text). Repair follows the Unicode "maximal subpart" practice (Unicode 15,
// section 3.9, U+FFFD substitution), the same one Python's bytes.decode(errors="replace") uses, so our
// decode() equals the reference tokenizer's byte for byte.

#include <cstddef>
#include <string>
#include <string_view>

namespace glm4v::engine::tokenizer {

// Offset of the first byte that does not belong to a well-formed UTF-8 sequence, or text.size().
// Surrogates (ED A0..BF) and overlong forms are ill-formed, as in the standard.
std::size_t utf8_valid_prefix(std::string_view bytes);

// Appends `bytes` to `out` as valid UTF-8: each maximal ill-formed subpart becomes one U+FFFD. When
// `final` is false, a well-formed but unfinished sequence at the very end is not decoded: its length is
// returned so the caller can keep it for the next call. When `final` is true it becomes U+FFFD and 0 is
// returned.
std::size_t utf8_append_repaired(std::string& out, std::string_view bytes, bool final);

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD"; // U+FFFD

} // namespace glm4v::engine::tokenizer
