// The real window under Xvfb with a golden tiny model: open image.png, ask, stream, ask a follow-up,
// screenshot, quit; then check the screenshots have content, the replies are in the history database,
// and a second launch lists, reopens and continues that conversation. Also: at a desktop scale of 200% the
// window, its sizes and its fonts are twice as big. Skips (77) only without Xvfb.
#include <catch2/catch.hpp>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <sys/types.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "app/history_store.h"
#include "tests/support/test_support.h"

#include <X11/Xatom.h> // last: Xlib's macros (None, Status, Bool) must not meet the headers above
#include <X11/Xlib.h>

namespace fs = std::filesystem;
using glm4v::test::run_command;

namespace {

// An Xvfb server on a free display, stopped when this object dies.
class Xvfb {
public:
    Xvfb() {
        for (int n = 91; n < 160; ++n) {
            if (fs::exists("/tmp/.X11-unix/X" + std::to_string(n)) || fs::exists("/tmp/.X" + std::to_string(n) + "-lock")) continue;
            display_ = ":" + std::to_string(n);
            pid_ = fork();
            if (pid_ == 0) {
                std::freopen("/dev/null", "w", stderr);
                execlp("Xvfb", "Xvfb", display_.c_str(), "-screen", "0", "1280x800x24", "-nolisten", "tcp", nullptr);
                _exit(127);
            }
            for (int i = 0; i < 100; ++i) { // up to 10 s for the socket
                if (fs::exists("/tmp/.X11-unix/X" + std::to_string(n))) return;
                int status = 0;
                if (waitpid(pid_, &status, WNOHANG) == pid_) break; // died: the display was taken after all
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            stop();
        }
        display_.clear();
    }
    ~Xvfb() { stop(); }
    const std::string& display() const { return display_; }

private:
    void stop() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
        }
        pid_ = -1;
    }
    std::string display_;
    pid_t pid_ = -1;
};

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

struct Run {
    int status = -1;
    nlohmann::json report;
    std::string output;
};

Run run_window(const std::string& display, const fs::path& home, const fs::path& model, const nlohmann::json& steps) {
    const fs::path script = home / ("script-" + std::to_string(std::rand()) + ".json");
    glm4v::test::write_file(script, steps.dump(2));
    std::ostringstream command;
    command << "env DISPLAY=" << display << " HOME=" << quote(home.string())
            << " XDG_DATA_HOME=" << quote((home / "data").string()) << " XDG_CONFIG_HOME=" << quote((home / "config").string())
            << " XDG_CACHE_HOME=" << quote((home / "cache").string()) << " " << quote(GLM4V_DESKTOP_EXE)
            << " --model-path " << quote(model.string()) << " --script " << quote(script.string()) << " 2>"
            << quote((home / "stderr.txt").string());
    Run run;
    run.status = run_command(command.str(), &run.output);
    std::istringstream lines(run.output);
    for (std::string line; std::getline(lines, line);)
        if (!line.empty() && line[0] == '{') run.report = nlohmann::json::parse(line, nullptr, false);
    if (run.status != 0) run.output += "\n--- stderr ---\n" + glm4v::test::read_file(home / "stderr.txt");
    return run;
}

// The desktop's scale as GLFW (like GTK and Qt) reads it on X11: Xft.dpi in the root window's RESOURCE_MANAGER.
// The connection stays open while this object lives: an X server resets, and drops the property, when its last
// client leaves.
class XftDpi {
public:
    XftDpi(const std::string& display, int dpi) : display_(XOpenDisplay(display.c_str())) {
        REQUIRE(display_ != nullptr);
        const std::string resources = "Xft.dpi:\t" + std::to_string(dpi) + "\n";
        XChangeProperty(display_, DefaultRootWindow(display_), XA_RESOURCE_MANAGER, XA_STRING, 8, PropModeReplace,
                        reinterpret_cast<const unsigned char*>(resources.data()), static_cast<int>(resources.size()));
        XSync(display_, False);
    }
    ~XftDpi() {
        if (display_) XCloseDisplay(display_);
    }
    XftDpi(const XftDpi&) = delete;
    XftDpi& operator=(const XftDpi&) = delete;

private:
    Display* display_;
};

void skip_without_xvfb() {
    if (run_command("command -v Xvfb >/dev/null 2>&1") != 0) {
        std::fprintf(stderr, "Xvfb is not installed (Debian package xvfb): skipping the window test\n");
        std::exit(77);
    }
}

// Standard deviation of the grey levels: a blank (one-colour) window gives about 0.
double pixel_spread(const fs::path& png) {
    cv::Mat image = cv::imread(png.string(), cv::IMREAD_GRAYSCALE);
    if (image.empty()) return -1;
    cv::Scalar mean, stddev;
    cv::meanStdDev(image, mean, stddev);
    return stddev[0];
}

} // namespace

TEST_CASE("the window streams replies, keeps them in the history and reopens them on the next launch", "[gui][xvfb]") {
    skip_without_xvfb();
    const auto cases = glm4v::test::golden_case_dirs();
    REQUIRE_FALSE(cases.empty()); // GLM4V_GOLDEN_DIR must name the golden cases
    const fs::path golden = cases.front();
    Xvfb x;
    REQUIRE_FALSE(x.display().empty());

    glm4v::test::ScratchDir home;
    fs::create_directories(home / "config" / "glm4v-desktop");
    // Short greedy replies keep the test quick on a CPU; this also checks the settings file is read.
    glm4v::test::write_file(home / "config" / "glm4v-desktop" / "settings.json",
                            R"({"temperature": 0, "max_new_tokens": 24, "device": "gpu", "font_size": 16})");

    const std::string first_question = "Describe this image.";
    const std::string text_question = "Hello, who are you?";
    nlohmann::json steps = nlohmann::json::array();
    // No image open yet: the question starts a conversation about text alone.
    steps.push_back({{"ask", text_question}, {"timeout_s", 120}});
    steps.push_back({{"open", (golden / "image.png").string()}});
    steps.push_back({{"ask", first_question}});
    steps.push_back({{"screenshot", (home / "shot-1.png").string()}});
    steps.push_back({{"ask", "What colours are in it?"}});
    steps.push_back({{"screenshot", (home / "shot-2.png").string()}});
    steps.push_back({{"quit", true}});
    Run first = run_window(x.display(), home.path(), golden / "model", steps);
    INFO(first.output);
    REQUIRE(first.status == 0);
    REQUIRE(first.report.is_object());
    CHECK(first.report["ok"] == true);
    auto replies = first.report["replies"].get<std::vector<std::string>>();
    REQUIRE(replies.size() == 3);
    const std::string text_reply = replies.front();
    replies.erase(replies.begin());
    CHECK_FALSE(replies[0].empty());

    // Not blank: the window drew panels, text and the image.
    for (const char* shot : {"shot-1.png", "shot-2.png"}) {
        INFO(shot);
        CHECK(pixel_spread(home / shot) > 8.0);
    }
    // The UI thread kept drawing while tokens streamed. Wall-clock frame times only mean something when
    // the machine is not oversubscribed (software GL shares the CPU with the model and everything else).
    REQUIRE(first.report["streaming_frames"].get<long long>() > 0);
    const double slowest = first.report["slowest_streaming_frame_ms"].get<double>();
    double load[1] = {0};
    const bool busy = getloadavg(load, 1) == 1 && load[0] >= static_cast<double>(std::thread::hardware_concurrency());
    // A window that opens in under a second: the first frame presented, timed from the process's start
    // (so the libraries loaded before main() count). The first frame with the font files' atlas follows it.
    // libtorch is not among them: the worker is a module loaded after the first frame (worker_loader.h).
    const double window_shown = first.report["window_shown_ms"].get<double>();
    const double fonts_shown = first.report["fonts_shown_ms"].get<double>();
    std::printf("first frame %.0f ms, with the fonts %.0f ms, slowest streaming frame %.1f ms (load average %.1f)\n",
                window_shown, fonts_shown, slowest, load[0]);
    CHECK(window_shown > 0);
    CHECK(fonts_shown >= window_shown);
    if (busy) {
        WARN("load average " << load[0] << " on " << std::thread::hardware_concurrency() << " cores: slowest streaming frame "
                             << slowest << " ms and first frame after " << window_shown << " ms not judged");
    } else {
        CHECK(slowest < 50.0);
        CHECK(window_shown < 1000.0);
    }

    std::int64_t conversation = 0;
    {
        glm4v::app::HistoryStore store(home / "data" / "glm4v-desktop");
        auto conversations = store.list_conversations(); // newest first
        REQUIRE(conversations.size() == 2);
        conversation = conversations[0].id;
        CHECK(conversations[0].title == first_question);
        CHECK(conversations[0].image_id != 0);
        CHECK(conversations[1].title == text_question);
        CHECK(conversations[1].image_id == 0);
        auto text_messages = store.messages(conversations[1].id);
        REQUIRE(text_messages.size() == 2);
        CHECK(text_messages[0].text == text_question);
        CHECK(text_messages[1].text == text_reply);
        CHECK(text_messages[1].generated_tokens > 0);
        auto messages = store.messages(conversation);
        REQUIRE(messages.size() == 4);
        CHECK(messages[0].text == first_question);
        CHECK(messages[1].role == glm4v::app::MessageRole::Assistant);
        CHECK(messages[1].text == replies[0]);
        CHECK(messages[3].text == replies[1]);
        CHECK(messages[1].generated_tokens > 0);
    }

    // Second launch: the conversation is listed, reopens with its image, and takes a follow-up.
    nlohmann::json again = nlohmann::json::array();
    again.push_back({{"expect_history", first_question}, {"timeout_s", 120}});
    again.push_back({{"reopen", first_question}, {"timeout_s", 300}});
    again.push_back({{"ask", "Anything else?"}});
    again.push_back({{"screenshot", (home / "shot-3.png").string()}});
    again.push_back({{"quit", true}});
    Run second = run_window(x.display(), home.path(), golden / "model", again);
    INFO(second.output);
    REQUIRE(second.status == 0);
    CHECK(pixel_spread(home / "shot-3.png") > 8.0);
    {
        glm4v::app::HistoryStore store(home / "data" / "glm4v-desktop");
        auto messages = store.messages(conversation);
        REQUIRE(messages.size() == 6);
        CHECK(messages[4].text == "Anything else?");
        CHECK(messages[5].text == second.report["replies"][0].get<std::string>());
    }

    // Closing the window mid-reply exits cleanly and keeps what was generated.
    nlohmann::json close = nlohmann::json::array();
    close.push_back({{"reopen", first_question}, {"timeout_s", 300}});
    close.push_back({{"ask", "Tell me everything."}, {"wait", false}});
    close.push_back({{"wait_ms", 200}});
    close.push_back({{"quit", true}});
    Run third = run_window(x.display(), home.path(), golden / "model", close);
    INFO(third.output);
    REQUIRE(third.status == 0);
    {
        glm4v::app::HistoryStore store(home / "data" / "glm4v-desktop");
        auto messages = store.messages(conversation);
        REQUIRE(messages.size() == 8);
        CHECK(messages[6].text == "Tell me everything.");
        CHECK(messages[7].role == glm4v::app::MessageRole::Assistant);
    }
}

TEST_CASE("the window follows the desktop's scale (HiDPI)", "[gui][xvfb][hidpi]") {
    skip_without_xvfb();
    const auto cases = glm4v::test::golden_case_dirs();
    REQUIRE_FALSE(cases.empty());
    const fs::path golden = cases.front();
    Xvfb x;
    REQUIRE_FALSE(x.display().empty());
    const XftDpi desktop_scale(x.display(), 192); // a desktop at 200%

    glm4v::test::ScratchDir home;
    fs::create_directories(home / "config" / "glm4v-desktop");
    glm4v::test::write_file(home / "config" / "glm4v-desktop" / "settings.json",
                            R"({"temperature": 0, "max_new_tokens": 8, "font_size": 16})");
    nlohmann::json steps = nlohmann::json::array();
    steps.push_back({{"ask", "Hello"}, {"timeout_s", 120}}); // returns once the fonts are built, too
    steps.push_back({{"screenshot", (home / "hidpi.png").string()}});
    steps.push_back({{"quit", true}});
    Run run = run_window(x.display(), home.path(), golden / "model", steps);
    INFO(run.output);
    REQUIRE(run.status == 0);
    CHECK(run.report["content_scale"].get<double>() == 2.0);
    CHECK(run.report["font_pixels"].get<double>() == 32.0);        // 16 points at 200%
    CHECK(run.report["framebuffer_width"].get<int>() == 2 * 1280); // the default 1280 wide, scaled to the monitor
    CHECK(pixel_spread(home / "hidpi.png") > 8.0);
}
