#pragma once
// What an exception that reached the worker means to the user: the engine's own errors as they are, memory run out on
// the host or on the GPU with what to do about it, anything else as an internal error.

#include "engine/error.h"

#include <exception>
#include <string>

namespace glm4v::app {

// `doing` completes "while ...": "loading the model", "answering".
engine::Error failure_from(const std::exception& e, const std::string& doing);

} // namespace glm4v::app
