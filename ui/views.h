#pragma once
// What the views draw from (read-only, filled by app/gui from worker events) and what they hand back
// (UiActions, turned into worker commands by the frame function). STYLE.md section 5.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace glm4v::ui {

using TextureId = std::uint64_t; // an OpenGL texture name; 0: none

// ---- model ---------------------------------------------------------------------------------------
enum class ModelPhase { NotLoaded, Loading, Ready, Missing, Failed };

struct ModelView {
    ModelPhase phase = ModelPhase::NotLoaded;
    std::string folder;                      // where the model is (being) loaded from
    std::vector<std::string> required_files; // what a model folder holds, for the "put these files here" screen
    std::vector<std::string> missing_files;  // of those, what the folder lacks
    float progress = 0;                      // 0..1 while Loading
    std::string progress_label;
    std::string error; // Missing / Failed: the engine's message
    std::string device;
};

// ---- image -----------------------------------------------------------------------------------------
struct ImageView {
    TextureId texture = 0;
    int width = 0;
    int height = 0;
    std::string format; // "PNG", "JPEG", ...
    std::string name;   // file name, or "clipboard"
    std::int64_t file_bytes = 0;
    bool loading = false;
};

// ---- chat ------------------------------------------------------------------------------------------
enum class Role { User, Assistant };

struct MessageView {
    Role role = Role::User;
    std::string text;
    bool streaming = false;
    bool cancelled = false; // stopped by the user or the window closing; the text is what was generated
    std::string error;      // the generation failed after this text
    bool has_stats = false;
    double time_to_first_token_ms = 0;
    double tokens_per_second = 0;
    std::int64_t generated_tokens = 0;
};

struct ChatView {
    std::int64_t conversation_id = 0; // 0: none yet
    std::vector<MessageView> messages;
    bool generating = false;
    bool preparing = false;     // the image is being encoded or the conversation re-entered
    bool has_image = false;     // false: a conversation about text alone
    std::string blocked_reason; // non-empty: why a question cannot be sent now
    std::int64_t context_used = 0;
    std::int64_t context_limit = 0;
};

// ---- history ---------------------------------------------------------------------------------------
struct HistoryEntryView {
    std::int64_t id = 0;
    std::string title;
    std::string when; // "2026-11-23 18:04"
    TextureId thumbnail = 0;
    int thumbnail_width = 0;
    int thumbnail_height = 0;
};

struct HistoryView {
    std::vector<HistoryEntryView> entries;
    std::int64_t active_id = 0;
    std::string undo_title; // non-empty: the last deletion can be undone
    std::string error;
};

// ---- settings --------------------------------------------------------------------------------------
struct SettingsValues {
    std::string model_folder;
    float temperature = 0.8f;
    float top_p = 0.8f;
    int max_new_tokens = 1024;
    bool use_gpu = true;
    bool low_vram = false;
    float font_size = 18.0f;
    bool dark_theme = true;
};

struct SettingsView {
    SettingsValues values;
    std::string config_path;
    std::string data_path;
    std::string font_status; // which font file renders text, or why the fallback is used
    std::vector<std::string> log_lines;
};

// ---- file browser ----------------------------------------------------------------------------------
enum class BrowsePurpose { OpenImage, ChooseModelFolder };

struct DirectoryEntry {
    std::string name;
    bool is_directory = false;
    std::int64_t bytes = 0;
};

struct FileBrowserView {
    std::string directory; // the listing below is of this folder
    std::vector<DirectoryEntry> entries;
    std::string error;
    bool listing = false;
};

// ---- the whole window ------------------------------------------------------------------------------
struct AppView {
    ModelView model;
    ImageView image;
    ChatView chat;
    HistoryView history;
    SettingsView settings;
    FileBrowserView browser;
    std::vector<std::pair<std::string, bool>> toasts; // text, is_error
};

struct UiActions {
    std::optional<std::string> ask;
    std::optional<std::string> edit_and_resend; // replaces the last question and asks again
    bool regenerate = false;
    bool stop = false;
    std::optional<std::string> copy_text;
    bool paste = false; // Ctrl+V outside a text field: an image or a path on the clipboard
    std::optional<std::string> open_image;
    std::optional<std::string> list_directory;
    std::optional<std::string> load_model; // a folder chosen on the model screen or in settings
    bool new_conversation = false;
    std::optional<std::int64_t> reopen_conversation;
    std::optional<std::int64_t> delete_conversation;
    bool undo_delete = false;
    std::optional<std::pair<std::int64_t, std::string>> rename_conversation;
    std::optional<std::string> search_history;
    std::optional<SettingsValues> settings_changed;
    bool dismiss_toasts = false;
};

} // namespace glm4v::ui
