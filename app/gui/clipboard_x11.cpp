#include "app/gui/clipboard_x11.h"

#include <X11/Xatom.h>
#include <X11/Xlib.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <thread>

namespace glm4v::app::gui {
namespace {

std::thread g_thread;
std::atomic<bool> g_running{false};

constexpr auto kTimeout = std::chrono::seconds(3);

// Waits for an event of `type` on `window`, polling so a silent owner cannot hang us.
bool wait_event(Display* d, Window window, int type, XEvent* out) {
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
        while (XPending(d)) {
            XNextEvent(d, out);
            if (out->type == type && out->xany.window == window) return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

// Asks the CLIPBOARD owner for `target`; the bytes it sends, or false.
bool convert(Display* d, Window w, Atom target, std::vector<std::uint8_t>& bytes, Atom* type_out = nullptr) {
    const Atom clipboard = XInternAtom(d, "CLIPBOARD", False);
    const Atom property = XInternAtom(d, "GLM4V_CLIPBOARD", False);
    const Atom incr = XInternAtom(d, "INCR", False);
    XConvertSelection(d, clipboard, target, property, w, CurrentTime);
    XEvent ev;
    if (!wait_event(d, w, SelectionNotify, &ev) || ev.xselection.property == None) return false;
    Atom type;
    int format;
    unsigned long count, after;
    unsigned char* data = nullptr;
    if (XGetWindowProperty(d, w, property, 0, LONG_MAX / 4, True, AnyPropertyType, &type, &format, &count, &after, &data) != Success)
        return false;
    if (type_out) *type_out = type;
    if (type != incr) {
        std::size_t unit = format == 32 ? sizeof(long) : static_cast<std::size_t>(format / 8);
        bytes.assign(data, data + count * unit);
        XFree(data);
        return true;
    }
    XFree(data);
    // INCR: the owner sends chunks, each announced by a new value of the property; an empty one ends it.
    for (;;) {
        do {
            if (!wait_event(d, w, PropertyNotify, &ev)) return false;
        } while (ev.xproperty.atom != property || ev.xproperty.state != PropertyNewValue);
        if (XGetWindowProperty(d, w, property, 0, LONG_MAX / 4, True, AnyPropertyType, &type, &format, &count, &after, &data) != Success)
            return false;
        const std::size_t n = count * (format == 32 ? sizeof(long) : static_cast<std::size_t>(format / 8));
        bytes.insert(bytes.end(), data, data + n);
        XFree(data);
        if (n == 0) return true;
    }
}

ClipboardContent read_clipboard() {
    ClipboardContent out;
    Display* d = XOpenDisplay(nullptr);
    if (!d) {
        out.error = "cannot open the X display to read the clipboard";
        return out;
    }
    Window w = XCreateSimpleWindow(d, DefaultRootWindow(d), 0, 0, 1, 1, 0, 0, 0);
    XSelectInput(d, w, PropertyChangeMask);
    const Atom targets_atom = XInternAtom(d, "TARGETS", False);
    const Atom png = XInternAtom(d, "image/png", False);
    const Atom utf8 = XInternAtom(d, "UTF8_STRING", False);
    std::vector<std::uint8_t> bytes;
    bool offers_png = false;
    if (convert(d, w, targets_atom, bytes)) {
        const auto* atoms = reinterpret_cast<const long*>(bytes.data());
        for (std::size_t i = 0; i < bytes.size() / sizeof(long); ++i)
            if (static_cast<Atom>(atoms[i]) == png) offers_png = true;
    }
    bytes.clear();
    if (offers_png && convert(d, w, png, bytes) && !bytes.empty()) {
        out.png = std::move(bytes);
    } else if (bytes.clear(), convert(d, w, utf8, bytes) || convert(d, w, XA_STRING, bytes)) {
        out.text.assign(bytes.begin(), bytes.end());
    } else {
        out.error = "the clipboard holds neither an image nor text";
    }
    XDestroyWindow(d, w);
    XCloseDisplay(d);
    return out;
}

} // namespace

void clipboard_read_async(std::function<void(ClipboardContent)> done) {
    if (g_running.exchange(true)) return;
    if (g_thread.joinable()) g_thread.join(); // the previous read has finished
    g_thread = std::thread([done = std::move(done)] {
        ClipboardContent content = read_clipboard();
        done(std::move(content));
        g_running = false;
    });
}

void clipboard_join() {
    if (g_thread.joinable()) g_thread.join();
}

} // namespace glm4v::app::gui
