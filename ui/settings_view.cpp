// Settings: generation options, device, model folder, appearance; the log at the bottom.
#include <imgui.h>
#include <imgui_stdlib.h>

#include "ui/fonts.h"
#include "ui/theme.h"
#include "ui/ui.h"

namespace glm4v::ui {

void draw_settings_view(const SettingsView& view, const FileBrowserView& browser_view, SettingsLocal& local,
                        BrowserLocal& browser, UiActions& actions) {
    if (local.just_opened) {
        local.draft = view.values;
        ImGui::OpenPopup("Settings");
        local.just_opened = false;
    }
    const ImVec2 display = ImGui::GetIO().DisplaySize;
    ImGui::SetNextWindowSize(ImVec2(display.x * 0.6f, display.y * 0.75f), ImGuiCond_Appearing);
    ImGui::SetNextWindowPos(ImVec2(display.x * 0.5f, display.y * 0.5f), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
    if (!ImGui::BeginPopupModal("Settings", &local.open)) return;
    SettingsValues& d = local.draft;
    const float label_w = fonts().size * 12;

    ImGui::TextUnformatted("Model");
    ImGui::Separator();
    if (!browser.chosen_folder.empty()) {
        d.model_folder = browser.chosen_folder;
        browser.chosen_folder.clear();
    }
    ImGui::SetNextItemWidth(-fonts().size * 6);
    fonts_note_text(d.model_folder);
    ImGui::InputText("##folder", &d.model_folder);
    ImGui::SameLine();
    if (ImGui::Button("Browse...")) open_file_browser(browser, BrowsePurpose::ChooseModelFolder, d.model_folder, actions);
    bool gpu = d.use_gpu;
    if (ImGui::RadioButton("GPU (CUDA)", gpu)) d.use_gpu = true;
    ImGui::SameLine();
    if (ImGui::RadioButton("CPU", !gpu)) d.use_gpu = false;
    ImGui::SameLine(0, fonts().size * 2);
    ImGui::Checkbox("Low-VRAM mode", &d.low_vram);
    text_dim("Changing the folder or the device reloads the model.");

    ImGui::Dummy(ImVec2(0, fonts().size * 0.5f));
    ImGui::TextUnformatted("Generation");
    ImGui::Separator();
    ImGui::SetNextItemWidth(label_w);
    ImGui::SliderFloat("Temperature (0: greedy)", &d.temperature, 0.0f, 2.0f, "%.2f");
    ImGui::SetNextItemWidth(label_w);
    ImGui::SliderFloat("Top-p", &d.top_p, 0.05f, 1.0f, "%.2f");
    ImGui::SetNextItemWidth(label_w);
    ImGui::SliderInt("Max new tokens", &d.max_new_tokens, 16, 8192);

    ImGui::Dummy(ImVec2(0, fonts().size * 0.5f));
    ImGui::TextUnformatted("Appearance");
    ImGui::Separator();
    ImGui::SetNextItemWidth(label_w);
    ImGui::SliderFloat("Font size", &d.font_size, 12.0f, 32.0f, "%.0f px");
    bool dark = d.dark_theme;
    if (ImGui::RadioButton("Dark", dark)) d.dark_theme = true;
    ImGui::SameLine();
    if (ImGui::RadioButton("Light", !dark)) d.dark_theme = false;
    text_dim(view.font_status);

    ImGui::Dummy(ImVec2(0, fonts().size * 0.5f));
    if (ImGui::Button("Save", ImVec2(fonts().size * 6, 0))) {
        actions.settings_changed = d;
        local.open = false;
        ImGui::CloseCurrentPopup();
    }
    ImGui::SameLine();
    if (ImGui::Button("Cancel", ImVec2(fonts().size * 6, 0))) {
        local.open = false;
        ImGui::CloseCurrentPopup();
    }
    ImGui::SameLine();
    text_dim("Settings: " + view.config_path);
    text_dim("History: " + view.data_path);

    if (ImGui::CollapsingHeader("Log")) {
        ImGui::BeginChild("log", ImVec2(0, 0), true);
        ImGui::PushFont(fonts().mono);
        for (const std::string& line : view.log_lines) text_unformatted(line);
        ImGui::PopFont();
        if (ImGui::GetScrollY() >= ImGui::GetScrollMaxY()) ImGui::SetScrollHereY(1.0f);
        ImGui::EndChild();
    }
    // A popup opened from this modal must be drawn inside it to stack on top.
    if (browser.open) draw_file_browser(browser_view, browser, actions);
    ImGui::EndPopup();
}

} // namespace glm4v::ui
