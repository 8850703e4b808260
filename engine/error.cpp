#include "engine/error.h"

#include <cstring>

namespace glm4v::engine {

const char* error_kind_name(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::ModelMissing: return "model missing";
    case ErrorKind::ModelCorrupt: return "model corrupt";
    case ErrorKind::Unsupported: return "unsupported";
    case ErrorKind::OutOfMemory: return "out of memory";
    case ErrorKind::Cuda: return "CUDA error";
    case ErrorKind::InvalidInput: return "invalid input";
    case ErrorKind::ContextFull: return "context full";
    case ErrorKind::Cancelled: return "cancelled";
    case ErrorKind::Io: return "I/O error";
    }
    return "error";
}

Error::Error(ErrorKind kind, const std::string& message, std::string where)
    : std::runtime_error(message), kind_(kind), where_(std::move(where)) {}

void rethrow_with_context(const Error& e, const std::string& context) {
    throw Error(e.kind(), context + ": " + e.what(), e.where());
}

namespace detail {
void ErrorBuilder::raise() const {
    const char* base = std::strrchr(file_, '/');
    throw Error(kind_, stream_.str(), std::string(base ? base + 1 : file_) + ":" + std::to_string(line_));
}
} // namespace detail

} // namespace glm4v::engine
