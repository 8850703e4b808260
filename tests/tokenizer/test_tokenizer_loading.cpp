// Loading: format told by content, special tokens from the config, and one clear error per broken folder.

#include <catch2/catch.hpp>

#include "engine/error.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/piece_splitter.h"
#include "engine/tokenizer/special_tokens.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/test_support.h"
#include "tests/tokenizer/tokenizer_test_support.h"

using namespace glm4v::engine::tokenizer;
using Catch::Matchers::Contains;
using glm4v::engine::Error;
using glm4v::engine::ErrorKind;

namespace {
const char* kConfig = R"({"added_tokens_decoder": {
    "258": {"content": "<|user|>", "special": true},
    "257": {"content": "[gMASK]", "special": true}}})";

ErrorKind kind_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    FAIL("no engine::Error thrown");
    return ErrorKind::Cancelled;
}
} // namespace

TEST_CASE("a rank file is recognised by its content whatever the file is called", "[tokenizer][load]") {
    glm4v::test::ScratchDir dir;
    glm4v::test::write_file(dir / "ranks.bin", glm4v::test::rank_file_text({"ab"}));
    glm4v::test::write_file(dir / "config.json", kConfig);
    const auto t = load_tokenizer_files(dir / "ranks.bin", dir / "config.json");
    CHECK(t->format() == TokenizerFormat::Tiktoken);
    CHECK(t->encode("ab") == std::vector<TokenId>{256});
    CHECK(t->special_token_id("<|user|>") == std::optional<TokenId>(258));
    CHECK(t->special_token_id("[gMASK]") == std::optional<TokenId>(257));
    CHECK_FALSE(t->special_token_id("<sop>").has_value());
    CHECK(t->vocab_size() == 259);
}

TEST_CASE("a broken model folder gives one clear error of the right kind", "[tokenizer][load]") {
    glm4v::test::ScratchDir dir;
    SECTION("no folder") {
        CHECK(kind_of([&] { load_tokenizer(dir / "nowhere"); }) == ErrorKind::ModelMissing);
        CHECK_THROWS_WITH(load_tokenizer(dir / "nowhere"), Contains("does not exist"));
    }
    SECTION("no tokenizer.model") {
        CHECK_THROWS_WITH(load_tokenizer(dir.path()), Contains("has no tokenizer.model"));
        CHECK(kind_of([&] { load_tokenizer(dir.path()); }) == ErrorKind::ModelMissing);
    }
    SECTION("no tokenizer_config.json") {
        glm4v::test::write_file(dir / "tokenizer.model", glm4v::test::rank_file_text({}));
        CHECK_THROWS_WITH(load_tokenizer(dir.path()), Contains("has no tokenizer_config.json"));
    }
    SECTION("a tokenizer.model that is neither format") {
        glm4v::test::write_file(dir / "tokenizer.model", "\x01\x02 this is not a tokenizer");
        glm4v::test::write_file(dir / "tokenizer_config.json", kConfig);
        CHECK(kind_of([&] { load_tokenizer(dir.path()); }) == ErrorKind::ModelCorrupt);
        CHECK_THROWS_WITH(load_tokenizer(dir.path()), Contains("neither a tiktoken rank file nor a SentencePiece"));
    }
    SECTION("a malformed rank line names its line") {
        glm4v::test::write_file(dir / "tokenizer.model", glm4v::test::rank_file_text({}) + "QUI= 256\n@@@ 257\n");
        glm4v::test::write_file(dir / "tokenizer_config.json", kConfig);
        CHECK_THROWS_WITH(load_tokenizer(dir.path()), Contains("tokenizer.model:258"));
    }
    SECTION("a rank file lacking a single byte") {
        std::string text = glm4v::test::rank_file_text({});
        text.erase(0, text.find('\n') + 1); // drop byte 0x00
        CHECK_THROWS_WITH(BpeRanks::parse(text, "r"), Contains("single byte 0x0"));
    }
    SECTION("a repeated token") {
        CHECK_THROWS_WITH(BpeRanks::parse(glm4v::test::rank_file_text({"a"}), "r"), Contains("appears twice"));
    }
    SECTION("a special token id that is also a rank") {
        CHECK_THROWS_WITH(glm4v::test::make_tiktoken({}, {{"<|user|>", 65}}), Contains("also an ordinary token"));
    }
    SECTION("a broken tokenizer_config.json") {
        CHECK_THROWS_WITH(parse_special_tokens("{", "cfg"), Contains("cfg: not valid JSON"));
        CHECK_THROWS_WITH(parse_special_tokens(R"({"added_tokens_decoder": {"x": {"content": "a"}}})", "cfg"),
                          Contains("'x' is not a token id"));
        CHECK_THROWS_WITH(parse_special_tokens(R"({"added_tokens_decoder": {"5": {"special": true}}})", "cfg"),
                          Contains("no string 'content'"));
    }
}

TEST_CASE("the chat template names the special token a tokenizer lacks", "[tokenizer][chat]") {
    const auto t = glm4v::test::make_tiktoken({}, {{"[gMASK]", 257}, {"<|user|>", 258}});
    CHECK_THROWS_WITH(ChatTemplate(t), Contains("'<sop>'"));
    CHECK(kind_of([&] { ChatTemplate c(t); }) == ErrorKind::ModelCorrupt);
}

TEST_CASE("text that is not valid UTF-8 is refused, not mis-tokenized", "[tokenizer]") {
    const auto t = glm4v::test::make_tiktoken({});
    CHECK(kind_of([&] { t.encode("ok \xFF then"); }) == ErrorKind::InvalidInput);
    CHECK_THROWS_WITH(t.encode("ok \xC3"), Contains("byte 3 of 4"));
}

TEST_CASE("a whole piece that is a token wins over its merges", "[tokenizer]") {
    // tiktoken looks the piece itself up first: "abc" is one token although no pair of it is a token.
    const auto t = glm4v::test::make_tiktoken({"abc"});
    CHECK(t.encode("abc") == std::vector<TokenId>{256});
    CHECK(t.encode("abcd") == std::vector<TokenId>{'a', 'b', 'c', 'd'});
}

TEST_CASE("merges take the lowest rank first and the leftmost pair on ties", "[tokenizer]") {
    CHECK(glm4v::test::make_tiktoken({"ab", "bc"}).encode("abcd") == std::vector<TokenId>{256, 'c', 'd'});
    CHECK(glm4v::test::make_tiktoken({"bc", "ab"}).encode("abcd") == std::vector<TokenId>{'a', 256, 'd'});
    // "aaab": the pairs at 0 and 1 are both "aa"; the left one merges first.
    CHECK(glm4v::test::make_tiktoken({"aa"}).encode("aaab") == std::vector<TokenId>{256, 'a', 'b'});
}

TEST_CASE("only text with code points PCRE2 classifies differently takes the corrected pattern", "[tokenizer]") {
    CHECK_FALSE(PieceSplitter::needs_exact_pattern("plain English, 中文, emoji \xF0\x9F\x98\x80, \xE3\x80\x80"));
    CHECK(PieceSplitter::needs_exact_pattern("a\xE1\xA0\x8E"
                                             "b"));                  // U+180E
    CHECK(PieceSplitter::needs_exact_pattern("x \xF0\x90\xB5\x8A")); // U+10D4A, a letter since Unicode 16
    CHECK(PieceSplitter::needs_exact_pattern("\xEA\x9F\x8B"));       // U+A7CB
    CHECK_FALSE(PieceSplitter::needs_exact_pattern("\xEA\x9F\x8A")); // U+A7CA, a letter PCRE2 knows
    // Both patterns split such text the same way tiktoken does: the oracle test's probe covers every code point.
    // U+180E is no space for tiktoken: "!" and it form one punctuation piece, so "!" merges with its bytes.
    const auto t = glm4v::test::make_tiktoken({"\xE1\xA0", "!\xE1\xA0"});
    CHECK(t.encode("!\xE1\xA0\x8E") == std::vector<TokenId>{257, 0x8E});
}
