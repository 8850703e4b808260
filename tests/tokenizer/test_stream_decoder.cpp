// The streaming decoder: whole UTF-8 characters only, held back across tokens, U+FFFD only once bytes can
// no longer complete, and the same text as decode() of all ids.

#include <catch2/catch.hpp>

#include <random>

#include "engine/error.h"
#include "engine/tokenizer/stream_decoder.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/utf8.h"
#include "tests/support/test_support.h"
#include "tests/tokenizer/tokenizer_test_support.h"

using namespace glm4v::engine::tokenizer;
using glm4v::engine::Error;
using glm4v::engine::ErrorKind;

namespace {
const std::string kReplacement = "\xEF\xBF\xBD";

// Rank 256 onward: pieces of 中 (E4 B8 AD) and 😀 (F0 9F 98 80) cut at every point.
const std::vector<std::string> kSplitTokens = {
    "\xE4\xB8", "\xAD!", "\xF0\x9F", "\x98\x80", "\xF0\x9F\x98", "\x80 ok", "\xB8\xAD",
};
TokenId id_of(const TiktokenTokenizer& t, const std::string& bytes) {
    return static_cast<TokenId>(t.ranks().find(bytes));
}

std::vector<std::string> push_all(StreamDecoder& d, const std::vector<TokenId>& ids) {
    std::vector<std::string> out;
    for (const TokenId id : ids)
        out.push_back(d.push(id));
    out.push_back(d.finish());
    return out;
}
} // namespace

TEST_CASE("a character split across tokens comes out whole with its last byte", "[tokenizer][stream]") {
    const auto t = glm4v::test::make_tiktoken(kSplitTokens);
    StreamDecoder d(t);
    SECTION("CJK split 2 + 1") {
        const auto out = push_all(d, {id_of(t, "\xE4\xB8"), id_of(t, "\xAD!")});
        CHECK(out == std::vector<std::string>{"", "\xE4\xB8\xAD!", ""});
    }
    SECTION("CJK split 1 + 2") {
        const auto out = push_all(d, {id_of(t, "\xE4"), id_of(t, "\xB8\xAD")});
        CHECK(out == std::vector<std::string>{"", "\xE4\xB8\xAD", ""});
    }
    SECTION("emoji split 2 + 2 and 3 + 1, then text") {
        const auto out =
            push_all(d, {id_of(t, "\xF0\x9F"), id_of(t, "\x98\x80"), id_of(t, "\xF0\x9F\x98"), id_of(t, "\x80 ok")});
        CHECK(out == std::vector<std::string>{"", "\xF0\x9F\x98\x80", "", "\xF0\x9F\x98\x80 ok", ""});
    }
    SECTION("emoji byte by byte") {
        const auto out = push_all(d, {0xF0, 0x9F, 0x98, 0x80});
        CHECK(out == std::vector<std::string>{"", "", "", "\xF0\x9F\x98\x80", ""});
        CHECK(d.pending_bytes() == 0);
    }
}

TEST_CASE("invalid bytes become U+FFFD only when they can no longer complete", "[tokenizer][stream]") {
    const auto t = glm4v::test::make_tiktoken(kSplitTokens, {{"<|user|>", 300}});
    StreamDecoder d(t);
    SECTION("a byte that starts nothing is replaced at once") {
        CHECK(push_all(d, {0xFF, 'a'}) == std::vector<std::string>{kReplacement, "a", ""});
    }
    SECTION("a lead byte followed by a non-continuation byte") {
        CHECK(push_all(d, {0xE4, 'A'}) == std::vector<std::string>{"", kReplacement + "A", ""});
    }
    SECTION("an unfinished character at the end") {
        CHECK(push_all(d, {id_of(t, "\xE4\xB8")}) == std::vector<std::string>{"", kReplacement});
    }
    SECTION("a surrogate's encoding gives one U+FFFD per byte, as Python's decoder does") {
        // ED A0 80: ED may start a sequence but A0 cannot follow it, and neither A0 nor 80 starts one.
        CHECK(push_all(d, {0xED, 0xA0, 0x80}) ==
              std::vector<std::string>{"", kReplacement + kReplacement, kReplacement, ""});
    }
    SECTION("a special token ends a character in progress") {
        CHECK(push_all(d, {0xE4, 300, 'x'}) == std::vector<std::string>{"", kReplacement + "<|user|>", "x", ""});
    }
    SECTION("an id outside the vocabulary reads as U+FFFD instead of failing the reply") {
        CHECK(push_all(d, {'a', 5000, 'b'}) == std::vector<std::string>{"a", kReplacement, "b", ""});
        CHECK_THROWS_AS(t.decode({'a', 5000}), Error);
    }
}

TEST_CASE("the stream of a golden tokenizer's ids equals decode() and the text", "[tokenizer][stream][golden]") {
    const auto dirs = glm4v::test::golden_case_dirs();
    REQUIRE_FALSE(dirs.empty());
    const std::vector<std::string> texts = {
        "请详细描述这张图片的内容。", "Emoji 😀🎉 and accents: café",        "🇨🇳🇺🇸 flags",
        "数字 1234567 和 ２０２４年", "日本語のテキストも少し。한국어도.", ""};
    for (const auto& dir : dirs) {
        const auto tokenizer = load_tokenizer(dir / "model");
        for (const std::string& text : texts) {
            INFO("text '" << text << "'");
            const std::vector<TokenId> ids = tokenizer->encode(text);
            StreamDecoder d(*tokenizer);
            std::string streamed;
            for (const TokenId id : ids) {
                const std::string piece = d.push(id);
                // Every piece emitted on its own is valid UTF-8: that is the point of the decoder.
                std::string repaired;
                glm4v::engine::tokenizer::utf8_append_repaired(repaired, piece, true);
                CHECK(repaired == piece);
                streamed += piece;
            }
            streamed += d.finish();
            CHECK(streamed == text);
            CHECK(tokenizer->decode(ids) == text);
        }
    }
}

TEST_CASE("random token sequences stream to exactly what decode() returns", "[tokenizer][stream]") {
    const auto t = glm4v::test::make_tiktoken(kSplitTokens, {{"<|user|>", 300}});
    std::mt19937 rng(11);
    std::vector<TokenId> pool = {0xE4, 0xB8, 0xAD, 0xF0, 0x9F, 0x98, 0x80, 0xC3, 0xA9, 0xFF, 'a', ' ', 300};
    for (std::size_t i = 256; i < 256 + kSplitTokens.size(); ++i)
        pool.push_back(static_cast<TokenId>(i));
    for (int round = 0; round < 2000; ++round) {
        std::vector<TokenId> ids(rng() % 12);
        for (TokenId& id : ids)
            id = pool[rng() % pool.size()];
        StreamDecoder d(t);
        std::string streamed;
        for (const TokenId id : ids)
            streamed += d.push(id);
        streamed += d.finish();
        INFO("ids " << glm4v::test::ids_string(ids));
        REQUIRE(glm4v::test::printable(streamed) == glm4v::test::printable(t.decode(ids)));
    }
}
