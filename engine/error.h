#pragma once
// One error type for the whole engine (STYLE.md "Errors"): thrown deep, caught at the edge
// (app/worker.cpp, each main), which picks what to show by kind.

#include <sstream>
#include <stdexcept>
#include <string>

namespace glm4v::engine {

enum class ErrorKind {
    ModelMissing, // no model folder, or a file it needs is absent
    ModelCorrupt, // a file exists but its content is wrong
    Unsupported,  // valid input this build or device cannot run
    OutOfMemory,
    Cuda,
    InvalidInput, // user input: empty question, bad image, bad option
    ContextFull,  // the conversation would pass seq_length
    Cancelled,
    Io, // the file system failed us: unreadable, full disk
};

const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message, std::string where = {});
    ErrorKind kind() const { return kind_; }
    // "file.cpp:123" of the check that failed; for logs, not for the user.
    const std::string& where() const { return where_; }

private:
    ErrorKind kind_;
    std::string where_;
};

// Adds context while unwinding: "loading model-00002-of-00002.safetensors: " + e.what().
[[noreturn]] void rethrow_with_context(const Error& e, const std::string& context);

namespace detail {
class ErrorBuilder {
public:
    ErrorBuilder(ErrorKind kind, const char* file, int line) : kind_(kind), file_(file), line_(line) {}
    template <typename T> const ErrorBuilder& operator<<(const T& value) const {
        stream_ << value;
        return *this;
    }
    [[noreturn]] void raise() const;

private:
    ErrorKind kind_;
    const char* file_;
    int line_;
    mutable std::ostringstream stream_;
};
struct Raise {
    // `&` binds looser than `<<`, so the whole message is built before this runs.
    [[noreturn]] void operator&(const ErrorBuilder& builder) const { builder.raise(); }
};
} // namespace detail

} // namespace glm4v::engine

// GLM4V_CHECK(offset <= size, ErrorKind::ModelCorrupt) << "tensor '" << name << "' ends past the file";
// A conditional expression, not an if, so an unbraced `if (x) GLM4V_CHECK(...)` has no dangling else.
#define GLM4V_CHECK(cond, kind)                                                                                        \
    (cond) ? (void)0                                                                                                   \
           : ::glm4v::engine::detail::Raise() & ::glm4v::engine::detail::ErrorBuilder((kind), __FILE__, __LINE__)

#define GLM4V_FAIL(kind)                                                                                               \
    ::glm4v::engine::detail::Raise() & ::glm4v::engine::detail::ErrorBuilder((kind), __FILE__, __LINE__)
