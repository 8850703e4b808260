// The window's layout: a top bar, the history sidebar, the image panel and the chat pane (or the model
// screen while there is no model), and the popups and toasts over them.
#include <GLFW/glfw3.h>
#include <imgui.h>

#include <algorithm>

#include "ui/fonts.h"
#include "ui/theme.h"
#include "ui/ui.h"

namespace glm4v::ui {

void text_unformatted(const std::string& text) {
    fonts_note_text(text);
    ImGui::TextUnformatted(text.c_str(), text.c_str() + text.size());
}

void text_dim(const std::string& text) {
    fonts_note_text(text);
    ImGui::PushStyleColor(ImGuiCol_Text, theme_color(ThemeColor::TextDim));
    ImGui::TextUnformatted(text.c_str(), text.c_str() + text.size());
    ImGui::PopStyleColor();
}

namespace {

void draw_top_bar(const AppView& view, UiLocal& local, UiActions& actions) {
    const FontSet& f = fonts();
    ImGui::PushFont(f.heading);
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted("GLM-4V");
    ImGui::PopFont();
    ImGui::SameLine(0, f.size);
    ImGui::AlignTextToFramePadding();
    const ModelView& m = view.model;
    switch (m.phase) {
    case ModelPhase::Loading:
        ImGui::SetNextItemWidth(f.size * 14);
        ImGui::ProgressBar(m.progress, ImVec2(f.size * 14, 0), m.progress_label.empty() ? "loading" : m.progress_label.c_str());
        ImGui::SameLine();
        text_dim("loading the model...");
        break;
    case ModelPhase::Ready: text_dim("model ready  \xC2\xB7  " + m.device + "  \xC2\xB7  " + m.folder); break;
    case ModelPhase::Missing:
        ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(theme_color(ThemeColor::Error)), "no model");
        break;
    case ModelPhase::Failed:
        ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(theme_color(ThemeColor::Error)), "model failed to load");
        break;
    case ModelPhase::NotLoaded: text_dim("starting..."); break;
    }
    const float button_w = f.size * 6;
    ImGui::SameLine(std::max(ImGui::GetWindowContentRegionMax().x - button_w, ImGui::GetCursorPosX()));
    if (ImGui::Button("Settings", ImVec2(button_w, 0))) {
        local.settings.open = true;
        local.settings.just_opened = true;
    }
    (void)actions;
}

void draw_toasts(const AppView& view, UiActions& actions) {
    if (view.toasts.empty()) return;
    const ImGuiViewport* vp = ImGui::GetMainViewport();
    const float pad = fonts().size;
    ImGui::SetNextWindowPos(ImVec2(vp->WorkPos.x + vp->WorkSize.x - pad, vp->WorkPos.y + vp->WorkSize.y - pad * 5), ImGuiCond_Always,
                            ImVec2(1, 1));
    ImGui::SetNextWindowSizeConstraints(ImVec2(0, 0), ImVec2(vp->WorkSize.x * 0.4f, vp->WorkSize.y * 0.5f));
    ImGui::Begin("##toasts", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoSavedSettings |
                     ImGuiWindowFlags_NoFocusOnAppearing | ImGuiWindowFlags_NoNav);
    for (const auto& [text, error] : view.toasts) {
        fonts_note_text(text);
        ImGui::PushStyleColor(ImGuiCol_Text, error ? theme_color(ThemeColor::Error) : ImGui::GetColorU32(ImGuiCol_Text));
        ImGui::PushTextWrapPos(vp->WorkSize.x * 0.38f);
        ImGui::TextUnformatted(text.c_str());
        ImGui::PopTextWrapPos();
        ImGui::PopStyleColor();
    }
    if (ImGui::SmallButton("Dismiss")) actions.dismiss_toasts = true;
    ImGui::End();
}

} // namespace

void draw_root(const AppView& view, UiLocal& local, UiActions& actions) {
    const ImGuiViewport* vp = ImGui::GetMainViewport();
    ImGui::SetNextWindowPos(vp->WorkPos);
    ImGui::SetNextWindowSize(vp->WorkSize);
    ImGui::Begin("glm4v-desktop", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                     ImGuiWindowFlags_NoBringToFrontOnFocus | ImGuiWindowFlags_NoBackground);
    // No background: the frame is cleared to WindowBg already, and with software GL (llvmpipe) every
    // full-window fill is a measurable part of the frame.
    draw_top_bar(view, local, actions);
    ImGui::Separator();

    const float size = fonts().size;
    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const float sidebar_w = std::clamp(avail.x * 0.2f, size * 12, size * 22);
    ImGui::BeginChild("sidebar", ImVec2(sidebar_w, 0), true);
    draw_history_list(view.history, local.history, actions);
    ImGui::EndChild();
    ImGui::SameLine();

    const bool no_model = view.model.phase == ModelPhase::Missing || view.model.phase == ModelPhase::Failed;
    if (no_model && view.chat.messages.empty()) {
        ImGui::BeginChild("model", ImVec2(0, 0), true);
        draw_model_screen(view.model, local.model, local.browser, actions);
        ImGui::EndChild();
    } else {
        const float rest = ImGui::GetContentRegionAvail().x;
        ImGui::BeginChild("image pane", ImVec2(rest * 0.42f, 0), true);
        draw_image_panel(view.image, local.image, local.browser, actions);
        ImGui::EndChild();
        ImGui::SameLine();
        ImGui::BeginChild("chat pane", ImVec2(0, 0), true);
        draw_chat_pane(view.chat, view.model, local.chat, actions);
        ImGui::EndChild();
    }

    if (local.settings.open) {
        draw_settings_view(view.settings, view.browser, local.settings, local.browser, actions);
    } else if (local.browser.open) {
        draw_file_browser(view.browser, local.browser, actions);
    }

    ImGuiIO& io = ImGui::GetIO();
    if (!io.WantTextInput && io.KeyCtrl && ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_V), false)) actions.paste = true;
    if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_O, false) && !local.browser.open)
        open_file_browser(local.browser, BrowsePurpose::OpenImage, "", actions);
    ImGui::End();
    draw_toasts(view, actions);
}

} // namespace glm4v::ui
