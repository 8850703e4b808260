#pragma once
// Where glm4v-desktop keeps things on disk (DESIGN.md section 5), following the XDG base directory
// spec so that tests, and users who move their dirs, can point everything at another home.

#include <filesystem>
#include <string>

namespace glm4v::app {

// $HOME, else the password database's home directory; throws ErrorKind::Io when neither exists.
std::filesystem::path home_dir();

// $XDG_CACHE_HOME/glm4v, default ~/.cache/glm4v: the quantized-weight and vision-embedding caches.
std::filesystem::path cache_dir();
// $XDG_CONFIG_HOME/glm4v-desktop, default ~/.config/glm4v-desktop: settings.
std::filesystem::path config_dir();
// $XDG_DATA_HOME/glm4v-desktop, default ~/.local/share/glm4v-desktop: the history.
std::filesystem::path data_dir();

// The model folder: `model_path` (the --model-path option) when not empty, else $GLM4V_MODEL, else
// cache_dir()/glm-4v-9b (~/.cache/glm4v/glm-4v-9b with no XDG variables set).
std::filesystem::path model_dir(const std::string& model_path = {});

std::filesystem::path history_db_path();       // data_dir()/history.db
std::filesystem::path history_images_dir();    // data_dir()/images, files named <sha256>.<ext>
std::filesystem::path embedding_cache_dir();   // cache_dir()/embeddings

// Creates `dir` and its parents (mode 0700 for new ones: the history is private); throws ErrorKind::Io.
void ensure_dir(const std::filesystem::path& dir);

} // namespace glm4v::app
