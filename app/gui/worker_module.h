#pragma once
// The entry point of libglm4v-worker.so (worker_module.cpp), shared by the module and the window that loads it
// (worker_loader.h). The module is built with the window, by the same compiler, so C++ types cross it as they are.

#include <functional>

#include "app/worker.h"

namespace glm4v::app::gui {

inline constexpr const char* kWorkerModuleFile = "libglm4v-worker.so";
inline constexpr const char* kWorkerCreateSymbol = "glm4v_worker_create";

// A new Worker (the caller owns it); throws engine::Error as Worker's constructor does.
using WorkerCreateFn = WorkerApi* (*)(const WorkerPaths& paths, const std::function<void()>& wake);

} // namespace glm4v::app::gui
