// The model's state when it cannot chat yet: loading progress, or "put these files here".
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>

#include "ui/fonts.h"
#include "ui/theme.h"
#include "ui/ui.h"

namespace glm4v::ui {

void draw_load_progress(const ModelView& view) {
    ImGui::ProgressBar(view.progress, ImVec2(-1, 0), view.progress_label.empty() ? nullptr : view.progress_label.c_str());
    text_dim("Loading the model from " + view.folder);
}

void draw_model_screen(const ModelView& view, ModelLocal& local, BrowserLocal& browser, UiActions& actions) {
    const FontSet& f = fonts();
    if (!local.initialized) {
        local.folder_input = view.folder;
        local.initialized = true;
    }
    if (!browser.chosen_folder.empty()) {
        local.folder_input = browser.chosen_folder;
        browser.chosen_folder.clear();
    }
    const float width = std::min(ImGui::GetContentRegionAvail().x, f.size * 45);
    ImGui::SetCursorPosX(ImGui::GetCursorPosX() + (ImGui::GetContentRegionAvail().x - width) * 0.5f);
    ImGui::BeginGroup();
    ImGui::Dummy(ImVec2(width, f.size));
    const bool missing = view.phase == ModelPhase::Missing;
    draw_wrapped_text(missing ? "No model found" : "The model could not be loaded", f.heading, ImGui::GetColorU32(ImGuiCol_Text), width);
    ImGui::Dummy(ImVec2(0, f.size * 0.5f));
    if (!view.error.empty()) draw_wrapped_text(view.error, f.regular, theme_color(ThemeColor::Error), width);
    ImGui::Dummy(ImVec2(0, f.size * 0.5f));
    draw_wrapped_text("Put the GLM-4V-9B files (Hugging Face THUDM/glm-4v-9b, copied from another machine: this app "
                      "never uses the network) in this folder:",
                      f.regular, ImGui::GetColorU32(ImGuiCol_Text), width);
    std::string folder = view.folder;
    ImGui::SetNextItemWidth(width);
    ImGui::PushFont(f.mono);
    ImGui::InputText("##where", &folder, ImGuiInputTextFlags_ReadOnly);
    ImGui::PopFont();
    ImGui::Dummy(ImVec2(0, f.size * 0.3f));
    for (const std::string& file : view.required_files) {
        const bool absent = std::find(view.missing_files.begin(), view.missing_files.end(), file) != view.missing_files.end();
        ImGui::PushFont(f.mono);
        ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(absent ? theme_color(ThemeColor::Error) : theme_color(ThemeColor::Link)),
                           "%s %s", absent ? "missing " : "found   ", file.c_str());
        ImGui::PopFont();
    }
    ImGui::Dummy(ImVec2(0, f.size));
    draw_wrapped_text("Or load it from another folder:", f.regular, ImGui::GetColorU32(ImGuiCol_Text), width);
    ImGui::SetNextItemWidth(width - f.size * 11);
    fonts_note_text(local.folder_input);
    bool go = ImGui::InputText("##folder", &local.folder_input, ImGuiInputTextFlags_EnterReturnsTrue);
    ImGui::SameLine();
    if (ImGui::Button("Browse...")) open_file_browser(browser, BrowsePurpose::ChooseModelFolder, local.folder_input, actions);
    ImGui::SameLine();
    go |= ImGui::Button(missing ? "Load" : "Retry");
    if (go && !local.folder_input.empty()) actions.load_model = local.folder_input;
    ImGui::EndGroup();
}

} // namespace glm4v::ui
