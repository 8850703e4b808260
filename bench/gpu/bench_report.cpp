#include "bench/gpu/bench_report.h"

#include "engine/log.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>

namespace glm4v::bench {

Report::Report(double time_limit_s) : watchdog_([this, time_limit_s] { watch(time_limit_s); }) {}

Report::~Report() {
    engine::set_log_sink({});
    {
        std::lock_guard<std::mutex> lock(mutex_);
        finished_ = true;
    }
    finished_cv_.notify_all();
    watchdog_.join();
}

void Report::set(const std::string& key, nlohmann::ordered_json value) {
    std::lock_guard<std::mutex> lock(mutex_);
    json_[key] = std::move(value);
}

void Report::run_part(const std::string& name, const std::function<void()>& part) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        part_ = name;
    }
    std::fprintf(stderr, "bench: %s\n", name.c_str());
    const auto start = std::chrono::steady_clock::now();
    std::string error;
    try {
        part();
    } catch (const std::exception& e) {
        error = e.what();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::lock_guard<std::mutex> lock(mutex_);
    json_["part_s"][name] = std::round(seconds * 100) / 100;
    if (!error.empty()) {
        std::fprintf(stderr, "bench: %s failed: %s\n", name.c_str(), error.c_str());
        json_["errors"][name] = error;
    }
    part_.clear();
}

void Report::capture_engine_log() {
    engine::set_log_sink([this](engine::LogLevel level, const std::string& message) {
        if (level == engine::LogLevel::Debug) return;
        std::fprintf(stderr, "%s\n", message.c_str());
        if (level == engine::LogLevel::Info) return;
        std::lock_guard<std::mutex> lock(mutex_);
        auto& warnings = json_["engine_warnings"];
        if (warnings.size() < 20) warnings.push_back(message);
    });
}

int Report::finish() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!finished_) {
        std::printf("%s\n", json_.dump(2).c_str());
        std::fflush(stdout);
        finished_ = true;
    }
    finished_cv_.notify_all();
    return json_.contains("errors") ? 1 : 0;
}

void Report::watch(double time_limit_s) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (finished_cv_.wait_for(lock, std::chrono::duration<double>(time_limit_s), [this] { return finished_; })) return;
    json_["timed_out"] = true;
    json_["errors"][part_.empty() ? "run" : part_] =
        "time limit of " + std::to_string(std::lround(time_limit_s)) + " s reached";
    std::printf("%s\n", json_.dump(2).c_str());
    std::fflush(stdout);
    // The main thread may be inside a CUDA call that never returns: end the process without unwinding it.
    std::_Exit(124);
}

} // namespace glm4v::bench
