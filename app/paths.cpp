#include "app/paths.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/error.h"

namespace glm4v::app {
namespace fs = std::filesystem;
using engine::ErrorKind;

namespace {
// The XDG spec says a relative path in these variables is invalid and must be ignored.
fs::path xdg_base(const char* variable, const char* default_below_home) {
    const char* value = std::getenv(variable);
    if (value && value[0] == '/') return fs::path(value);
    return home_dir() / default_below_home;
}
} // namespace

fs::path home_dir() {
    const char* home = std::getenv("HOME");
    if (home && home[0] == '/') return fs::path(home);
    if (const passwd* entry = getpwuid(getuid()); entry && entry->pw_dir && entry->pw_dir[0] == '/')
        return fs::path(entry->pw_dir);
    GLM4V_FAIL(ErrorKind::Io) << "cannot find the home directory: $HOME is not set and the user has no passwd entry";
}

fs::path cache_dir() { return xdg_base("XDG_CACHE_HOME", ".cache") / "glm4v"; }
fs::path config_dir() { return xdg_base("XDG_CONFIG_HOME", ".config") / "glm4v-desktop"; }
fs::path data_dir() { return xdg_base("XDG_DATA_HOME", ".local/share") / "glm4v-desktop"; }

fs::path model_dir(const std::string& model_path) {
    if (!model_path.empty()) return fs::path(model_path);
    const char* from_env = std::getenv("GLM4V_MODEL");
    if (from_env && from_env[0]) return fs::path(from_env);
    return cache_dir() / "glm-4v-9b";
}

fs::path history_db_path() { return data_dir() / "history.db"; }
fs::path history_images_dir() { return data_dir() / "images"; }
fs::path embedding_cache_dir() { return cache_dir() / "embeddings"; }

void ensure_dir(const fs::path& dir) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return;
    fs::path partial;
    for (const auto& part : dir) {
        partial /= part;
        if (fs::is_directory(partial, ec)) continue;
        if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST)
            GLM4V_FAIL(ErrorKind::Io) << "cannot create directory " << partial << ": " << std::strerror(errno);
    }
    GLM4V_CHECK(fs::is_directory(dir, ec), ErrorKind::Io) << "cannot create directory " << dir << ": not a directory";
}

} // namespace glm4v::app
