#pragma once
// The window's persisted settings: settings.json under the XDG config dir (app/paths.h config_dir()).
// A missing file gives the defaults; a damaged one gives the defaults and a warning in the log, never an
// error the user has to fix by hand. Values out of range are clamped on load.

#include <filesystem>
#include <string>

namespace glm4v::app {

struct Settings {
    std::string model_folder; // empty: the default (app/paths.h model_dir())
    double temperature = 0.8; // 0: greedy
    double top_p = 0.8;
    int max_new_tokens = 1024;
    bool use_gpu = true;   // false: device "cpu"
    bool low_vram = false; // keep only what decoding needs on the GPU
    float font_size = 18.0f;
    bool dark_theme = true;
};

std::string settings_to_json(const Settings& settings);
// Unknown keys are ignored and missing ones keep their defaults; `warning` (when given) receives what
// was wrong with the text, if anything.
Settings settings_from_json(const std::string& text, std::string* warning = nullptr);

// config_dir()/settings.json
std::filesystem::path settings_file();
Settings load_settings(const std::filesystem::path& file);
// Written atomically; throws engine::Error (ErrorKind::Io).
void save_settings(const std::filesystem::path& file, const Settings& settings);

} // namespace glm4v::app
