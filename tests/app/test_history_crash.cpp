// Durability: a writer killed with SIGKILL at random points must leave a database that passes
// integrity_check and holds every message whose append_message had returned.
#include <catch2/catch.hpp>
#include <csignal>
#include <cstring>
#include <map>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

#include "app/history_store.h"
#include "app/paths.h"
#include "app/sha256.h"
#include "tests/app/scratch_home.h"

namespace app = glm4v::app;

namespace {

std::string text_for(std::int64_t round, std::int64_t n) {
    return "第" + std::to_string(round) + "轮 message " + std::to_string(n) + " 发票金额 " + std::string(n % 97, 'x');
}

// The child: appends until killed, reporting each id (with its index) on `fd` only after it returned.
[[noreturn]] void append_forever(int fd, std::int64_t conversation, int round) {
    try {
        app::HistoryStore store(app::data_dir());
        for (std::int64_t n = 0;; ++n) {
            app::NewMessage message;
            message.role = n % 2 ? app::MessageRole::Assistant : app::MessageRole::User;
            message.text = text_for(round, n);
            message.token_ids.assign(static_cast<std::size_t>(n % 50), 7);
            const std::int64_t id = store.append_message(conversation, message).id;
            const std::int64_t report[2] = {id, n};
            if (::write(fd, report, sizeof report) != static_cast<ssize_t>(sizeof report)) ::_exit(3);
            // Every few messages an image too, so file writes are killed half way as well.
            if (n % 5 == 0) {
                app::NewImage image;
                const std::string bytes = "image " + std::to_string(round) + "/" + std::to_string(n);
                image.file_bytes.assign(bytes.begin(), bytes.end());
                image.format = "jpeg";
                image.width = image.height = 1;
                store.add_image(image);
            }
        }
    } catch (...) {
        ::_exit(2);
    }
}

} // namespace

TEST_CASE("a writer killed at random points never loses a returned append nor corrupts the database",
          "[app][history][crash]") {
    glm4v::test::ScratchHome home;
    std::int64_t conversation = 0;
    {
        app::HistoryStore store(app::data_dir());
        conversation = store.create_conversation(0, "crash test");
    }
    std::mt19937 random(20261123);
    std::map<std::int64_t, std::string> expected; // id -> text, over all rounds
    constexpr int kRounds = 30;
    for (int round = 0; round < kRounds; ++round) {
        int pipe_fds[2];
        REQUIRE(::pipe(pipe_fds) == 0);
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            ::close(pipe_fds[0]);
            append_forever(pipe_fds[1], conversation, round);
        }
        ::close(pipe_fds[1]);
        // Kill after a random number of reported appends plus a random delay, so the signal lands
        // anywhere: inside a transaction, during the WAL fsync, mid image write, between calls.
        const int wait_for = static_cast<int>(random() % 12);
        for (int got = 0; got < wait_for; ++got) {
            std::int64_t report[2];
            if (::read(pipe_fds[0], report, sizeof report) != static_cast<ssize_t>(sizeof report)) break;
            expected[report[0]] = text_for(round, report[1]);
        }
        ::usleep(static_cast<useconds_t>(random() % 4000));
        ::kill(child, SIGKILL);
        int status = 0;
        ::waitpid(child, &status, 0);
        INFO("round " << round);
        REQUIRE(WIFSIGNALED(status)); // killed, not exited on an error
        // Reports written before the kill are still in the pipe.
        std::int64_t report[2];
        while (::read(pipe_fds[0], report, sizeof report) == static_cast<ssize_t>(sizeof report))
            expected[report[0]] = text_for(round, report[1]);
        ::close(pipe_fds[0]);

        app::HistoryStore store(app::data_dir());
        REQUIRE(store.integrity_check() == "ok");
        std::map<std::int64_t, std::string> stored;
        for (const auto& message : store.messages(conversation)) stored[message.id] = message.text;
        for (const auto& [id, text] : expected) {
            INFO("message id " << id);
            REQUIRE(stored.count(id) == 1);
            CHECK(stored[id] == text);
        }
        // The search index stays in step with the rows it indexes.
        CHECK(store.search("发票金额", 100000).size() == stored.size());
        // Image files are whole or absent: each one's content still hashes to its name. (A temporary file
        // the kill interrupted may remain; it never carries a final name.)
        for (const auto& entry : std::filesystem::directory_iterator(store.images_dir())) {
            const std::string name = entry.path().filename().string();
            if (name.rfind(".tmp-", 0) == 0) continue;
            CHECK(app::sha256_hex(glm4v::test::read_file(entry.path())) == entry.path().stem().string());
        }
    }
    CHECK(expected.size() > kRounds);
}
