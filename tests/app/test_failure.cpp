// app::failure_from: what the worker tells the user when an exception reaches it.
#include "app/failure.h"

#include <c10/util/Exception.h>
#include <catch2/catch.hpp>

#include <new>
#include <stdexcept>

using glm4v::app::failure_from;
using glm4v::engine::Error;
using glm4v::engine::ErrorKind;

TEST_CASE("the engine's own errors reach the user as they are", "[failure]") {
    const Error e(ErrorKind::ModelCorrupt, "model-00001-of-00002.safetensors: header is not JSON");
    const Error f = failure_from(e, "loading the model");
    CHECK(f.kind() == ErrorKind::ModelCorrupt);
    CHECK(std::string(f.what()) == e.what());
}

TEST_CASE("host memory run out is reported as such", "[failure]") {
    const Error f = failure_from(std::bad_alloc(), "answering");
    CHECK(f.kind() == ErrorKind::OutOfMemory);
    CHECK(std::string(f.what()) == "out of memory while answering");
}

TEST_CASE("the GPU's memory run out names what to do and what PyTorch asked for", "[failure]") {
    // PyTorch 2's wording, with its allocator advice after the third sentence.
    const char* message = "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 7.63 GiB of "
                          "which 1.03 GiB is free. Including non-PyTorch memory, this process has 6.58 GiB memory in "
                          "use. If reserved but unallocated memory is large try setting "
                          "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.";
    try {
        TORCH_CHECK_WITH(OutOfMemoryError, false, message);
        FAIL("TORCH_CHECK_WITH did not throw");
    } catch (const c10::OutOfMemoryError& oom) {
        const Error f = failure_from(oom, "loading the model");
        const std::string what = f.what();
        CHECK(f.kind() == ErrorKind::OutOfMemory);
        CHECK(what.find("The GPU ran out of memory while loading the model.") == 0);
        CHECK(what.find("Low-VRAM mode") != std::string::npos);
        CHECK(what.find("Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 7.63 GiB of which 1.03 GiB is "
                        "free)") != std::string::npos);
        CHECK(what.find("Including non-PyTorch") == std::string::npos);
        CHECK(what.find("PYTORCH_CUDA_ALLOC_CONF") == std::string::npos);
    }
}

TEST_CASE("anything else is an internal error, with what it said", "[failure]") {
    const Error f = failure_from(std::logic_error("vector::_M_range_check"), "answering");
    CHECK(f.kind() == ErrorKind::Unsupported);
    CHECK(std::string(f.what()) == "internal error while answering: vector::_M_range_check");
}
