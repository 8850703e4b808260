#pragma once
// A throwaway home for one test: HOME and the XDG variables point into a scratch folder, so nothing a
// test does touches the real history, cache or settings.

#include <cstdlib>
#include <filesystem>

#include "tests/support/test_support.h"

namespace glm4v::test {

class ScratchHome {
public:
    ScratchHome() {
        ::setenv("HOME", dir_.path().c_str(), 1);
        ::setenv("XDG_DATA_HOME", (dir_.path() / "data").c_str(), 1);
        ::setenv("XDG_CACHE_HOME", (dir_.path() / "cache").c_str(), 1);
        ::setenv("XDG_CONFIG_HOME", (dir_.path() / "config").c_str(), 1);
        ::unsetenv("GLM4V_MODEL");
    }
    const std::filesystem::path& path() const { return dir_.path(); }

private:
    ScratchDir dir_;
};

} // namespace glm4v::test
