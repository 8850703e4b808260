// glm4v-desktop: the window. Opens at once with ImGui's own font, loads the model on the worker, and
// sleeps in glfwWaitEvents until the worker, the font builder or the user wakes it.
#include <GL/gl.h>
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <time.h>
#include <unistd.h>

#include "app/gui/clipboard_x11.h"
#include "app/gui/gui_app.h"
#include "app/gui/script.h"
#include "app/gui/worker_loader.h"
#include "app/paths.h"
#include "app/settings.h"
#include "engine/error.h"
#include "engine/log.h"
#include "ui/fonts.h"

namespace {

namespace app = glm4v::app;
namespace engine = glm4v::engine;

struct Options {
    std::string model_path;
    std::string script;
    int width = 1280;
    int height = 800;
};

void print_usage() {
    std::printf("usage: glm4v-desktop [--model-path DIR] [--script steps.json] [--size WIDTHxHEIGHT]\n"
                "  --model-path DIR   the GLM-4V-9B folder (default: $GLM4V_MODEL, the folder in Settings, or\n"
                "                     ~/.cache/glm4v/glm-4v-9b)\n"
                "  --script FILE      follow a JSON array of steps, then exit (see docs/gui.md)\n"
                "  --size WxH         the window's size (default 1280x800)\n");
}

std::optional<Options> parse(int argc, char** argv, int& exit_code) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw engine::Error(engine::ErrorKind::InvalidInput, a + " needs a value");
            return argv[++i];
        };
        if (a == "--model-path") {
            o.model_path = value();
        } else if (a == "--script") {
            o.script = value();
        } else if (a == "--size") {
            std::string v = value();
            if (std::sscanf(v.c_str(), "%dx%d", &o.width, &o.height) != 2 || o.width < 320 || o.height < 240)
                throw engine::Error(engine::ErrorKind::InvalidInput, "--size wants WIDTHxHEIGHT, at least 320x240");
        } else if (a == "--version") {
            std::printf("glm4v-desktop %s\nengine module: %s\n", GLM4V_VERSION, app::gui::worker_module_path().c_str());
            exit_code = 0;
            return std::nullopt;
        } else if (a == "-h" || a == "--help") {
            print_usage();
            exit_code = 0;
            return std::nullopt;
        } else {
            throw engine::Error(engine::ErrorKind::InvalidInput, "unknown option " + a + " (see --help)");
        }
    }
    return o;
}

// The engine's and the app's messages: a log file under the cache dir, the Settings log panel, and
// stderr in scripted mode.
struct LogTargets {
    std::mutex mutex;
    std::ofstream file;
    app::gui::GuiApp* panel = nullptr;
    bool to_stderr = false;
};

void glfw_error(int code, const char* message) { engine::log_error("glfw: error ", code, ": ", message); }

double boot_clock_seconds() {
    timespec now{};
    clock_gettime(CLOCK_BOOTTIME, &now);
    return static_cast<double>(now.tv_sec) + now.tv_nsec * 1e-9;
}

// When the kernel started this process, on the CLOCK_BOOTTIME scale, from /proc/self/stat (field 22, in
// clock ticks). Start-up is timed from here, not from main(): loading the shared libraries comes first and is
// part of what the user waits for. NaN when /proc cannot tell.
double process_start_seconds() {
    std::ifstream in("/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto name_end = stat.rfind(')'); // the command name may hold spaces and parentheses
    if (name_end == std::string::npos) return std::nan("");
    std::istringstream fields(stat.substr(name_end + 1));
    std::string field;
    for (int i = 3; i <= 22; ++i)
        if (!(fields >> field)) return std::nan("");
    return std::stod(field) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

} // namespace

int main(int argc, char** argv) {
    const double process_start = process_start_seconds();
    int exit_code = 0;
    Options options;
    try {
        auto parsed = parse(argc, argv, exit_code);
        if (!parsed) return exit_code;
        options = *parsed;
    } catch (const engine::Error& e) {
        std::fprintf(stderr, "glm4v-desktop: %s\n", e.what());
        return 2;
    }

    auto logs = std::make_shared<LogTargets>();
    logs->to_stderr = !options.script.empty();
    try {
        app::ensure_dir(app::cache_dir());
        logs->file.open(app::cache_dir() / "glm4v-desktop.log", std::ios::app);
    } catch (const engine::Error&) {
        // No log file: the panel and stderr still work.
    }
    engine::set_log_sink([logs](engine::LogLevel level, const std::string& message) {
        static const char* names[] = {"debug", "info", "warning", "error"};
        const std::string line = std::string(names[static_cast<int>(level)]) + ": " + message;
        std::lock_guard<std::mutex> lock(logs->mutex);
        if (logs->file) logs->file << line << std::endl;
        if (logs->to_stderr && level != engine::LogLevel::Debug) std::fprintf(stderr, "glm4v-desktop: %s\n", line.c_str());
        if (logs->panel && level != engine::LogLevel::Debug) logs->panel->add_log_line(line);
    });

    std::optional<app::gui::Script> script;
    if (!options.script.empty()) {
        try {
            script = app::gui::Script::load(options.script);
        } catch (const engine::Error& e) {
            std::fprintf(stderr, "glm4v-desktop: %s\n", e.what());
            return 2;
        }
    }

    // Before the window: a tiny file, read once.
    app::Settings settings = app::load_settings(app::settings_file());
    std::string model_folder;
    if (!options.model_path.empty() || std::getenv("GLM4V_MODEL") || settings.model_folder.empty()) {
        model_folder = app::model_dir(options.model_path).string();
    } else {
        model_folder = settings.model_folder;
    }

    glfwSetErrorCallback(glfw_error);
    if (!glfwInit()) {
        std::fprintf(stderr, "glm4v-desktop: cannot start GLFW (is DISPLAY set? see the log in %s)\n",
                     (app::cache_dir() / "glm4v-desktop.log").c_str());
        return 1;
    }
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
    glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
    glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
    glfwWindowHint(GLFW_SCALE_TO_MONITOR, GLFW_TRUE);
    GLFWwindow* window = glfwCreateWindow(options.width, options.height, "GLM-4V", nullptr, nullptr);
    if (!window) {
        std::fprintf(stderr, "glm4v-desktop: cannot open an OpenGL 3.3 window (a GPU driver or Mesa is needed)\n");
        glfwTerminate();
        return 1;
    }
    glfwMakeContextCurrent(window);
    glfwSwapInterval(script ? 0 : 1); // scripted runs measure the frame's own work, not the display's pace
    float scale_x = 1, scale_y = 1;
    glfwGetWindowContentScale(window, &scale_x, &scale_y);
    const float scale = std::max(1.0f, std::max(scale_x, scale_y));

    IMGUI_CHECKVERSION();
    ImGui::CreateContext(glm4v::ui::fonts_initial_atlas());
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr; // layout is fixed; nothing to save in the working directory
    io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
    ImGui_ImplGlfw_InitForOpenGL(window, true);
    ImGui_ImplOpenGL3_Init("#version 330 core");
    ImGui_ImplOpenGL3_CreateDeviceObjects(); // the first atlas's texture, before a built one can replace it
    engine::log_info("gui: OpenGL ", reinterpret_cast<const char*>(glGetString(GL_VERSION)), " on ",
                     reinterpret_cast<const char*>(glGetString(GL_RENDERER)));

    int status = 0;
    {
        app::WorkerPaths paths{app::data_dir(), app::embedding_cache_dir(), app::cache_dir()};
        app::gui::LoadedWorker worker(paths, [] { glfwPostEmptyEvent(); });
        app::gui::GuiApp gui(window, worker, settings, model_folder, scale);
        {
            std::lock_guard<std::mutex> lock(logs->mutex);
            logs->panel = &gui;
        }
        glfwSetWindowUserPointer(window, &gui);
        glfwSetDropCallback(window, [](GLFWwindow* w, int count, const char** paths) {
            static_cast<app::gui::GuiApp*>(glfwGetWindowUserPointer(w))->on_drop(count, paths);
        });
        glfwSetWindowContentScaleCallback(window, [](GLFWwindow* w, float x, float y) {
            static_cast<app::gui::GuiApp*>(glfwGetWindowUserPointer(w))->set_content_scale(std::max(1.0f, std::max(x, y)));
        });

        double window_shown_ms = -1, fonts_shown_ms = -1;
        int settle_frames = 3;
        while (!glfwWindowShouldClose(window)) {
            // Idle costs nothing: sleep until an event. ImGui needs a couple of frames after an input
            // for hover and layout to settle, so a few follow each wake-up.
            if (settle_frames > 0) {
                glfwPollEvents();
                --settle_frames;
            } else if (script) {
                glfwWaitEventsTimeout(0.05);
                settle_frames = 1;
            } else {
                if (gui.wants_timed_wake()) glfwWaitEventsTimeout(1.0);
                else glfwWaitEvents();
                settle_frames = 2;
            }
            const auto frame_start = std::chrono::steady_clock::now();
            const bool fonts_changed = glm4v::ui::fonts_update_between_frames();
            const auto t_fonts = std::chrono::steady_clock::now();
            gui.begin_frame();
            const auto t_events = std::chrono::steady_clock::now();
            if (script) script->before_frame(gui);
            ImGui_ImplOpenGL3_NewFrame();
            ImGui_ImplGlfw_NewFrame();
            ImGui::NewFrame();
            gui.draw();
            ImGui::Render();
            const auto t_draw = std::chrono::steady_clock::now();
            int fb_w = 0, fb_h = 0;
            glfwGetFramebufferSize(window, &fb_w, &fb_h);
            glViewport(0, 0, fb_w, fb_h);
            const ImVec4 bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
            glClearColor(bg.x, bg.y, bg.z, 1.0f);
            glClear(GL_COLOR_BUFFER_BIT);
            ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
            if (script) script->after_render(gui, fb_w, fb_h);
            glfwSwapBuffers(window);
            if (fonts_shown_ms < 0) {
                const double ms = (boot_clock_seconds() - process_start) * 1000;
                if (window_shown_ms < 0) {
                    window_shown_ms = ms;
                    worker.start(); // the engine's libraries load now, not while the first frame is being made
                }
                if (glm4v::ui::fonts_built()) {
                    fonts_shown_ms = ms;
                    engine::log_info("gui: first frame ", window_shown_ms, " ms after the process started, first with the fonts ",
                                     fonts_shown_ms, " ms");
                }
                if (script) script->note_startup(window_shown_ms, fonts_shown_ms);
            }
            if (script) {
                glFinish(); // count the GPU's share of the frame too
                const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - frame_start).count();
                script->note_frame(ms, gui.view().chat.generating);
                if (ms > 50) {
                    auto since = [&](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
                    engine::log_warn("gui: slow frame ", ms, gui.view().chat.generating ? " ms (streaming): fonts " : " ms: fonts ", since(frame_start, t_fonts),
                                     fonts_changed ? " (new atlas)" : "", ", events ", since(t_fonts, t_events), ", layout ",
                                     since(t_events, t_draw), ", render and present ", since(t_draw, std::chrono::steady_clock::now()));
                }
                if (script->finished()) glfwSetWindowShouldClose(window, GLFW_TRUE);
            }
        }
        // Closing mid-reply: the window goes at once, the worker stops the reply and stores what it has.
        glfwHideWindow(window);
        worker.shutdown();
        app::gui::clipboard_join();
        {
            std::lock_guard<std::mutex> lock(logs->mutex);
            logs->panel = nullptr;
        }
        if (script) {
            std::printf("%s\n", script->report().c_str());
            std::fflush(stdout);
            if (script->failed()) {
                std::fprintf(stderr, "glm4v-desktop: script failed at %s\n", script->error().c_str());
                status = 1;
            }
        }
    }
    glm4v::ui::fonts_shutdown();
    ImGui_ImplOpenGL3_Shutdown();
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();
    glfwDestroyWindow(window);
    glfwTerminate();
    return status;
}
