#pragma once
// The engine never prints: messages go to one sink the embedder sets (the CLI: stderr; the GUI: a file
// and the log panel). Messages start with the function's name, as llama.cpp's do.

#include <functional>
#include <sstream>
#include <string>

namespace glm4v::engine {

enum class LogLevel { Debug, Info, Warn, Error };
using LogSink = std::function<void(LogLevel, const std::string&)>;

// Replaces the sink; an empty sink drops every message. Thread-safe.
void set_log_sink(LogSink sink);
void log_message(LogLevel level, const std::string& message);

template <typename... Args> std::string concat(const Args&... args) {
    std::ostringstream out;
    (out << ... << args);
    return out.str();
}
template <typename... Args> void log_debug(const Args&... args) { log_message(LogLevel::Debug, concat(args...)); }
template <typename... Args> void log_info(const Args&... args) { log_message(LogLevel::Info, concat(args...)); }
template <typename... Args> void log_warn(const Args&... args) { log_message(LogLevel::Warn, concat(args...)); }
template <typename... Args> void log_error(const Args&... args) { log_message(LogLevel::Error, concat(args...)); }

} // namespace glm4v::engine
