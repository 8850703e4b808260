#pragma once
// The worker, loaded after the window is up. Linking libtorch and CUDA's libraries costs about 0.6 s before main()
// runs (docs/gui.md), so glm4v-desktop links none of them: the Worker and everything under it (engine, libtorch)
// live in a module, libglm4v-worker.so, which a thread loads with dlopen once the first frame is up.
// Commands sent before it is ready wait in order and go to the Worker once it exists; a module that cannot be
// loaded turns into one Failed event that says why.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/worker.h"

namespace glm4v::app::gui {

class LoadedWorker final : public WorkerApi {
public:
    // wake as for Worker; also called when the module is loaded or has failed to.
    LoadedWorker(WorkerPaths paths, std::function<void()> wake);
    // Starts loading the module on a thread (once; later calls do nothing). Commands wait until it is loaded.
    void start();
    ~LoadedWorker() override; // shutdown()
    LoadedWorker(const LoadedWorker&) = delete;
    LoadedWorker& operator=(const LoadedWorker&) = delete;

    void submit(Command command) override;
    void cancel(std::int64_t conversation_id) override;
    void drain_events(std::vector<Event>& out) override;
    void shutdown() override; // waits for the module to finish loading, then shuts the Worker down

private:
    void load();

    WorkerPaths paths_;
    std::function<void()> wake_;
    std::mutex mutex_;
    std::unique_ptr<WorkerApi> worker_;
    std::deque<Command> waiting_;
    std::optional<std::string> failure_;
    bool failure_reported_ = false;
    bool shut_down_ = false;
    std::thread loader_;
};

// Where the module is: next to the executable (the build tree), else in <prefix>/<libdir>/glm4v-desktop.
std::string worker_module_path();

} // namespace glm4v::app::gui
