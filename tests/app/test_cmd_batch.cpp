// glm4v batch, run as a child process on every golden tiny model (CPU): one line per image, errors as
// lines, and resuming after SIGKILL, Ctrl+C and a torn last line.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <map>
#include <set>
#include <thread>

#include "app/history_store.h"
#include "app/paths.h"
#include "app/sha256.h"
#include "tests/app/glm4v_process.h"
#include "tests/app/scratch_home.h"

namespace app = glm4v::app;
namespace fs = std::filesystem;
using glm4v::test::Glm4vProcess;
using glm4v::test::read_file;
using glm4v::test::run_glm4v;
using glm4v::test::write_file;
using Json = nlohmann::json;

namespace {

const std::string kPrompt = "What is in this picture?";

std::vector<fs::path> golden_cases() {
    std::vector<fs::path> cases = glm4v::test::golden_case_dirs();
    REQUIRE_FALSE(cases.empty()); // GLM4V_GOLDEN_DIR names no case: the test would prove nothing
    return cases;
}

std::vector<std::string> batch_args(const fs::path& golden, const std::vector<std::string>& images, const fs::path& out,
                                    bool history = true) {
    std::vector<std::string> args = {"batch",    "--model-path", (golden / "model").string(),
                                     "--device", "cpu",          "--images"};
    args.insert(args.end(), images.begin(), images.end());
    args.insert(args.end(), {"--prompt", kPrompt, "--out", out.string(), "--max-new-tokens", "12"});
    if (!history) args.push_back("--no-history");
    return args;
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    for (std::size_t begin = 0; begin < text.size();) {
        std::size_t end = text.find('\n', begin);
        if (end == std::string::npos) end = text.size();
        lines.push_back(text.substr(begin, end - begin));
        begin = end + 1;
    }
    return lines;
}

// Every line of a results file, parsed; the file must end with a newline (whole lines only).
std::vector<Json> results_of(const fs::path& file) {
    const std::string text = read_file(file);
    INFO(file.string() << ":\n" << text);
    REQUIRE((text.empty() || text.back() == '\n'));
    std::vector<Json> results;
    for (const std::string& line : split_lines(text))
        results.push_back(Json::parse(line));
    return results;
}

std::map<std::string, std::string> reply_by_image(const std::vector<Json>& results) {
    std::map<std::string, std::string> replies;
    for (const Json& r : results)
        replies[r.at("image").get<std::string>()] = r.at("reply").get<std::string>();
    return replies;
}

// `count` copies of the golden images, alternating, named img00.png, img01.png, ...
std::vector<std::string> many_images(const fs::path& golden, const fs::path& folder, int count) {
    fs::create_directories(folder);
    std::vector<std::string> paths;
    for (int i = 0; i < count; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "img%02d.png", i);
        fs::copy_file(golden / (i % 2 ? "photo.png" : "image.png"), folder / name);
        paths.push_back((folder / name).string());
    }
    return paths;
}

std::size_t line_count(const fs::path& file) {
    std::error_code ec;
    if (!fs::exists(file, ec)) return 0;
    const std::string text = read_file(file);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Until the batch has written its first line.
void wait_for_first_line(const fs::path& out) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    while (line_count(out) == 0) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

// Each image of `images` exactly once, with the reply the uninterrupted run gave it.
void check_complete(const std::vector<Json>& results, const std::vector<std::string>& images,
                    const std::map<std::string, std::string>& reference) {
    std::multiset<std::string> seen;
    for (const Json& r : results)
        seen.insert(r.at("image").get<std::string>());
    CHECK(results.size() == images.size());
    for (const std::string& image : images) {
        INFO(image);
        CHECK(seen.count(image) == 1);
    }
    for (const Json& r : results) {
        INFO(r.dump());
        CHECK(r.at("error").is_null());
        CHECK(r.at("reply").get<std::string>() == reference.at(r.at("image").get<std::string>()));
    }
}

} // namespace

TEST_CASE(
    "glm4v batch writes one line per image of a folder, and a corrupt image gets an error without stopping the rest",
    "[app][cli][batch]") {
    for (const fs::path& golden : golden_cases()) {
        INFO("golden case " << golden.string());
        glm4v::test::ScratchHome home;
        const fs::path folder = home.path() / "photos";
        fs::create_directories(folder);
        fs::copy_file(golden / "image.png", folder / "image.png");
        fs::copy_file(golden / "photo.png", folder / "photo.png");
        write_file(folder / "broken.png", read_file(golden / "image.png").substr(0, 60)); // a truncated PNG
        write_file(folder / "notes.txt", "not an image, and not named like one: not taken");
        const fs::path out = home.path() / "results.jsonl";

        const glm4v::test::ProcessResult run = run_glm4v(batch_args(golden, {folder.string()}, out));
        INFO(run.err);
        REQUIRE(run.exit_code == 0);
        const std::vector<Json> results = results_of(out);
        REQUIRE(results.size() == 3);

        const std::vector<std::string> names = {"broken.png", "image.png", "photo.png"}; // sorted by name
        app::HistoryStore history(app::data_dir());
        for (std::size_t i = 0; i < names.size(); ++i) {
            const Json& r = results[i];
            const fs::path file = folder / names[i];
            INFO(r.dump());
            CHECK(r.at("image") == file.string());
            CHECK(r.at("prompt") == kPrompt);
            CHECK(r.at("sha256") == app::sha256_hex(read_file(file)));
            if (names[i] == "broken.png") {
                CHECK(r.at("error").is_string());
                CHECK(r.at("error_kind") == "invalid input");
                CHECK(r.at("reply") == "");
                CHECK(r.at("finish").is_null());
                CHECK(r.at("conversation").is_null());
                continue;
            }
            CHECK(r.at("error").is_null());
            CHECK((r.at("finish") == "eos" || r.at("finish") == "length"));
            CHECK(r.at("prompt_tokens").get<std::int64_t>() > 0);
            CHECK(r.at("generated_tokens").get<std::int64_t>() >= 0);
            CHECK(r.at("generated_tokens").get<std::int64_t>() <= 12);
            CHECK(r.at("time_to_first_token_ms").get<double>() > 0);

            // The reply is what `glm4v ask` answers about the same image with the same settings.
            const auto ask =
                run_glm4v({"ask", "--model-path", (golden / "model").string(), "--device", "cpu", "--no-history", "-q",
                           "--image", file.string(), "--temperature", "0", "--max-new-tokens", "12", kPrompt});
            REQUIRE(ask.exit_code == 0);
            CHECK(ask.out == r.at("reply").get<std::string>() + "\n");

            // Recorded in the history: a conversation about this very image, with the prompt and the reply.
            REQUIRE(r.at("conversation").is_number_integer());
            const auto conversation = history.find_conversation(r.at("conversation").get<std::int64_t>());
            REQUIRE(conversation.has_value());
            const auto image = history.find_image(conversation->image_id);
            REQUIRE(image.has_value());
            CHECK(image->sha256 == r.at("sha256").get<std::string>());
            const std::vector<app::MessageRecord> messages = history.messages(conversation->id);
            REQUIRE(messages.size() == 2);
            CHECK(messages[0].text == kPrompt);
            CHECK(messages[1].text == r.at("reply").get<std::string>());
        }

        // Everything done: a rerun does nothing and says so.
        const std::string before = read_file(out);
        const auto again = run_glm4v(batch_args(golden, {folder.string()}, out));
        CHECK(again.exit_code == 0);
        CHECK(again.err.find("3 of 3 images already in") != std::string::npos);
        CHECK(read_file(out) == before);
    }
}

TEST_CASE("a batch killed with SIGKILL part way, then run again, has every image exactly once with the replies of an "
          "uninterrupted run",
          "[app][cli][batch]") {
    for (const fs::path& golden : golden_cases()) {
        INFO("golden case " << golden.string());
        glm4v::test::ScratchHome home;
        const std::vector<std::string> images = many_images(golden, home.path() / "photos", 16);
        const fs::path folder = home.path() / "photos";

        const fs::path reference_out = home.path() / "reference.jsonl";
        const auto reference_run = run_glm4v(batch_args(golden, {folder.string()}, reference_out, false));
        INFO(reference_run.err);
        REQUIRE(reference_run.exit_code == 0);
        const auto reference = reply_by_image(results_of(reference_out));
        REQUIRE(reference.size() == images.size());

        const fs::path out = home.path() / "results.jsonl";
        {
            Glm4vProcess batch(batch_args(golden, {folder.string()}, out));
            wait_for_first_line(out);
            batch.signal(SIGKILL);
            CHECK(batch.wait().exit_code == 128 + SIGKILL);
        }
        const std::string after_kill = read_file(out);
        const std::size_t done = line_count(out);
        INFO(after_kill);
        REQUIRE(done >= 1);
        // All 16 done before the kill landed would leave nothing to resume, and this test would prove nothing.
        REQUIRE(done < images.size());

        const auto rerun = run_glm4v(batch_args(golden, {folder.string()}, out));
        INFO(rerun.err);
        REQUIRE(rerun.exit_code == 0);
        CHECK(rerun.err.find(std::to_string(done) + " of 16 images already in") != std::string::npos);
        const std::string final_text = read_file(out);
        CHECK(final_text.compare(0, after_kill.size(), after_kill) == 0); // what was written stays as it was
        check_complete(results_of(out), images, reference);
    }
}

TEST_CASE("Ctrl+C stops a batch between images with exit status 130, and the next run does the rest",
          "[app][cli][batch]") {
    for (const fs::path& golden : golden_cases()) {
        INFO("golden case " << golden.string());
        glm4v::test::ScratchHome home;
        const std::vector<std::string> images = many_images(golden, home.path() / "photos", 16);
        const fs::path out = home.path() / "results.jsonl";
        const auto reference_run = run_glm4v(batch_args(golden, images, home.path() / "reference.jsonl", false));
        REQUIRE(reference_run.exit_code == 0);
        const auto reference = reply_by_image(results_of(home.path() / "reference.jsonl"));

        glm4v::test::ProcessResult stopped;
        {
            Glm4vProcess batch(batch_args(golden, images, out, false));
            wait_for_first_line(out);
            batch.signal(SIGINT);
            stopped = batch.wait();
        }
        INFO(stopped.err);
        CHECK(stopped.exit_code == 130);
        CHECK(stopped.err.find("interrupted") != std::string::npos);
        const std::size_t done = line_count(out);
        REQUIRE(done < images.size());
        CHECK(results_of(out).size() == done); // whole lines only

        const auto rerun = run_glm4v(batch_args(golden, images, out, false));
        INFO(rerun.err);
        REQUIRE(rerun.exit_code == 0);
        check_complete(results_of(out), images, reference);
    }
}

TEST_CASE("a torn last line in the results file is dropped and its image done again; a line only missing its "
          "newline is kept",
          "[app][cli][batch]") {
    for (const fs::path& golden : golden_cases()) {
        INFO("golden case " << golden.string());
        glm4v::test::ScratchHome home;
        const std::vector<std::string> images = many_images(golden, home.path() / "photos", 3);
        const fs::path out = home.path() / "results.jsonl";
        const auto reference_run = run_glm4v(batch_args(golden, images, home.path() / "reference.jsonl", false));
        REQUIRE(reference_run.exit_code == 0);
        const std::vector<std::string> lines = split_lines(read_file(home.path() / "reference.jsonl"));
        REQUIRE(lines.size() == 3);
        const auto reference = reply_by_image(results_of(home.path() / "reference.jsonl"));

        SECTION("a line cut in the middle, as a power cut leaves it") {
            write_file(out, lines[0] + "\n" + lines[1].substr(0, lines[1].size() / 2));
            const auto rerun = run_glm4v(batch_args(golden, images, out, false));
            INFO(rerun.err);
            REQUIRE(rerun.exit_code == 0);
            CHECK(rerun.err.find("dropped an incomplete last line") != std::string::npos);
            const std::string text = read_file(out);
            CHECK(text.compare(0, lines[0].size() + 1, lines[0] + "\n") == 0);
            check_complete(results_of(out), images, reference);
        }
        SECTION("a whole line without its newline") {
            write_file(out, lines[0] + "\n" + lines[1]);
            const auto rerun = run_glm4v(batch_args(golden, images, out, false));
            INFO(rerun.err);
            REQUIRE(rerun.exit_code == 0);
            CHECK(rerun.err.find("dropped") == std::string::npos);
            CHECK(rerun.err.find("2 of 3 images already in") != std::string::npos);
            const std::vector<std::string> now = split_lines(read_file(out));
            REQUIRE(now.size() == 3);
            CHECK(now[0] == lines[0]);
            CHECK(now[1] == lines[1]);
            check_complete(results_of(out), images, reference);
        }
        SECTION("a file that is not a results file is left alone") {
            write_file(out, "name,caption\nimg00.png,a cat\n");
            const auto rerun = run_glm4v(batch_args(golden, images, out, false));
            CHECK(rerun.exit_code == 2);
            CHECK(rerun.err.find("line 1") != std::string::npos);
            CHECK(read_file(out) == "name,caption\nimg00.png,a cat\n");
        }
    }
}

TEST_CASE("a reply that fails is a line with its error, and the batch goes on", "[app][cli][batch]") {
    for (const fs::path& golden : golden_cases()) {
        INFO("golden case " << golden.string());
        glm4v::test::ScratchHome home;
        const std::vector<std::string> images = many_images(golden, home.path() / "photos", 2);
        const fs::path out = home.path() / "results.jsonl";
        std::vector<std::string> args = batch_args(golden, images, out, false);
        std::string long_prompt;
        for (int i = 0; i < 3000; ++i)
            long_prompt += "word" + std::to_string(i) + " "; // past any tiny seq_length
        *std::find(args.begin(), args.end(), kPrompt) = long_prompt;

        const auto run = run_glm4v(args);
        INFO(run.err);
        REQUIRE(run.exit_code == 0);
        const std::vector<Json> results = results_of(out);
        REQUIRE(results.size() == 2);
        for (const Json& r : results) {
            CHECK(r.at("error_kind") == "context full");
            CHECK(r.at("error").get<std::string>().find("full") != std::string::npos);
            CHECK(r.at("sha256").is_string());
        }
    }
}
