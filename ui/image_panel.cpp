// The conversation's image: fitted to the panel, wheel to zoom around the cursor, drag to pan,
// double-click to fit again; its size and format underneath.
#include <imgui.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "ui/fonts.h"
#include "ui/theme.h"
#include "ui/ui.h"

namespace glm4v::ui {
namespace {

std::string human_bytes(std::int64_t bytes) {
    char out[32];
    if (bytes >= 1 << 20) std::snprintf(out, sizeof out, "%.1f MB", bytes / 1048576.0);
    else if (bytes >= 1 << 10) std::snprintf(out, sizeof out, "%.0f KB", bytes / 1024.0);
    else std::snprintf(out, sizeof out, "%lld bytes", static_cast<long long>(bytes));
    return out;
}

void draw_empty(const ImageView& view) {
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const ImVec2 top = ImGui::GetCursorScreenPos();
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float r = fonts().size * 0.6f;
    dl->AddRect(ImVec2(top.x + r, top.y + r), ImVec2(top.x + avail.x - r, top.y + avail.y - r),
                theme_color(ThemeColor::Rule), r, 0, 2.0f);
    const char* lines[] = {view.loading ? "Opening the image..." : "Drop an image here",
                           view.loading ? "" : "or paste one (Ctrl+V), or use Open image..."};
    float y = top.y + avail.y * 0.5f - fonts().size;
    for (const char* line : lines) {
        ImVec2 size = ImGui::CalcTextSize(line);
        dl->AddText(ImVec2(top.x + (avail.x - size.x) * 0.5f, y), theme_color(ThemeColor::TextDim), line);
        y += fonts().size * 1.5f;
    }
    ImGui::Dummy(avail);
}

} // namespace

void draw_image_panel(const ImageView& view, ImageLocal& local, BrowserLocal& browser, UiActions& actions) {
    const float info_height = ImGui::GetFrameHeightWithSpacing();
    ImGui::BeginChild("image", ImVec2(0, -info_height), false, ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse);
    if (!view.texture || view.width <= 0 || view.height <= 0) {
        draw_empty(view);
    } else {
        if (local.shown != view.texture) {
            local = ImageLocal{};
            local.shown = view.texture;
        }
        const ImVec2 avail = ImGui::GetContentRegionAvail();
        const ImVec2 top = ImGui::GetCursorScreenPos();
        ImGui::InvisibleButton("canvas", ImVec2(std::max(avail.x, 1.0f), std::max(avail.y, 1.0f)));
        const bool hovered = ImGui::IsItemHovered();
        const float fit = std::min(avail.x / view.width, avail.y / view.height);
        ImGuiIO& io = ImGui::GetIO();
        const ImVec2 centre(top.x + avail.x * 0.5f, top.y + avail.y * 0.5f);
        if (hovered && io.MouseWheel != 0) {
            // Zoom around the cursor: the image point under it stays under it.
            const float old_scale = fit * local.zoom;
            local.zoom = std::clamp(local.zoom * (io.MouseWheel > 0 ? 1.2f : 1 / 1.2f), 0.2f, 40.0f);
            const float ratio = fit * local.zoom / old_scale;
            const ImVec2 from_centre(io.MousePos.x - centre.x - local.pan.x, io.MousePos.y - centre.y - local.pan.y);
            local.pan.x -= from_centre.x * (ratio - 1);
            local.pan.y -= from_centre.y * (ratio - 1);
        }
        if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left, 0.0f)) {
            local.pan.x += io.MouseDelta.x;
            local.pan.y += io.MouseDelta.y;
        }
        if (hovered && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) {
            local.zoom = 1;
            local.pan = ImVec2(0, 0);
        }
        const float scale = fit * local.zoom;
        const ImVec2 size(view.width * scale, view.height * scale);
        const ImVec2 a(centre.x + local.pan.x - size.x * 0.5f, centre.y + local.pan.y - size.y * 0.5f);
        ImDrawList* dl = ImGui::GetWindowDrawList();
        dl->PushClipRect(top, ImVec2(top.x + avail.x, top.y + avail.y), true);
        dl->AddImage(reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(view.texture)), a, ImVec2(a.x + size.x, a.y + size.y));
        dl->PopClipRect();
    }
    ImGui::EndChild();

    if (ImGui::Button("Open image...")) open_file_browser(browser, BrowsePurpose::OpenImage, "", actions);
    if (view.texture) {
        ImGui::SameLine();
        if (ImGui::Button("Fit")) {
            local.zoom = 1;
            local.pan = ImVec2(0, 0);
        }
        ImGui::SameLine();
        char line[256];
        std::snprintf(line, sizeof line, "%s  \xC2\xB7  %d \xC3\x97 %d %s%s%s", view.name.c_str(), view.width, view.height,
                      view.format.c_str(), view.file_bytes > 0 ? "  \xC2\xB7  " : "",
                      view.file_bytes > 0 ? human_bytes(view.file_bytes).c_str() : "");
        ImGui::AlignTextToFramePadding();
        text_dim(line);
    }
}

} // namespace glm4v::ui
