#pragma once
// Scripted mode (`glm4v-desktop --script steps.json`), for tests and demos: the real window follows a
// JSON array of steps, each done through the same paths a user's clicks take.
//   {"open": "image.png"}          opens an image, waits until it is shown
//   {"ask": "question"}            asks, waits for the whole reply ("wait": false returns at once); with
//                                  no image open, starts a conversation without one
//   {"screenshot": "out.png"}      the window's own pixels (glReadPixels), written as PNG
//   {"expect_history": "text"}     waits until the history lists a conversation whose title has text
//   {"reopen": "text"}             reopens the first listed conversation whose title has text
//   {"wait_ms": 500}
//   {"quit": true}                 closes the window (as the user would; a running reply is kept)
// Every step must finish within "timeout_s" (default 600). The script's exit status is 0 when every step
// succeeded; it prints one JSON line with the replies, the slowest frame while a reply streamed, and how
// long after the process started the window showed its first frame and its first with the real fonts.

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace glm4v::app::gui {

class GuiApp;

class Script {
public:
    // Throws engine::Error (InvalidInput) naming the file and the bad step.
    static Script load(const std::string& path);

    // Before each frame is drawn: starts steps and checks whether the running one has finished.
    void before_frame(GuiApp& app);
    // After the frame is rendered, before the buffers swap: takes a requested screenshot.
    void after_render(GuiApp& app, int framebuffer_width, int framebuffer_height);
    // Per-frame work time, and whether a reply was streaming during it.
    void note_frame(double milliseconds, bool streaming);
    // Since the process started: the first frame presented, and the first with the font files' atlas
    // (-1: not yet).
    void note_startup(double window_shown_ms, double fonts_shown_ms);

    bool finished() const { return finished_; }
    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }
    std::string report() const; // one line of JSON

private:
    void fail(const std::string& message);
    void next();

    std::vector<nlohmann::json> steps_;
    std::size_t index_ = 0;
    bool started_ = false;
    bool capture_ = false;
    bool asked_ = false;
    int frames_in_step_ = 0;
    int base_images_ = 0, base_replies_ = 0, base_failures_ = 0, base_saves_ = 0, base_loaded_ = 0;
    long long target_id_ = 0;
    std::chrono::steady_clock::time_point step_start_;
    bool finished_ = false;
    std::string error_;
    double window_shown_ms_ = -1;
    // HiDPI, as the last frame had it: the window's content scale, the fonts' pixel size, the framebuffer's width.
    double content_scale_ = 0;
    double font_pixels_ = 0;
    int framebuffer_width_ = 0;
    double fonts_shown_ms_ = -1;
    double slowest_streaming_ms_ = 0;
    double slowest_ms_ = 0;
    long long streaming_frames_ = 0;
    long long frames_ = 0;
    std::vector<std::string> replies_;
};

} // namespace glm4v::app::gui
