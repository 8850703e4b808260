#pragma once
// The window's views. Each draws from the read-only AppView, keeps only widget state (what is being
// typed, zoom, which popup is open) in UiLocal, and reports what the user did in UiActions.

#include <imgui.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ui/markdown.h"
#include "ui/views.h"

namespace glm4v::ui {

struct ChatLocal {
    std::string input;
    bool submit_pending = false;
    bool focus_input = true;
    bool editing_last = false;
    std::string edit_buffer;
    struct Cached {
        std::string source;
        MarkdownDocument doc;
    };
    std::vector<Cached> markdown; // per message index
    bool follow_bottom = true;
    std::size_t seen_bytes = 0;
};

struct ImageLocal {
    float zoom = 1.0f;    // times the fit-to-panel scale
    ImVec2 pan{0, 0};     // in panel pixels, from the centred position
    TextureId shown = 0;  // resets zoom and pan when the image changes
};

struct HistoryLocal {
    std::string search;
    std::int64_t renaming_id = 0;
    std::string rename_buffer;
    bool focus_rename = false;
};

struct SettingsLocal {
    bool open = false;
    bool just_opened = false;
    SettingsValues draft;
};

struct BrowserLocal {
    bool open = false;
    bool just_opened = false;
    BrowsePurpose purpose = BrowsePurpose::OpenImage;
    std::string path_input;
    std::string selected;
    std::string chosen_folder; // ChooseModelFolder's answer, taken by whoever opened the browser
    std::string home;          // where browsing starts when no folder is given
};

struct ModelLocal {
    std::string folder_input;
    bool initialized = false;
};

struct UiLocal {
    ChatLocal chat;
    ImageLocal image;
    HistoryLocal history;
    SettingsLocal settings;
    BrowserLocal browser;
    ModelLocal model;
};

// The whole window: history sidebar, image panel, chat pane, popups.
void draw_root(const AppView& view, UiLocal& local, UiActions& actions);

void draw_chat_pane(const ChatView& view, const ModelView& model, ChatLocal& local, UiActions& actions);
void draw_image_panel(const ImageView& view, ImageLocal& local, BrowserLocal& browser, UiActions& actions);
void draw_history_list(const HistoryView& view, HistoryLocal& local, UiActions& actions);
void draw_settings_view(const SettingsView& view, const FileBrowserView& browser_view, SettingsLocal& local,
                        BrowserLocal& browser, UiActions& actions);
void draw_model_screen(const ModelView& view, ModelLocal& local, BrowserLocal& browser, UiActions& actions);
void draw_load_progress(const ModelView& view);
void draw_file_browser(const FileBrowserView& view, BrowserLocal& local, UiActions& actions);

// Opens the file browser for a purpose, listing start_directory.
void open_file_browser(BrowserLocal& local, BrowsePurpose purpose, const std::string& start_directory, UiActions& actions);

// Plain text helpers that also note characters for the font atlas.
void text_unformatted(const std::string& text);
void text_dim(const std::string& text);

} // namespace glm4v::ui
