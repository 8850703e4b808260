#pragma once
// Ctrl+V of image bytes: GLFW reads only the clipboard's text, so this asks the X11 CLIPBOARD owner
// for image/png itself (Xlib, INCR transfers included), falling back to the text (a file path).
// It runs on its own thread and X connection: a slow clipboard owner never stalls a frame.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace glm4v::app::gui {

struct ClipboardContent {
    std::vector<std::uint8_t> png; // non-empty: the owner offered image/png
    std::string text;              // else the UTF-8 text, if any
    std::string error;             // why neither could be read
};

// Starts a read unless one is running; `done` runs on the reading thread.
void clipboard_read_async(std::function<void(ClipboardContent)> done);
// Waits for a running read to end (at exit; each read gives up after a few seconds).
void clipboard_join();

} // namespace glm4v::app::gui
