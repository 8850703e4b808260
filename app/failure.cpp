#include "app/failure.h"

#include <c10/util/Exception.h>

#include <new>

namespace glm4v::app {

using engine::Error;
using engine::ErrorKind;

Error failure_from(const std::exception& e, const std::string& doing) {
    if (const auto* error = dynamic_cast<const Error*>(&e)) return *error;
    if (dynamic_cast<const std::bad_alloc*>(&e)) return Error(ErrorKind::OutOfMemory, "out of memory while " + doing);
    if (const auto* oom = dynamic_cast<const c10::OutOfMemoryError*>(&e)) {
        // PyTorch's message runs to a paragraph of allocator advice; its first three sentences say what was asked
        // for and what the card had free.
        std::string what = oom->what_without_backtrace();
        std::size_t end = std::string::npos, from = 0;
        for (int sentence = 0; sentence < 3; ++sentence) {
            end = what.find(". ", from);
            if (end == std::string::npos) break;
            from = end + 2;
        }
        if (end != std::string::npos) what.resize(end);
        return Error(ErrorKind::OutOfMemory,
                     "The GPU ran out of memory while " + doing +
                         ". Low-VRAM mode (Settings, or --low-vram) keeps the vision tower in host memory, which "
                         "leaves about 2.5 GB more for the rest; programs that hold GPU memory can be closed too. (" +
                         what + ")");
    }
    return Error(ErrorKind::Unsupported, "internal error while " + doing + ": " + e.what());
}

} // namespace glm4v::app
