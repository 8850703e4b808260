// glm4v ask and chat without an image, run as child processes on every golden tiny model (CPU): the
// conversation is recorded like one about an image, and --conversation continues it.
#include <catch2/catch.hpp>

#include "app/history_store.h"
#include "app/paths.h"
#include "tests/app/glm4v_process.h"
#include "tests/app/scratch_home.h"

namespace app = glm4v::app;
namespace fs = std::filesystem;
using glm4v::test::run_glm4v;

namespace {

std::vector<std::string> ask_args(const fs::path& golden, std::vector<std::string> rest) {
    std::vector<std::string> args = {
        "ask", "--model-path", (golden / "model").string(), "--device", "cpu", "--temperature", "0", "--max-new-tokens",
        "8"};
    args.insert(args.end(), rest.begin(), rest.end());
    return args;
}

// What ask printed on stdout: the reply and one newline.
std::string reply_of(const glm4v::test::ProcessResult& r) {
    REQUIRE(!r.out.empty());
    REQUIRE(r.out.back() == '\n');
    return r.out.substr(0, r.out.size() - 1);
}

} // namespace

TEST_CASE("a conversation without an image is stored in the history, and --conversation continues it",
          "[app][cli][history]") {
    std::vector<fs::path> cases = glm4v::test::golden_case_dirs();
    REQUIRE_FALSE(cases.empty());
    for (const fs::path& golden : cases) {
        INFO("golden case " << golden.string());
        glm4v::test::ScratchHome home;

        const auto first = run_glm4v(ask_args(golden, {"Tell me a story."}));
        INFO(first.err);
        REQUIRE(first.exit_code == 0);
        std::int64_t id = 0;
        {
            app::HistoryStore history(app::data_dir());
            const std::vector<app::ConversationRecord> conversations = history.list_conversations();
            REQUIRE(conversations.size() == 1);
            id = conversations[0].id;
            CHECK(conversations[0].image_id == 0);
            CHECK(conversations[0].title == "Tell me a story.");
            const std::vector<app::MessageRecord> messages = history.messages(id);
            REQUIRE(messages.size() == 2);
            CHECK(messages[0].role == app::MessageRole::User);
            CHECK(messages[0].text == "Tell me a story.");
            CHECK(messages[1].role == app::MessageRole::Assistant);
            CHECK(messages[1].text == reply_of(first));
        }
        CHECK(first.err.find("conversation " + std::to_string(id)) != std::string::npos);

        const auto second = run_glm4v(ask_args(golden, {"--conversation", std::to_string(id), "Go on."}));
        INFO(second.err);
        REQUIRE(second.exit_code == 0);
        std::int64_t continued_prompt_tokens = 0;
        {
            app::HistoryStore history(app::data_dir());
            CHECK(history.list_conversations().size() == 1);
            const std::vector<app::MessageRecord> messages = history.messages(id);
            REQUIRE(messages.size() == 4);
            CHECK(messages[2].text == "Go on.");
            CHECK(messages[3].text == reply_of(second));
            continued_prompt_tokens = messages[3].prompt_tokens;
        }

        // The same question in a new conversation prefills only itself; the continued one also re-entered
        // the first turn, so its prompt was longer.
        const auto fresh = run_glm4v(ask_args(golden, {"Go on."}));
        REQUIRE(fresh.exit_code == 0);
        {
            app::HistoryStore history(app::data_dir());
            const std::vector<app::ConversationRecord> conversations = history.list_conversations();
            REQUIRE(conversations.size() == 2);
            const std::int64_t fresh_id = conversations[0].id; // newest first
            CHECK(fresh_id != id);
            const std::vector<app::MessageRecord> messages = history.messages(fresh_id);
            REQUIRE(messages.size() == 2);
            CHECK(messages[1].prompt_tokens > 0);
            CHECK(continued_prompt_tokens > messages[1].prompt_tokens);
        }

        // chat: one conversation for all its lines.
        const auto chat = run_glm4v({"chat", "--model-path", (golden / "model").string(), "--device", "cpu",
                                     "--temperature", "0", "--max-new-tokens", "4"},
                                    "Hello.\nAnd again.\n");
        INFO(chat.err);
        REQUIRE(chat.exit_code == 0);
        {
            app::HistoryStore history(app::data_dir());
            const std::vector<app::ConversationRecord> conversations = history.list_conversations();
            REQUIRE(conversations.size() == 3);
            CHECK(conversations[0].image_id == 0);
            CHECK(conversations[0].title == "Hello.");
            CHECK(conversations[0].message_count == 4);
        }

        // --no-history keeps nothing.
        const auto unrecorded = run_glm4v(ask_args(golden, {"--no-history", "Not kept."}));
        REQUIRE(unrecorded.exit_code == 0);
        app::HistoryStore history(app::data_dir());
        CHECK(history.list_conversations().size() == 3);
    }
}

TEST_CASE("glm4v ask reports a reply that failed and exits non-zero", "[app][cli]") {
    for (const fs::path& golden : glm4v::test::golden_case_dirs()) {
        INFO("golden case " << golden.string());
        glm4v::test::ScratchHome home;
        std::string long_question;
        for (int i = 0; i < 3000; ++i)
            long_question += "word" + std::to_string(i) + " "; // past any tiny seq_length
        const auto r = run_glm4v(ask_args(golden, {"--no-history", long_question}));
        INFO(r.err);
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("full") != std::string::npos);
    }
}
