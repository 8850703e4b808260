#include <catch2/catch.hpp>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

#include "app/cli/commands.h"
#include "app/embedding_cache.h"
#include "app/history_store.h"
#include "app/paths.h"
#include "engine/error.h"
#include "tests/app/scratch_home.h"

namespace app = glm4v::app;
namespace fs = std::filesystem;

namespace {

// Runs `glm4v history ...` in-process and returns what it printed on stdout.
std::string run_history(const glm4v::test::ScratchHome& home, std::vector<std::string> args) {
    CLI::App cli{"glm4v"};
    cli.require_subcommand(1);
    app::cli::add_history_command(cli);
    args.insert(args.begin(), "history");
    std::vector<const char*> argv = {"glm4v"};
    for (const auto& a : args) argv.push_back(a.c_str());

    const fs::path captured = home.path() / "stdout.txt";
    std::fflush(stdout);
    const int saved = ::dup(1);
    const int file = ::open(captured.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(file, 1);
    ::close(file);
    auto restore = [&] {
        std::fflush(stdout);
        ::dup2(saved, 1);
        ::close(saved);
    };
    try {
        cli.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
    } catch (...) {
        restore();
        throw;
    }
    restore();
    return glm4v::test::read_file(captured);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

} // namespace

TEST_CASE("glm4v history lists, shows, searches, exports and deletes", "[app][history][cli]") {
    glm4v::test::ScratchHome home;
    std::int64_t id = 0;
    std::string image_file;
    {
        app::HistoryStore store(app::data_dir());
        app::NewImage image;
        image.file_bytes = {'j', 'p', 'e', 'g'};
        image.format = "jpeg";
        image.width = 4;
        image.height = 3;
        const auto record = store.add_image(image);
        image_file = record.file.string();
        id = store.create_conversation(record.id, "餐厅发票");
        app::NewMessage question;
        question.text = "金额是多少？\n请列出明细";
        store.append_message(id, question);
        app::NewMessage reply;
        reply.role = app::MessageRole::Assistant;
        reply.text = "**总计** 120 元";
        reply.generated_tokens = 9;
        store.append_message(id, reply);
        store.create_conversation(0, "other");
    }
    const std::string id_text = std::to_string(id);

    const std::string listed = run_history(home, {"list"});
    CHECK(contains(listed, "餐厅发票"));
    CHECK(contains(listed, "2 messages"));
    CHECK(contains(listed, "other"));

    const std::string shown = run_history(home, {"show", id_text});
    CHECK(contains(shown, "# 餐厅发票"));
    CHECK(contains(shown, image_file));
    CHECK(contains(shown, "[user]"));
    CHECK(contains(shown, "金额是多少？"));
    CHECK(contains(shown, "**总计** 120 元"));

    CHECK(contains(run_history(home, {"search", "明细"}), "请列出明细"));
    CHECK(contains(run_history(home, {"search", "发票"}), "(title)"));
    CHECK(contains(run_history(home, {"search", "nothing-like-this"}), "no match"));

    const fs::path out = home.path() / "export" / "dinner.md";
    fs::create_directories(out.parent_path());
    run_history(home, {"export", id_text, "--out", out.string()});
    const std::string markdown = glm4v::test::read_file(out);
    CHECK(contains(markdown, "# 餐厅发票\n"));
    CHECK(contains(markdown, "![image](<dinner.jpg>)"));
    CHECK(contains(markdown, "> 金额是多少？\n> 请列出明细\n"));
    CHECK(contains(markdown, "**GLM-4V:**\n\n**总计** 120 元"));
    CHECK(glm4v::test::read_file(home.path() / "export" / "dinner.jpg") == "jpeg");

    CHECK_THROWS_AS(run_history(home, {"show", "999"}), glm4v::engine::Error);
    CHECK(contains(run_history(home, {"delete", id_text}), "and its image"));
    CHECK_FALSE(fs::exists(image_file));
    CHECK_FALSE(contains(run_history(home, {"list"}), "餐厅发票"));
}
