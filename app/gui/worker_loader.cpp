#include "app/gui/worker_loader.h"

#include <dlfcn.h>

#include <exception>
#include <filesystem>
#include <system_error>

#include "app/gui/worker_module.h"
#include "engine/log.h"

namespace glm4v::app::gui {

std::string worker_module_path() {
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    const std::filesystem::path dir = ec ? std::filesystem::path(".") : exe.parent_path();
    const std::filesystem::path beside = dir / kWorkerModuleFile;
    if (std::filesystem::exists(beside, ec)) return beside.string();
    return (dir / ".." / GLM4V_WORKER_MODULE_DIR / kWorkerModuleFile).lexically_normal().string();
}

LoadedWorker::LoadedWorker(WorkerPaths paths, std::function<void()> wake)
    : paths_(std::move(paths)), wake_(std::move(wake)) {}

void LoadedWorker::start() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!loader_.joinable() && !shut_down_) loader_ = std::thread([this] { load(); });
}

LoadedWorker::~LoadedWorker() { shutdown(); }

void LoadedWorker::load() {
    const std::string path = worker_module_path();
    std::unique_ptr<WorkerApi> worker;
    std::string failure;
    // RTLD_GLOBAL, as if linked: libtorch and the CUDA libraries it opens later see each other's symbols.
    if (void* module = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
        auto create = reinterpret_cast<WorkerCreateFn>(dlsym(module, kWorkerCreateSymbol));
        if (!create) {
            failure = path + " has no " + kWorkerCreateSymbol;
        } else {
            try {
                worker.reset(create(paths_, wake_));
            } catch (const std::exception& e) {
                failure = e.what();
            }
        }
        // Never closed: libtorch cannot be unloaded.
    } else {
        const char* why = dlerror();
        failure = why ? why : path;
    }
    if (worker) engine::log_info("gui: engine loaded from ", path);
    std::lock_guard<std::mutex> lock(mutex_);
    if (worker) {
        worker_ = std::move(worker);
        for (Command& command : waiting_) worker_->submit(std::move(command));
        waiting_.clear();
    } else {
        failure_ = "glm4v-desktop could not load its engine (" + failure +
                   "). Reinstall it, or run packaging/setup.sh again in the source folder.";
    }
    if (wake_) wake_();
}

void LoadedWorker::submit(Command command) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (worker_)
        worker_->submit(std::move(command));
    else if (!failure_)
        waiting_.push_back(std::move(command));
}

void LoadedWorker::cancel(std::int64_t conversation_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (worker_) worker_->cancel(conversation_id); // a command still waiting has nothing generating to stop
}

void LoadedWorker::drain_events(std::vector<Event>& out) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (worker_) {
        worker_->drain_events(out);
    } else if (failure_ && !failure_reported_) {
        Event event(EventKind::Failed, 0, *failure_);
        event.error_kind = engine::ErrorKind::Unsupported;
        out.push_back(std::move(event));
        failure_reported_ = true;
    }
}

void LoadedWorker::shutdown() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (shut_down_) return;
        shut_down_ = true;
    }
    if (loader_.joinable()) loader_.join();
    std::lock_guard<std::mutex> lock(mutex_);
    if (worker_) worker_->shutdown();
}

} // namespace glm4v::app::gui
