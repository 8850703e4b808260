#include <catch2/catch.hpp>

#include "app/settings.h"
#include "tests/support/test_support.h"

using glm4v::app::Settings;

TEST_CASE("settings survive a save and a load", "[gui][settings]") {
    glm4v::test::ScratchDir dir;
    Settings s;
    s.model_folder = "/models/glm-4v-9b";
    s.temperature = 0.0;
    s.top_p = 0.5;
    s.max_new_tokens = 77;
    s.use_gpu = false;
    s.low_vram = true;
    s.font_size = 22;
    s.dark_theme = false;
    const auto file = dir / "sub" / "settings.json";
    glm4v::app::save_settings(file, s);
    Settings back = glm4v::app::load_settings(file);
    CHECK(back.model_folder == s.model_folder);
    CHECK(back.temperature == 0.0);
    CHECK(back.top_p == 0.5);
    CHECK(back.max_new_tokens == 77);
    CHECK_FALSE(back.use_gpu);
    CHECK(back.low_vram);
    CHECK(back.font_size == 22);
    CHECK_FALSE(back.dark_theme);
}

TEST_CASE("a missing or damaged settings file gives the defaults and says why", "[gui][settings]") {
    glm4v::test::ScratchDir dir;
    Settings defaults;
    Settings missing = glm4v::app::load_settings(dir / "absent.json");
    CHECK(missing.max_new_tokens == defaults.max_new_tokens);
    std::string warning;
    Settings broken = glm4v::app::settings_from_json("{not json", &warning);
    CHECK(broken.temperature == defaults.temperature);
    CHECK_FALSE(warning.empty());
}

TEST_CASE("values out of range are clamped and wrong types named", "[gui][settings]") {
    std::string warning;
    Settings s = glm4v::app::settings_from_json(
        R"({"temperature": 9, "max_new_tokens": -4, "font_size": "big", "theme": "light", "device": "cpu"})", &warning);
    CHECK(s.temperature == 2.0);
    CHECK(s.max_new_tokens == 1);
    CHECK(s.font_size == Settings{}.font_size);
    CHECK_FALSE(s.dark_theme);
    CHECK_FALSE(s.use_gpu);
    CHECK(warning.find("font_size") != std::string::npos);
    CHECK(warning.find("temperature") != std::string::npos);
}
