#include <catch2/catch.hpp>
#include <cstdlib>

#include "app/paths.h"
#include "tests/app/scratch_home.h"

namespace app = glm4v::app;
namespace fs = std::filesystem;

TEST_CASE("XDG variables move the cache, settings and history", "[app][paths]") {
    glm4v::test::ScratchHome home;
    CHECK(app::cache_dir() == home.path() / "cache" / "glm4v");
    CHECK(app::config_dir() == home.path() / "config" / "glm4v-desktop");
    CHECK(app::data_dir() == home.path() / "data" / "glm4v-desktop");
    CHECK(app::history_db_path() == home.path() / "data" / "glm4v-desktop" / "history.db");
    CHECK(app::history_images_dir() == home.path() / "data" / "glm4v-desktop" / "images");
    CHECK(app::embedding_cache_dir() == home.path() / "cache" / "glm4v" / "embeddings");
}

TEST_CASE("without XDG variables everything lives under HOME as DESIGN.md section 5 says", "[app][paths]") {
    glm4v::test::ScratchHome home;
    ::unsetenv("XDG_DATA_HOME");
    ::unsetenv("XDG_CACHE_HOME");
    ::unsetenv("XDG_CONFIG_HOME");
    CHECK(app::cache_dir() == home.path() / ".cache" / "glm4v");
    CHECK(app::config_dir() == home.path() / ".config" / "glm4v-desktop");
    CHECK(app::data_dir() == home.path() / ".local" / "share" / "glm4v-desktop");
    CHECK(app::model_dir() == home.path() / ".cache" / "glm4v" / "glm-4v-9b");
}

TEST_CASE("a relative XDG variable is ignored, as the XDG spec requires", "[app][paths]") {
    glm4v::test::ScratchHome home;
    ::setenv("XDG_DATA_HOME", "relative/dir", 1);
    CHECK(app::data_dir() == home.path() / ".local" / "share" / "glm4v-desktop");
}

TEST_CASE("the model folder is --model-path, else GLM4V_MODEL, else the cache's glm-4v-9b", "[app][paths]") {
    glm4v::test::ScratchHome home;
    CHECK(app::model_dir() == home.path() / "cache" / "glm4v" / "glm-4v-9b");
    ::setenv("GLM4V_MODEL", "/models/from-env", 1);
    CHECK(app::model_dir() == fs::path("/models/from-env"));
    CHECK(app::model_dir("/models/from-option") == fs::path("/models/from-option"));
    ::unsetenv("GLM4V_MODEL");
}

TEST_CASE("ensure_dir creates missing parents and accepts an existing folder", "[app][paths]") {
    glm4v::test::ScratchHome home;
    const fs::path deep = home.path() / "a" / "b" / "c";
    app::ensure_dir(deep);
    CHECK(fs::is_directory(deep));
    app::ensure_dir(deep);
    glm4v::test::write_file(home.path() / "file", "x");
    CHECK_THROWS(app::ensure_dir(home.path() / "file" / "below"));
}
