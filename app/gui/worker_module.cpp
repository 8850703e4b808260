// libglm4v-worker.so: the Worker, and with it the engine and libtorch, for glm4v-desktop to load after its first
// frame (worker_loader.h).
#include "app/gui/worker_module.h"

extern "C" __attribute__((visibility("default"))) glm4v::app::WorkerApi*
glm4v_worker_create(const glm4v::app::WorkerPaths& paths, const std::function<void()>& wake) {
    return new glm4v::app::Worker(paths, wake);
}

// The loader calls it through this type: a changed signature must not compile.
[[maybe_unused]] static constexpr glm4v::app::gui::WorkerCreateFn kCreate = &glm4v_worker_create;
