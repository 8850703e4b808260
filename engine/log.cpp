#include "engine/log.h"

#include <memory>
#include <mutex>

namespace glm4v::engine {
namespace {
std::mutex sink_mutex;
std::shared_ptr<const LogSink> current_sink;
} // namespace

void set_log_sink(LogSink sink) {
    auto next = sink ? std::make_shared<const LogSink>(std::move(sink)) : nullptr;
    std::lock_guard<std::mutex> lock(sink_mutex);
    current_sink = std::move(next);
}

void log_message(LogLevel level, const std::string& message) {
    std::shared_ptr<const LogSink> sink;
    {
        std::lock_guard<std::mutex> lock(sink_mutex);
        sink = current_sink;
    }
    // Called outside the lock, so a sink may log or replace itself.
    if (sink) (*sink)(level, message);
}

} // namespace glm4v::engine
