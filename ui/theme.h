#pragma once
// Light and dark themes: ImGui's style plus the few colours the views draw themselves.

#include <imgui.h>

namespace glm4v::ui {

enum class ThemeColor { TextDim, Link, CodeBackground, UserBubble, AssistantBubble, Accent, Error, Rule };

// Sets ImGui's style for this theme, its sizes multiplied by scale (the window's content scale).
void apply_theme(bool dark, float scale);
ImU32 theme_color(ThemeColor color);

} // namespace glm4v::ui
