#pragma once
// The one JSON object a GPU benchmark prints on stdout, whatever happens to the run. Benchmarks run inside device
// calls of fixed length: a part that fails is recorded under "errors" and the others still run, and a watchdog prints
// what has been measured (with "timed_out": true) and ends the process before an outer `timeout` would kill it with
// nothing to show.

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace glm4v::bench {

class Report {
public:
    // After time_limit_s seconds the watchdog prints the report and exits with status 124, as `timeout` does.
    explicit Report(double time_limit_s);
    ~Report();
    Report(const Report&) = delete;
    Report& operator=(const Report&) = delete;

    void set(const std::string& key, nlohmann::ordered_json value);
    // Runs part(): its seconds go to "part_s"[name]; an exception it throws to "errors"[name], and the run goes on.
    void run_part(const std::string& name, const std::function<void()>& part);
    // Sends the engine's log to stderr, and its warnings and errors (the first 20) to "engine_warnings" too: a
    // warning such as a decode graph that failed to capture says which figures are not what they claim to be.
    void capture_engine_log();
    // Prints the report once; the exit status for main: 0, or 1 when a part failed.
    int finish();

private:
    void watch(double time_limit_s);

    std::mutex mutex_;
    std::condition_variable finished_cv_;
    bool finished_ = false;
    std::string part_; // the part running now, named when the time limit cuts it short
    nlohmann::ordered_json json_ = nlohmann::ordered_json::object();
    std::thread watchdog_;
};

} // namespace glm4v::bench
