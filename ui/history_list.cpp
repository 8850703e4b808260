// Past conversations: thumbnail, title and date; search, rename, delete with undo, reopen.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <cstdint>

#include "ui/fonts.h"
#include "ui/theme.h"
#include "ui/ui.h"

namespace glm4v::ui {

void draw_history_list(const HistoryView& view, HistoryLocal& local, UiActions& actions) {
    const FontSet& f = fonts();
    if (ImGui::Button("New conversation", ImVec2(-1, 0))) actions.new_conversation = true;
    ImGui::SetNextItemWidth(-1);
    fonts_note_text(local.search);
    if (ImGui::InputTextWithHint("##search", "Search conversations", &local.search)) actions.search_history = local.search;
    if (!view.undo_title.empty()) {
        text_dim("Deleted \"" + view.undo_title + "\"");
        ImGui::SameLine();
        if (ImGui::SmallButton("Undo")) actions.undo_delete = true;
    }
    if (!view.error.empty()) {
        ImGui::PushStyleColor(ImGuiCol_Text, theme_color(ThemeColor::Error));
        ImGui::TextWrapped("%s", view.error.c_str());
        ImGui::PopStyleColor();
    }
    ImGui::Separator();
    ImGui::BeginChild("entries");
    const float thumb = f.size * 2.6f;
    for (const HistoryEntryView& e : view.entries) {
        ImGui::PushID(static_cast<int>(e.id));
        fonts_note_text(e.title);
        const ImVec2 top = ImGui::GetCursorScreenPos();
        const float row_h = thumb + ImGui::GetStyle().ItemSpacing.y;
        if (local.renaming_id == e.id) {
            if (local.focus_rename) {
                ImGui::SetKeyboardFocusHere();
                local.focus_rename = false;
            }
            ImGui::SetNextItemWidth(-1);
            fonts_note_text(local.rename_buffer);
            if (ImGui::InputText("##rename", &local.rename_buffer, ImGuiInputTextFlags_EnterReturnsTrue)) {
                actions.rename_conversation = std::make_pair(e.id, local.rename_buffer);
                local.renaming_id = 0;
            } else if (ImGui::IsItemDeactivated()) {
                local.renaming_id = 0;
            }
            ImGui::PopID();
            continue;
        }
        if (ImGui::Selectable("##row", e.id == view.active_id, 0, ImVec2(0, row_h)) && e.id != view.active_id)
            actions.reopen_conversation = e.id;
        if (ImGui::BeginPopupContextItem("menu")) {
            if (ImGui::MenuItem("Rename")) {
                local.renaming_id = e.id;
                local.rename_buffer = e.title;
                local.focus_rename = true;
            }
            if (ImGui::MenuItem("Delete")) actions.delete_conversation = e.id;
            ImGui::EndPopup();
        }
        if (ImGui::IsItemHovered() && !e.title.empty()) ImGui::SetTooltip("%s", e.title.c_str());
        ImDrawList* dl = ImGui::GetWindowDrawList();
        if (e.thumbnail && e.thumbnail_width > 0 && e.thumbnail_height > 0) {
            const float s = thumb / std::max(e.thumbnail_width, e.thumbnail_height);
            const float w = e.thumbnail_width * s, h = e.thumbnail_height * s;
            const ImVec2 a(top.x + (thumb - w) * 0.5f, top.y + (thumb - h) * 0.5f);
            dl->AddImage(reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(e.thumbnail)), a, ImVec2(a.x + w, a.y + h));
        } else {
            dl->AddRectFilled(top, ImVec2(top.x + thumb, top.y + thumb), theme_color(ThemeColor::CodeBackground), 4);
        }
        const float text_x = top.x + thumb + f.size * 0.5f;
        const float max_w = ImGui::GetWindowContentRegionMax().x + ImGui::GetWindowPos().x - text_x;
        const std::string& title = e.title.empty() ? std::string("(untitled)") : e.title;
        // One line of title, clipped with an ellipsis.
        const char* end = title.c_str() + title.size();
        const char* p = title.c_str();
        float w = 0;
        while (p < end) {
            const char* q = p;
            decode_utf8(q, end);
            float cw = f.regular->CalcTextSizeA(f.size, 1e9f, 0, p, q).x;
            if (w + cw > max_w - f.size) break;
            w += cw;
            p = q;
        }
        std::string shown(title.c_str(), p);
        if (p < end) shown += "\xE2\x80\xA6";
        dl->AddText(f.regular, f.size, ImVec2(text_x, top.y + thumb * 0.08f), ImGui::GetColorU32(ImGuiCol_Text), shown.c_str());
        dl->AddText(f.regular, f.size * 0.85f, ImVec2(text_x, top.y + thumb * 0.55f), theme_color(ThemeColor::TextDim), e.when.c_str());
        ImGui::PopID();
    }
    if (view.entries.empty()) text_dim(local.search.empty() ? "No conversations yet." : "Nothing matches.");
    ImGui::EndChild();
}

} // namespace glm4v::ui
