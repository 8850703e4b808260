#include "ui/theme.h"

namespace glm4v::ui {
namespace {
bool g_dark = true;
}

void apply_theme(bool dark, float scale) {
    g_dark = dark;
    ImGuiStyle style;
    if (dark) {
        ImGui::StyleColorsDark(&style);
        style.Colors[ImGuiCol_WindowBg] = ImVec4(0.11f, 0.12f, 0.14f, 1.0f);
        style.Colors[ImGuiCol_ChildBg] = ImVec4(0.0f, 0.0f, 0.0f, 0.0f);
    } else {
        ImGui::StyleColorsLight(&style);
        style.Colors[ImGuiCol_WindowBg] = ImVec4(0.97f, 0.97f, 0.98f, 1.0f);
    }
    style.WindowRounding = 0;
    style.ChildRounding = 6;
    style.FrameRounding = 5;
    style.GrabRounding = 5;
    style.PopupRounding = 6;
    style.ScrollbarRounding = 6;
    style.FramePadding = ImVec2(8, 5);
    style.ItemSpacing = ImVec2(8, 6);
    style.WindowBorderSize = 0;
    style.ScaleAllSizes(scale);
    ImGui::GetStyle() = style;
}

ImU32 theme_color(ThemeColor color) {
    switch (color) {
    case ThemeColor::TextDim: return g_dark ? IM_COL32(150, 155, 165, 255) : IM_COL32(105, 110, 120, 255);
    case ThemeColor::Link: return g_dark ? IM_COL32(110, 170, 255, 255) : IM_COL32(20, 90, 200, 255);
    case ThemeColor::CodeBackground: return g_dark ? IM_COL32(40, 44, 52, 255) : IM_COL32(232, 234, 238, 255);
    case ThemeColor::UserBubble: return g_dark ? IM_COL32(38, 58, 92, 255) : IM_COL32(214, 230, 252, 255);
    case ThemeColor::AssistantBubble: return g_dark ? IM_COL32(30, 33, 38, 255) : IM_COL32(255, 255, 255, 255);
    case ThemeColor::Accent: return g_dark ? IM_COL32(80, 140, 240, 255) : IM_COL32(40, 100, 210, 255);
    case ThemeColor::Error: return g_dark ? IM_COL32(240, 110, 100, 255) : IM_COL32(190, 40, 30, 255);
    case ThemeColor::Rule: return g_dark ? IM_COL32(70, 74, 82, 255) : IM_COL32(200, 202, 208, 255);
    }
    return IM_COL32_WHITE;
}

} // namespace glm4v::ui
