#include "app/gui/script.h"

#include <GL/gl.h>
#include <GLFW/glfw3.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "app/gui/gui_app.h"
#include "engine/error.h"
#include "engine/log.h"
#include "ui/fonts.h"

namespace glm4v::app::gui {
namespace {
const char* kKinds[] = {"open", "ask", "screenshot", "expect_history", "reopen", "wait_ms", "quit"};

std::string kind_of(const nlohmann::json& step) {
    for (const char* k : kKinds)
        if (step.contains(k)) return k;
    return "";
}

const ui::HistoryEntryView* find_entry(const ui::AppView& view, const std::string& text) {
    for (const ui::HistoryEntryView& e : view.history.entries)
        if (e.title.find(text) != std::string::npos) return &e;
    return nullptr;
}
} // namespace

Script Script::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    GLM4V_CHECK(in.good(), engine::ErrorKind::InvalidInput) << "script " << path << ": cannot read the file";
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
    GLM4V_CHECK(!j.is_discarded() && j.is_array(), engine::ErrorKind::InvalidInput)
        << "script " << path << ": not a JSON array of steps";
    Script s;
    for (std::size_t i = 0; i < j.size(); ++i) {
        GLM4V_CHECK(j[i].is_object() && !kind_of(j[i]).empty(), engine::ErrorKind::InvalidInput)
            << "script " << path << ": step " << i + 1 << " is none of open, ask, screenshot, expect_history, reopen, wait_ms, quit";
        s.steps_.push_back(j[i]);
    }
    return s;
}

void Script::fail(const std::string& message) {
    const std::string kind = index_ < steps_.size() ? kind_of(steps_[index_]) : "";
    error_ = "step " + std::to_string(index_ + 1) + " (" + kind + "): " + message;
    finished_ = true;
}

void Script::next() {
    ++index_;
    started_ = false;
    capture_ = false;
    asked_ = false;
}

void Script::note_startup(double window_shown_ms, double fonts_shown_ms) {
    window_shown_ms_ = window_shown_ms;
    fonts_shown_ms_ = fonts_shown_ms;
}

void Script::note_frame(double ms, bool streaming) {
    ++frames_;
    slowest_ms_ = std::max(slowest_ms_, ms);
    if (streaming) {
        ++streaming_frames_;
        slowest_streaming_ms_ = std::max(slowest_streaming_ms_, ms);
    }
}

void Script::before_frame(GuiApp& app) {
    if (finished_) return;
    if (index_ >= steps_.size()) {
        finished_ = true;
        return;
    }
    const nlohmann::json& step = steps_[index_];
    const std::string kind = kind_of(step);
    const AppCounters& c = app.counters();
    const ui::AppView& view = app.view();
    if (!started_) {
        started_ = true;
        frames_in_step_ = 0;
        step_start_ = std::chrono::steady_clock::now();
        base_images_ = c.images_opened;
        base_replies_ = c.replies_done;
        base_failures_ = c.failures;
        base_saves_ = c.saves;
        base_loaded_ = c.conversations_loaded;
        if (kind == "open") app.open_image(step["open"].get<std::string>());
        if (kind == "quit") {
            glfwSetWindowShouldClose(glfwGetCurrentContext(), GLFW_TRUE);
            finished_ = true;
            return;
        }
    }
    ++frames_in_step_;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start_).count();
    if (elapsed > step.value("timeout_s", 600.0)) {
        fail("timed out after " + std::to_string(static_cast<int>(elapsed)) + " s");
        return;
    }
    if (kind == "open") {
        if (c.failures > base_failures_) return fail(c.last_failure);
        if (c.images_opened > base_images_) next();
    } else if (kind == "ask") {
        if (!asked_) {
            if (view.model.phase == ui::ModelPhase::Missing || view.model.phase == ui::ModelPhase::Failed)
                return fail("no model: " + view.model.error);
            // With no image open, the question starts a conversation about text alone.
            if (view.model.phase != ui::ModelPhase::Ready || !view.chat.blocked_reason.empty() || view.chat.generating) return;
            // Start-up finished: the first real font atlas is in (a user's first question comes later).
            if (!ui::fonts_built() || ui::fonts_pending()) return;
            base_replies_ = c.replies_done;
            base_failures_ = c.failures;
            app.ask(step["ask"].get<std::string>());
            if (step.value("wait", true)) asked_ = true;
            else next();
            return;
        }
        if (c.failures > base_failures_) return fail(c.last_failure);
        if (c.replies_done > base_replies_) {
            replies_.push_back(view.chat.messages.empty() ? "" : view.chat.messages.back().text);
            next();
        }
    } else if (kind == "screenshot") {
        if (capture_) {
            if (c.failures > base_failures_) return fail(c.last_failure);
            if (c.saves > base_saves_) next();
            return;
        }
        // Let layout settle and every character reach the font atlas first.
        if (frames_in_step_ >= 3 && !ui::fonts_pending()) capture_ = true;
    } else if (kind == "expect_history") {
        if (find_entry(view, step["expect_history"].get<std::string>())) next();
    } else if (kind == "reopen") {
        if (target_id_ == 0) {
            const ui::HistoryEntryView* e = find_entry(view, step["reopen"].get<std::string>());
            if (!e) return;
            target_id_ = e->id;
            app.reopen(e->id);
            return;
        }
        if (c.failures > base_failures_) return fail(c.last_failure);
        if (c.conversations_loaded > base_loaded_ && app.conversation_id() == target_id_) {
            target_id_ = 0;
            next();
        }
    } else if (kind == "wait_ms") {
        if (elapsed * 1000 >= step["wait_ms"].get<double>()) next();
    }
}

void Script::after_render(GuiApp& app, int width, int height) {
    content_scale_ = app.content_scale();
    font_pixels_ = ui::fonts().size;
    framebuffer_width_ = width;
    if (finished_ || index_ >= steps_.size() || !capture_ || kind_of(steps_[index_]) != "screenshot") return;
    if (frames_in_step_ < 0) return;
    std::vector<std::uint8_t> rgba(static_cast<std::size_t>(width) * height * 4);
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
    glReadBuffer(GL_BACK);
    glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE, rgba.data());
    // OpenGL's rows run bottom to top.
    const std::size_t row = static_cast<std::size_t>(width) * 4;
    for (int y = 0; y < height / 2; ++y)
        std::swap_ranges(rgba.begin() + y * row, rgba.begin() + (y + 1) * row, rgba.begin() + (height - 1 - y) * row);
    app.save_png(steps_[index_]["screenshot"].get<std::string>(), width, height, std::move(rgba));
    frames_in_step_ = -1000000; // taken: wait for the save, never take it twice
}

std::string Script::report() const {
    nlohmann::json j;
    j["ok"] = error_.empty();
    if (!error_.empty()) j["error"] = error_;
    j["steps_done"] = index_;
    j["window_shown_ms"] = window_shown_ms_;
    j["fonts_shown_ms"] = fonts_shown_ms_;
    j["frames"] = frames_;
    j["slowest_frame_ms"] = slowest_ms_;
    j["streaming_frames"] = streaming_frames_;
    j["slowest_streaming_frame_ms"] = slowest_streaming_ms_;
    j["replies"] = replies_;
    j["content_scale"] = content_scale_;
    j["font_pixels"] = font_pixels_;
    j["framebuffer_width"] = framebuffer_width_;
    return j.dump();
}

} // namespace glm4v::app::gui
