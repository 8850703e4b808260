#pragma once
// The frame function's state: turns worker events into the views' read-only AppView, and the views'
// UiActions into worker commands (STYLE.md section 5). UI thread only.

#include <GLFW/glfw3.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "app/gui/clipboard_x11.h"
#include "app/settings.h"
#include "app/worker.h"
#include "ui/ui.h"
#include "ui/views.h"

namespace glm4v::app::gui {

// What scripted mode watches (counters only grow).
struct AppCounters {
    int images_opened = 0;
    int replies_done = 0;
    int failures = 0;
    int saves = 0;
    int conversations_loaded = 0;
    std::string last_failure;
    std::string last_saved;
};

class GuiApp {
public:
    GuiApp(GLFWwindow* window, WorkerApi& worker, Settings settings, std::string model_folder, float content_scale);
    ~GuiApp();

    // Start of a frame: worker events, dropped files, clipboard results, log lines, toasts' expiry.
    void begin_frame();
    // Draws the window and carries out what the user did.
    void draw();

    // For main: dropped paths (the GLFW callback runs inside glfwWaitEvents, on this thread).
    void on_drop(int count, const char** paths);
    // HiDPI: the window moved to a monitor of another scale, or the desktop's scale changed.
    void set_content_scale(float scale);
    float content_scale() const { return content_scale_; }
    // The log sink's lines (any thread).
    void add_log_line(const std::string& line);
    // True while something on screen moves by itself (a toast that will expire).
    bool wants_timed_wake() const { return !view_.toasts.empty(); }

    // Scripted mode drives the same paths as the user.
    void open_image(const std::string& path);
    void ask(const std::string& question);
    void reopen(std::int64_t conversation_id);
    void save_png(const std::string& path, int width, int height, std::vector<std::uint8_t> rgba);
    const ui::AppView& view() const { return view_; }
    const AppCounters& counters() const { return counters_; }
    std::int64_t conversation_id() const { return view_.chat.conversation_id; }

private:
    void apply(Event& event);
    void carry_out(const ui::UiActions& actions);
    void toast(const std::string& text, bool error);
    void request_history();
    void load_model(const std::string& folder);
    void leave_conversation();
    void set_image(const engine::RgbImage& image, const ImageInfo& info);
    void apply_settings(const Settings& settings, bool initial);
    engine::runtime::GenerationOptions generation() const;
    void paste();

    GLFWwindow* window_;
    WorkerApi& worker_;
    Settings settings_;
    float content_scale_;
    ui::AppView view_;
    ui::UiLocal local_;
    std::vector<Event> events_;
    std::map<std::int64_t, std::uint64_t> thumbnails_; // image id -> texture
    std::map<std::int64_t, std::int64_t> thumbnail_of_; // conversation id -> image id
    std::map<std::int64_t, std::pair<int, int>> thumbnail_size_;
    std::int64_t reopening_id_ = 0;
    bool starting_text_conversation_ = false; // asked without an image; the id comes with ConversationStarted
    std::vector<std::string> dropped_;
    std::vector<std::chrono::steady_clock::time_point> toast_times_;
    AppCounters counters_;

    std::mutex shared_mutex_; // log lines and clipboard results arrive from other threads
    std::deque<std::string> log_lines_;
    bool log_changed_ = false;
    std::vector<ClipboardContent> pastes_;
};

} // namespace glm4v::app::gui
