// SentencePiece models behind the same interface: a model trained here with libsentencepiece's trainer,
// loaded from a folder as tokenizer.model (told apart from tiktoken ranks by content), must encode and
// decode exactly as the library's own processor does, also when streamed.

#include <catch2/catch.hpp>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "engine/tokenizer/stream_decoder.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/test_support.h"
#include "tests/tokenizer/tokenizer_test_support.h"

using namespace glm4v::engine::tokenizer;

namespace {

class VectorIterator : public sentencepiece::SentenceIterator {
public:
    explicit VectorIterator(const std::vector<std::string>& lines) : lines_(lines) {}
    bool done() const override { return i_ >= lines_.size(); }
    void Next() override { ++i_; }
    const std::string& value() const override { return lines_[i_]; }
    sentencepiece::util::Status status() const override { return {}; }

private:
    const std::vector<std::string>& lines_;
    std::size_t i_ = 0;
};

const std::vector<std::string>& training_lines() {
    static const std::vector<std::string> lines = [] {
        const std::vector<std::string> base = {"The quick brown fox jumps over the lazy dog.",
                                               "Describe this image in detail.",
                                               "What is written on the sign?",
                                               "请详细描述这张图片的内容。",
                                               "图中有什么文字？",
                                               "这是一只橘色短毛猫，正坐在窗台上。",
                                               "Invoice total: $1,234.56 due 2024-06-18.",
                                               "A photo of a red car parked next to a green tree."};
        std::vector<std::string> out;
        for (int i = 0; i < 40; ++i)
            for (const auto& s : base)
                out.push_back(s + " " + std::to_string(i));
        return out;
    }();
    return lines;
}

std::string train_model(const std::string& model_type, bool byte_fallback) {
    VectorIterator it(training_lines());
    std::string serialized;
    const auto status = sentencepiece::SentencePieceTrainer::Train(
        "--model_type=" + model_type + " --vocab_size=" + (byte_fallback ? "400" : "100") +
            " --character_coverage=1.0 --minloglevel=2" + (byte_fallback ? " --byte_fallback=true" : ""),
        &it, &serialized);
    INFO(status.ToString());
    REQUIRE(status.ok());
    return serialized;
}

} // namespace

TEST_CASE("a SentencePiece tokenizer.model encodes and decodes as libsentencepiece does",
          "[tokenizer][sentencepiece]") {
    const auto [model_type, byte_fallback] =
        GENERATE(std::make_pair(std::string("bpe"), true), std::make_pair(std::string("unigram"), false));
    INFO(model_type << (byte_fallback ? " with byte fallback" : ""));
    const std::string serialized = train_model(model_type, byte_fallback);
    glm4v::test::ScratchDir dir;
    glm4v::test::write_file(dir / "tokenizer.model", serialized);
    glm4v::test::write_file(dir / "tokenizer_config.json",
                            R"({"added_tokens_decoder": {"500": {"content": "<|user|>", "special": true}}})");
    const auto tokenizer = load_tokenizer(dir.path());
    REQUIRE(tokenizer->format() == TokenizerFormat::SentencePiece);

    sentencepiece::SentencePieceProcessor reference;
    REQUIRE(reference.LoadFromSerializedProto(serialized).ok());
    CHECK(tokenizer->vocab_size() == 501);
    CHECK(tokenizer->special_token_id("<|user|>") == std::optional<TokenId>(500));
    CHECK(tokenizer->special_token_id("</s>") == std::optional<TokenId>(reference.PieceToId("</s>")));

    const std::vector<std::string> texts = {"The quick brown fox.",
                                            "请详细描述这张图片。",
                                            "  leading and   inner spaces ",
                                            "unseen: xylophone 😀 ½",
                                            "<|user|> typed by hand",
                                            "mixed中文and English 123",
                                            "",
                                            "Ω≈ç√∫",
                                            "tab\tand\nnewline"};
    for (const std::string& text : texts) {
        INFO("text '" << text << "'");
        std::vector<int> expected;
        REQUIRE(reference.Encode(text, &expected).ok());
        const std::vector<TokenId> ids = tokenizer->encode(text);
        CHECK(ids == std::vector<TokenId>(expected.begin(), expected.end()));
        std::string expected_text;
        REQUIRE(reference.Decode(expected, &expected_text).ok());
        CHECK(tokenizer->decode(ids) == expected_text);

        StreamDecoder stream(*tokenizer);
        std::string streamed;
        for (const TokenId id : ids)
            streamed += stream.push(id);
        streamed += stream.finish();
        CHECK(streamed == expected_text);

        // A special token from the config decodes to its content between ordinary pieces.
        std::vector<TokenId> with_special = ids;
        with_special.push_back(500);
        with_special.insert(with_special.end(), ids.begin(), ids.end());
        std::string tail;
        REQUIRE(reference.Decode(expected, &tail).ok());
        CHECK(tokenizer->decode(with_special) == expected_text + "<|user|>" + tail);
    }
}
