// A small file browser of our own (ImGui has none): a path field, the folder's entries (listed by the
// worker, never on the UI thread), images only when opening an image.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cctype>

#include "ui/fonts.h"
#include "ui/theme.h"
#include "ui/ui.h"

namespace glm4v::ui {
namespace {

bool is_image_name(const std::string& name) {
    auto dot = name.rfind('.');
    if (dot == std::string::npos) return false;
    std::string ext = name.substr(dot + 1);
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* known : {"png", "jpg", "jpeg", "bmp", "webp", "tif", "tiff", "gif", "pgm", "ppm"})
        if (ext == known) return true;
    return false;
}

std::string join(const std::string& dir, const std::string& name) {
    if (dir.empty() || dir.back() == '/') return dir + name;
    return dir + "/" + name;
}

std::string parent_of(const std::string& dir) {
    if (dir.size() <= 1) return "/";
    std::string d = dir.back() == '/' ? dir.substr(0, dir.size() - 1) : dir;
    auto slash = d.rfind('/');
    return slash == 0 || slash == std::string::npos ? "/" : d.substr(0, slash);
}

} // namespace

void open_file_browser(BrowserLocal& local, BrowsePurpose purpose, const std::string& start_directory, UiActions& actions) {
    local.open = true;
    local.just_opened = true;
    local.purpose = purpose;
    local.selected.clear();
    local.path_input = start_directory.empty() ? local.home : start_directory;
    actions.list_directory = local.path_input;
}

void draw_file_browser(const FileBrowserView& view, BrowserLocal& local, UiActions& actions) {
    const char* title = local.purpose == BrowsePurpose::OpenImage ? "Open image" : "Choose the model folder";
    if (local.just_opened) {
        ImGui::OpenPopup(title);
        local.just_opened = false;
    }
    const ImVec2 display = ImGui::GetIO().DisplaySize;
    ImGui::SetNextWindowSize(ImVec2(display.x * 0.55f, display.y * 0.7f), ImGuiCond_Appearing);
    ImGui::SetNextWindowPos(ImVec2(display.x * 0.5f, display.y * 0.5f), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
    if (!ImGui::BeginPopupModal(title, &local.open)) return;
    const FontSet& f = fonts();
    if (ImGui::Button("Up")) {
        local.path_input = parent_of(view.directory.empty() ? local.path_input : view.directory);
        actions.list_directory = local.path_input;
    }
    ImGui::SameLine();
    ImGui::SetNextItemWidth(-1);
    fonts_note_text(local.path_input);
    if (ImGui::InputText("##path", &local.path_input, ImGuiInputTextFlags_EnterReturnsTrue)) {
        if (local.purpose == BrowsePurpose::OpenImage && is_image_name(local.path_input)) {
            actions.open_image = local.path_input;
            local.open = false;
            ImGui::CloseCurrentPopup();
        } else {
            actions.list_directory = local.path_input;
        }
    }
    const float footer = ImGui::GetFrameHeightWithSpacing() * 1.3f;
    ImGui::BeginChild("entries", ImVec2(0, -footer), true);
    if (view.listing) text_dim("Listing...");
    if (!view.error.empty()) {
        ImGui::PushStyleColor(ImGuiCol_Text, theme_color(ThemeColor::Error));
        ImGui::TextWrapped("%s", view.error.c_str());
        ImGui::PopStyleColor();
    }
    for (const DirectoryEntry& e : view.entries) {
        const bool image = !e.is_directory && is_image_name(e.name);
        if (!e.is_directory && local.purpose == BrowsePurpose::ChooseModelFolder) {
            text_dim("   " + e.name); // a model folder's files, to see what is there
            continue;
        }
        if (!e.is_directory && !image) continue;
        fonts_note_text(e.name);
        std::string label = (e.is_directory ? "[dir]  " : "       ") + e.name;
        const std::string path = join(view.directory, e.name);
        if (ImGui::Selectable(label.c_str(), local.selected == path, ImGuiSelectableFlags_AllowDoubleClick)) {
            if (e.is_directory) {
                local.path_input = path;
                actions.list_directory = path;
                local.selected.clear();
            } else {
                local.selected = path;
                if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) {
                    actions.open_image = path;
                    local.open = false;
                    ImGui::CloseCurrentPopup();
                }
            }
        }
    }
    ImGui::EndChild();
    if (local.purpose == BrowsePurpose::OpenImage) {
        ImGui::BeginDisabled(local.selected.empty());
        if (ImGui::Button("Open", ImVec2(f.size * 6, 0))) {
            actions.open_image = local.selected;
            local.open = false;
            ImGui::CloseCurrentPopup();
        }
        ImGui::EndDisabled();
    } else if (ImGui::Button("Use this folder", ImVec2(f.size * 9, 0))) {
        local.chosen_folder = view.directory;
        local.open = false;
        ImGui::CloseCurrentPopup();
    }
    ImGui::SameLine();
    if (ImGui::Button("Cancel", ImVec2(f.size * 6, 0))) {
        local.open = false;
        ImGui::CloseCurrentPopup();
    }
    ImGui::EndPopup();
}

} // namespace glm4v::ui
