// Chat behaviour on the golden tiny model: streaming, cancellation, the context limit, cached image
// embeddings, seeded sampling.
#include <catch2/catch.hpp>

#include <atomic>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "engine/error.h"
#include "engine/model/glm4v.h"
#include "engine/runtime/chat.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/test_support.h"

using namespace glm4v::engine;
using runtime::Chat;
using runtime::FinishReason;
using runtime::GenerationOptions;

namespace {
std::shared_ptr<const model::Glm4v> tiny_model() {
    static std::shared_ptr<const model::Glm4v> model = [] {
        const auto dirs = glm4v::test::golden_case_dirs();
        REQUIRE_FALSE(dirs.empty());
        model::LoadOptions options;
        options.device = "cpu";
        return model::Glm4v::load((dirs.front() / "model").string(), options);
    }();
    return model;
}

RgbImage golden_image() {
    cv::Mat bgr = cv::imread((glm4v::test::golden_case_dirs().front() / "image.png").string(), cv::IMREAD_COLOR);
    REQUIRE_FALSE(bgr.empty());
    cv::cvtColor(bgr, bgr, cv::COLOR_BGR2RGB);
    return RgbImage{bgr.cols, bgr.rows, std::vector<std::uint8_t>(bgr.data, bgr.data + bgr.total() * 3)};
}

GenerationOptions greedy(int tokens) {
    GenerationOptions o;
    o.temperature = 0;
    o.ignore_eos = true;
    o.max_new_tokens = tokens;
    return o;
}
} // namespace

TEST_CASE("streamed pieces add up to the reply, which decodes from its tokens", "[chat]") {
    Chat chat(tiny_model());
    chat.set_image(golden_image());
    std::string streamed;
    const auto reply = chat.ask("Describe this image in detail.", greedy(12), [&](const std::string& p) { streamed += p; });
    CHECK(reply.token_ids.size() == 12);
    CHECK(reply.finish == FinishReason::Length);
    CHECK(streamed == reply.text);
    std::vector<tokenizer::TokenId> ids(reply.token_ids.begin(), reply.token_ids.end());
    CHECK(tiny_model()->tokenizer().decode(ids) == reply.text);
    CHECK(reply.stats.prompt_tokens == 32); // 17 tokens with 3 placeholders replaced by 18 embeddings
    CHECK(chat.context_used() == 32 + 11);
}

TEST_CASE("cached image embeddings give the same reply as the vision tower", "[chat]") {
    Chat first(tiny_model());
    first.set_image(golden_image());
    const auto embeddings = first.image_embeddings();
    const auto a = first.ask("What is this?", greedy(8), {});

    Chat second(tiny_model());
    second.set_image_embeddings(embeddings);
    const auto b = second.ask("What is this?", greedy(8), {});
    CHECK(a.token_ids == b.token_ids);

    Chat wrong(tiny_model());
    CHECK_THROWS_AS(wrong.set_image_embeddings(std::vector<float>(7)), Error);
}

TEST_CASE("cancel from another thread stops the reply and keeps the conversation usable", "[chat]") {
    Chat chat(tiny_model());
    std::atomic<int> pieces{0};
    std::thread canceller([&] {
        while (pieces.load() < 3) std::this_thread::yield();
        chat.cancel();
    });
    const auto reply = chat.ask("Hello, who are you?", greedy(400), [&](const std::string&) { ++pieces; });
    canceller.join();
    CHECK(reply.finish == FinishReason::Cancelled);
    CHECK(reply.token_ids.size() < 400);
    const auto next = chat.ask("And then?", greedy(3), {});
    CHECK(next.finish == FinishReason::Length);
    CHECK(next.token_ids.size() == 3);
}

TEST_CASE("a question past the context limit is refused before it is computed, and the chat goes on", "[chat]") {
    Chat chat(tiny_model());
    std::string long_question;
    for (int i = 0; i < 200; ++i) long_question += "zephyr quixotic xylophone ";
    try {
        chat.ask(long_question, greedy(4), {});
        FAIL("a question longer than the context was accepted");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::ContextFull);
        CHECK(std::string(e.what()).find("start a new conversation") != std::string::npos);
    }
    CHECK(chat.context_used() == 0);
    CHECK(chat.ask("Hello", greedy(2), {}).token_ids.size() == 2);
}

TEST_CASE("an empty question is refused", "[chat]") {
    Chat chat(tiny_model());
    try {
        chat.ask(" \n\t", greedy(2), {});
        FAIL("an empty question was accepted");
    } catch (const Error& e) {
        CHECK(e.kind() == ErrorKind::InvalidInput);
    }
}

TEST_CASE("the same seed gives the same sampled reply", "[chat]") {
    GenerationOptions o;
    o.temperature = 1.0;
    o.top_p = 0.95;
    o.ignore_eos = true;
    o.max_new_tokens = 16;
    o.seed = 42;
    Chat a(tiny_model()), b(tiny_model());
    CHECK(a.ask("Hello, who are you?", o, {}).token_ids == b.ask("Hello, who are you?", o, {}).token_ids);
}

TEST_CASE("a restored past turn is fed before the new question", "[chat]") {
    Chat live(tiny_model());
    const auto first = live.ask("Hello, who are you?", greedy(5), {});
    Chat restored(tiny_model());
    restored.add_past_turn("Hello, who are you?", first.text);
    const auto reply = restored.ask("And then?", greedy(3), {});
    // The re-entered turn is in the cache: prompt prefix + the question turn + the reply's text tokens.
    CHECK(reply.stats.prompt_tokens > 19);
    CHECK(restored.context_used() == reply.stats.prompt_tokens + 2);
}
