#include "app/settings.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "app/atomic_file.h"
#include "app/paths.h"
#include "engine/error.h"
#include "engine/log.h"

namespace glm4v::app {

std::string settings_to_json(const Settings& s) {
    nlohmann::json j;
    j["model_folder"] = s.model_folder;
    j["temperature"] = s.temperature;
    j["top_p"] = s.top_p;
    j["max_new_tokens"] = s.max_new_tokens;
    j["device"] = s.use_gpu ? "gpu" : "cpu";
    j["low_vram"] = s.low_vram;
    j["font_size"] = s.font_size;
    j["theme"] = s.dark_theme ? "dark" : "light";
    return j.dump(2) + "\n";
}

Settings settings_from_json(const std::string& text, std::string* warning) {
    Settings s;
    std::ostringstream problems;
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        if (warning) *warning = "not a JSON object; using the defaults";
        return s;
    }
    auto read = [&](const char* key, auto& out) {
        auto it = j.find(key);
        if (it == j.end()) return;
        try {
            out = it->get<std::decay_t<decltype(out)>>();
        } catch (const nlohmann::json::exception&) {
            problems << key << " has the wrong type; ";
        }
    };
    read("model_folder", s.model_folder);
    read("temperature", s.temperature);
    read("top_p", s.top_p);
    read("max_new_tokens", s.max_new_tokens);
    read("low_vram", s.low_vram);
    read("font_size", s.font_size);
    std::string device = "gpu", theme = "dark";
    read("device", device);
    read("theme", theme);
    if (device != "gpu" && device != "cpu") problems << "device must be \"gpu\" or \"cpu\"; ";
    if (theme != "dark" && theme != "light") problems << "theme must be \"dark\" or \"light\"; ";
    s.use_gpu = device != "cpu";
    s.dark_theme = theme != "light";
    auto clamp = [&](auto& v, auto lo, auto hi, const char* key) {
        if (!(v >= lo && v <= hi)) {
            problems << key << " out of range; ";
            v = v < lo || v != v ? lo : hi;
        }
    };
    clamp(s.temperature, 0.0, 2.0, "temperature");
    clamp(s.top_p, 0.01, 1.0, "top_p");
    clamp(s.max_new_tokens, 1, 8192, "max_new_tokens");
    clamp(s.font_size, 10.0f, 40.0f, "font_size");
    if (warning) *warning = problems.str();
    return s;
}

std::filesystem::path settings_file() { return config_dir() / "settings.json"; }

Settings load_settings(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Settings{};
    std::stringstream text;
    text << in.rdbuf();
    std::string warning;
    Settings s = settings_from_json(text.str(), &warning);
    if (!warning.empty()) engine::log_warn("load_settings: ", file.string(), ": ", warning);
    return s;
}

void save_settings(const std::filesystem::path& file, const Settings& settings) {
    ensure_dir(file.parent_path());
    const std::string text = settings_to_json(settings);
    write_file_atomically(file, text.data(), text.size());
}

} // namespace glm4v::app
