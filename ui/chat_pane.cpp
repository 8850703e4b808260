// The conversation: streamed replies rendered as Markdown, per-reply timings, copy, stop, regenerate,
// edit-and-resend, and a multi-line input where Enter sends and Shift+Enter breaks the line.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <cstdio>

#include "ui/fonts.h"
#include "ui/theme.h"
#include "ui/ui.h"

namespace glm4v::ui {
namespace {

bool only_whitespace(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// Enter inside the multi-line input: without Shift it sends (the newline is dropped and the text
// taken out in the same frame), with Shift it is a newline. IME composition commits arrive as
// characters and never reach this filter as Enter.
int input_callback(ImGuiInputTextCallbackData* data) {
    auto* local = static_cast<ChatLocal*>(data->UserData);
    if (data->EventFlag == ImGuiInputTextFlags_CallbackCharFilter) {
        if (data->EventChar == '\n' && !ImGui::GetIO().KeyShift) {
            local->submit_pending = true;
            return 1;
        }
        return 0;
    }
    return 0;
}

const MarkdownDocument& markdown_for(ChatLocal& local, std::size_t index, const std::string& text) {
    if (local.markdown.size() <= index) local.markdown.resize(index + 1);
    ChatLocal::Cached& cached = local.markdown[index];
    if (cached.source != text || (cached.doc.blocks.empty() && !text.empty())) {
        cached.source = text;
        cached.doc = parse_markdown(text);
    }
    return cached.doc;
}

void draw_stats(const MessageView& m) {
    char line[160];
    if (m.has_stats) {
        std::snprintf(line, sizeof line, "first token %.0f ms  \xC2\xB7  %.1f tokens/s  \xC2\xB7  %lld tokens",
                      m.time_to_first_token_ms, m.tokens_per_second, static_cast<long long>(m.generated_tokens));
        text_dim(line);
    }
}

void draw_message(const ChatView& view, std::size_t i, ChatLocal& local, UiActions& actions, float width) {
    const MessageView& m = view.messages[i];
    const FontSet& f = fonts();
    const bool last = i + 1 == view.messages.size();
    const bool last_user = m.role == Role::User && (last || (i + 2 == view.messages.size()));
    ImGui::PushID(static_cast<int>(i));
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float pad = f.size * 0.6f;
    const ImVec2 top = ImGui::GetCursorScreenPos();
    dl->ChannelsSplit(2);
    dl->ChannelsSetCurrent(1);
    ImGui::SetCursorScreenPos(ImVec2(top.x + pad, top.y + pad));
    ImGui::BeginGroup();
    const float inner = width - 2 * pad;
    if (m.role == Role::User) {
        ImGui::PushFont(f.bold);
        text_dim("You");
        ImGui::PopFont();
        if (last_user && local.editing_last) {
            ImGui::InputTextMultiline("##edit", &local.edit_buffer, ImVec2(inner, f.size * 4));
            if (ImGui::Button("Resend") && !only_whitespace(local.edit_buffer)) {
                actions.edit_and_resend = local.edit_buffer;
                local.editing_last = false;
            }
            ImGui::SameLine();
            if (ImGui::Button("Cancel")) local.editing_last = false;
        } else {
            draw_wrapped_text(m.text, f.regular, ImGui::GetColorU32(ImGuiCol_Text), inner);
        }
    } else {
        ImGui::PushFont(f.bold);
        text_dim("GLM-4V");
        ImGui::PopFont();
        std::optional<std::string> copy;
        draw_markdown(markdown_for(local, i, m.text), inner, &copy);
        if (copy) actions.copy_text = *copy;
        if (m.streaming) {
            text_dim(m.text.empty() ? "thinking..." : "\xE2\x96\x8D"); // U+258D cursor block
        }
        if (m.cancelled) text_dim("(stopped)");
        if (!m.error.empty()) {
            ImGui::PushStyleColor(ImGuiCol_Text, theme_color(ThemeColor::Error));
            draw_wrapped_text(m.error, f.regular, theme_color(ThemeColor::Error), inner);
            ImGui::PopStyleColor();
        }
    }
    ImGui::EndGroup();
    ImVec2 bottom(top.x + width, ImGui::GetItemRectMax().y + pad);
    dl->ChannelsSetCurrent(0);
    dl->AddRectFilled(top, bottom,
                      theme_color(m.role == Role::User ? ThemeColor::UserBubble : ThemeColor::AssistantBubble),
                      f.size * 0.5f);
    dl->ChannelsMerge();
    ImGui::SetCursorScreenPos(ImVec2(top.x, bottom.y + 2));
    // The line under the bubble: timings and what can be done with the message.
    if (m.role == Role::Assistant && !m.streaming) {
        draw_stats(m);
        if (m.has_stats) ImGui::SameLine();
        if (ImGui::SmallButton("Copy")) actions.copy_text = m.text;
        if (last && !view.generating) {
            ImGui::SameLine();
            if (ImGui::SmallButton("Regenerate")) actions.regenerate = true;
        }
    } else if (m.role == Role::User) {
        if (ImGui::SmallButton("Copy")) actions.copy_text = m.text;
        if (last_user && !view.generating && !local.editing_last) {
            ImGui::SameLine();
            if (ImGui::SmallButton("Edit")) {
                local.editing_last = true;
                local.edit_buffer = m.text;
            }
        }
    }
    ImGui::Dummy(ImVec2(0, f.size * 0.4f));
    ImGui::PopID();
}

} // namespace

void draw_chat_pane(const ChatView& view, const ModelView& model, ChatLocal& local, UiActions& actions) {
    const FontSet& f = fonts();
    const ImGuiStyle& style = ImGui::GetStyle();
    const float input_height = f.size * 4.2f + style.FramePadding.y * 2;
    const float footer = input_height + ImGui::GetFrameHeightWithSpacing() + style.ItemSpacing.y * 2;

    ImGui::BeginChild("messages", ImVec2(0, -footer), false);
    const float width = ImGui::GetContentRegionAvail().x;
    if (view.messages.empty()) {
        if (model.phase == ModelPhase::Loading) draw_load_progress(model);
        text_dim(view.preparing    ? "Preparing the conversation..."
                 : view.has_image ? "Ask a question about the image."
                                  : "Ask a question, or open an image to talk about it.");
    }
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < view.messages.size(); ++i) {
        draw_message(view, i, local, actions, width);
        bytes += view.messages[i].text.size();
    }
    if (view.messages.size() < local.markdown.size()) local.markdown.resize(view.messages.size());
    // Follow the stream while the user stays at the bottom; scrolling up stops following.
    if (bytes != local.seen_bytes) {
        if (local.follow_bottom) ImGui::SetScrollHereY(1.0f);
        local.seen_bytes = bytes;
    }
    local.follow_bottom = ImGui::GetScrollY() >= ImGui::GetScrollMaxY() - f.size;
    ImGui::EndChild();

    if (view.context_limit > 0) {
        char line[96];
        std::snprintf(line, sizeof line, "context %lld / %lld tokens", static_cast<long long>(view.context_used),
                      static_cast<long long>(view.context_limit));
        text_dim(line);
        if (view.context_used > view.context_limit * 9 / 10) {
            ImGui::SameLine();
            ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(theme_color(ThemeColor::Error)),
                               "almost full: start a new conversation soon");
        }
    } else {
        ImGui::Dummy(ImVec2(0, ImGui::GetTextLineHeight()));
    }

    const bool blocked = !view.blocked_reason.empty();
    const float button_w = f.size * 5;
    fonts_note_text(local.input);
    if (local.focus_input) {
        ImGui::SetKeyboardFocusHere();
        local.focus_input = false;
    }
    ImGui::InputTextMultiline("##question", &local.input,
                              ImVec2(ImGui::GetContentRegionAvail().x - button_w - style.ItemSpacing.x, input_height),
                              ImGuiInputTextFlags_CallbackCharFilter, input_callback, &local);
    const bool input_active = ImGui::IsItemActive();
    ImGui::SameLine();
    ImGui::BeginGroup();
    bool send = local.submit_pending;
    if (view.generating) {
        if (ImGui::Button("Stop", ImVec2(button_w, 0))) actions.stop = true;
    } else {
        ImGui::BeginDisabled(blocked || only_whitespace(local.input));
        if (ImGui::Button("Send", ImVec2(button_w, 0))) send = true;
        ImGui::EndDisabled();
    }
    ImGui::EndGroup();
    if (blocked) text_dim(view.blocked_reason);
    else text_dim("Enter sends, Shift+Enter breaks the line");

    local.submit_pending = false;
    if (send && !blocked && !view.generating && !only_whitespace(local.input)) {
        actions.ask = local.input;
        local.input.clear();
        if (input_active) {
            // The widget keeps its own copy while active: drop focus so it re-reads the empty string.
            ImGui::SetWindowFocus(nullptr);
            local.focus_input = true;
        }
    }
}

} // namespace glm4v::ui
