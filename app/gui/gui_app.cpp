#include "app/gui/gui_app.h"

#include <algorithm>
#include <ctime>

#include "app/gui/textures.h"
#include "app/paths.h"
#include "engine/log.h"
#include "ui/fonts.h"
#include "ui/theme.h"

namespace glm4v::app::gui {
namespace {

constexpr std::size_t kLogLines = 500;
constexpr auto kToastLife = std::chrono::seconds(8);

const std::vector<std::string> kModelFiles = {"config.json", "tokenizer.model", "tokenizer_config.json",
                                              "model.safetensors.index.json (or model.safetensors)",
                                              "model-0000N-of-0000M.safetensors (every shard the index lists)"};

std::string format_time(std::int64_t ms) {
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    localtime_r(&t, &tm);
    char out[32];
    std::strftime(out, sizeof out, "%Y-%m-%d %H:%M", &tm);
    return out;
}

ui::SettingsValues to_view(const Settings& s) {
    ui::SettingsValues v;
    v.model_folder = s.model_folder;
    v.temperature = static_cast<float>(s.temperature);
    v.top_p = static_cast<float>(s.top_p);
    v.max_new_tokens = s.max_new_tokens;
    v.use_gpu = s.use_gpu;
    v.low_vram = s.low_vram;
    v.font_size = s.font_size;
    v.dark_theme = s.dark_theme;
    return v;
}

Settings from_view(const ui::SettingsValues& v) {
    Settings s;
    s.model_folder = v.model_folder;
    s.temperature = v.temperature;
    s.top_p = v.top_p;
    s.max_new_tokens = v.max_new_tokens;
    s.use_gpu = v.use_gpu;
    s.low_vram = v.low_vram;
    s.font_size = v.font_size;
    s.dark_theme = v.dark_theme;
    return s;
}

std::string trim(std::string s) {
    const char* space = " \t\r\n";
    s.erase(0, s.find_first_not_of(space));
    s.erase(s.find_last_not_of(space) + 1);
    return s;
}

// A pasted or dropped "file:///home/me/a%20b.png" (file managers copy URIs) as a path.
std::string path_from_uri(std::string text) {
    text = trim(text.substr(0, text.find('\n')));
    if (text.rfind("file://", 0) != 0) return text;
    std::string path;
    for (std::size_t i = 7; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            path += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            path += text[i];
        }
    }
    return path;
}

} // namespace

GuiApp::GuiApp(GLFWwindow* window, WorkerApi& worker, Settings settings, std::string model_folder, float content_scale)
    : window_(window), worker_(worker), settings_(std::move(settings)), content_scale_(content_scale) {
    view_.model.folder = model_folder;
    view_.model.required_files = kModelFiles;
    view_.settings.config_path = settings_file().string();
    view_.settings.data_path = data_dir().string();
    try {
        local_.browser.home = home_dir().string();
    } catch (const engine::Error&) {
        local_.browser.home = "/";
    }
    apply_settings(settings_, true);
    load_model(model_folder);
    request_history();
}

GuiApp::~GuiApp() {
    texture_delete(view_.image.texture);
    for (auto& [id, texture] : thumbnails_) texture_delete(texture);
}

void GuiApp::add_log_line(const std::string& line) {
    std::lock_guard<std::mutex> lock(shared_mutex_);
    log_lines_.push_back(line);
    if (log_lines_.size() > kLogLines) log_lines_.pop_front();
    log_changed_ = true;
}

void GuiApp::on_drop(int count, const char** paths) {
    for (int i = 0; i < count; ++i) dropped_.emplace_back(paths[i]);
}

void GuiApp::toast(const std::string& text, bool error) {
    view_.toasts.emplace_back(text, error);
    toast_times_.push_back(std::chrono::steady_clock::now());
    if (view_.toasts.size() > 4) {
        view_.toasts.erase(view_.toasts.begin());
        toast_times_.erase(toast_times_.begin());
    }
}

void GuiApp::request_history() {
    Command c{CommandKind::ListHistory};
    c.text = local_.history.search;
    worker_.submit(std::move(c));
}

void GuiApp::load_model(const std::string& folder) {
    view_.model.phase = ui::ModelPhase::Loading;
    view_.model.folder = folder;
    view_.model.progress = 0;
    view_.model.progress_label.clear();
    view_.model.error.clear();
    view_.model.missing_files.clear();
    Command c{CommandKind::LoadModel};
    c.text = folder;
    c.device = settings_.use_gpu ? "auto" : "cpu";
    c.low_vram = settings_.low_vram;
    worker_.submit(std::move(c));
}

engine::runtime::GenerationOptions GuiApp::generation() const {
    engine::runtime::GenerationOptions g;
    g.max_new_tokens = settings_.max_new_tokens;
    g.temperature = settings_.temperature;
    g.top_p = settings_.top_p;
    g.seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return g;
}

void GuiApp::apply_settings(const Settings& s, bool initial) {
    const bool reload = !initial && (s.model_folder != settings_.model_folder || s.use_gpu != settings_.use_gpu ||
                                     s.low_vram != settings_.low_vram);
    settings_ = s;
    view_.settings.values = to_view(s);
    ui::apply_theme(s.dark_theme, content_scale_);
    ui::fonts_request_size(s.font_size * content_scale_);
    if (reload) load_model(s.model_folder.empty() ? model_dir().string() : s.model_folder);
}

void GuiApp::set_content_scale(float scale) {
    if (scale == content_scale_) return;
    content_scale_ = scale;
    ui::apply_theme(settings_.dark_theme, content_scale_);
    ui::fonts_request_size(settings_.font_size * content_scale_);
}

void GuiApp::leave_conversation() {
    starting_text_conversation_ = false;
    worker_.cancel(view_.chat.conversation_id);
    view_.chat = ui::ChatView{};
    local_.chat.editing_last = false;
    local_.chat.markdown.clear();
}

void GuiApp::set_image(const engine::RgbImage& image, const ImageInfo& info) {
    texture_delete(view_.image.texture);
    view_.image = ui::ImageView{};
    view_.image.texture = texture_from_rgb(image);
    view_.image.width = info.width > 0 ? info.width : image.width;
    view_.image.height = info.height > 0 ? info.height : image.height;
    view_.image.format = info.format;
    std::transform(view_.image.format.begin(), view_.image.format.end(), view_.image.format.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    view_.image.name = info.name;
    view_.image.file_bytes = info.file_bytes;
}

void GuiApp::open_image(const std::string& path) {
    leave_conversation();
    view_.image.loading = true;
    Command c{CommandKind::OpenImageFile};
    c.text = path;
    worker_.submit(std::move(c));
}

void GuiApp::ask(const std::string& question) {
    if (view_.chat.conversation_id == 0) {
        // A conversation without an image. The worker may still hold one the UI has left (an image that
        // failed to open after it, a reopen that failed): start afresh. The worker stores the
        // conversation at this question and tells its id in ConversationStarted.
        starting_text_conversation_ = true;
        worker_.submit(Command{CommandKind::NewConversation});
    }
    ui::MessageView user;
    user.role = ui::Role::User;
    user.text = question;
    view_.chat.messages.push_back(user);
    ui::MessageView reply;
    reply.role = ui::Role::Assistant;
    reply.streaming = true;
    view_.chat.messages.push_back(reply);
    view_.chat.generating = true;
    Command c{CommandKind::Ask};
    c.conversation_id = view_.chat.conversation_id;
    c.text = question;
    c.generation = generation();
    worker_.submit(std::move(c));
}

void GuiApp::reopen(std::int64_t conversation_id) {
    leave_conversation();
    reopening_id_ = conversation_id;
    view_.history.active_id = conversation_id;
    view_.image.loading = true;
    Command c{CommandKind::Reopen};
    c.conversation_id = conversation_id;
    worker_.submit(std::move(c));
}

void GuiApp::save_png(const std::string& path, int width, int height, std::vector<std::uint8_t> rgba) {
    Command c{CommandKind::SavePng};
    c.text = path;
    c.width = width;
    c.height = height;
    c.bytes = std::move(rgba);
    worker_.submit(std::move(c));
}

void GuiApp::paste() {
    clipboard_read_async([this](ClipboardContent content) {
        {
            std::lock_guard<std::mutex> lock(shared_mutex_);
            pastes_.push_back(std::move(content));
        }
        glfwPostEmptyEvent();
    });
}

void GuiApp::begin_frame() {
    events_.clear();
    worker_.drain_events(events_);
    for (Event& e : events_) apply(e);

    std::vector<ClipboardContent> pastes;
    {
        std::lock_guard<std::mutex> lock(shared_mutex_);
        pastes.swap(pastes_);
        if (log_changed_) {
            view_.settings.log_lines.assign(log_lines_.begin(), log_lines_.end());
            log_changed_ = false;
        }
    }
    for (ClipboardContent& p : pastes) {
        if (!p.png.empty()) {
            leave_conversation();
            view_.image.loading = true;
            Command c{CommandKind::OpenImageBytes};
            c.bytes = std::move(p.png);
            worker_.submit(std::move(c));
        } else if (!trim(p.text).empty()) {
            open_image(path_from_uri(p.text));
        } else {
            toast(p.error.empty() ? "The clipboard holds no image." : p.error, true);
        }
    }
    if (!dropped_.empty()) {
        open_image(path_from_uri(dropped_.front())); // one image per conversation: the first one
        if (dropped_.size() > 1) toast("One image per conversation: opened the first of the dropped files.", false);
        dropped_.clear();
    }
    const auto now = std::chrono::steady_clock::now();
    while (!toast_times_.empty() && now - toast_times_.front() > kToastLife) {
        toast_times_.erase(toast_times_.begin());
        view_.toasts.erase(view_.toasts.begin());
    }

    ui::ChatView& chat = view_.chat;
    if (view_.model.phase == ui::ModelPhase::Loading || view_.model.phase == ui::ModelPhase::NotLoaded) {
        chat.blocked_reason = "Loading the model...";
    } else if (view_.model.phase != ui::ModelPhase::Ready) {
        chat.blocked_reason = "No model is loaded (see the model screen or Settings).";
    } else if (view_.image.loading) {
        chat.blocked_reason = "Opening the image...";
    } else {
        chat.blocked_reason.clear();
    }
    chat.has_image = view_.image.texture != 0;
    view_.settings.font_status = ui::fonts_status();
}

void GuiApp::apply(Event& e) {
    ui::ChatView& chat = view_.chat;
    const bool current = e.conversation_id != 0 && e.conversation_id == chat.conversation_id;
    switch (e.kind) {
    case EventKind::LoadProgress:
        view_.model.phase = ui::ModelPhase::Loading;
        view_.model.progress = static_cast<float>(e.progress);
        view_.model.progress_label = e.text;
        if (!e.folder.empty()) view_.model.folder = e.folder;
        break;
    case EventKind::ModelReady:
        view_.model.phase = ui::ModelPhase::Ready;
        view_.model.device = e.text;
        view_.model.folder = e.folder;
        view_.model.progress = 1;
        engine::log_info("gui: model ready on ", e.text);
        break;
    case EventKind::ModelMissing: {
        view_.model.phase = ui::ModelPhase::Missing;
        view_.model.folder = e.folder;
        view_.model.error = e.text;
        view_.model.missing_files = e.missing_files;
        std::vector<std::string> required(kModelFiles.begin(), kModelFiles.begin() + 3);
        bool weights_missing = false;
        for (const std::string& m : e.missing_files)
            if (std::find(required.begin(), required.end(), m) == required.end()) weights_missing = true;
        if (weights_missing || e.missing_files.empty()) {
            for (const std::string& m : e.missing_files)
                if (std::find(required.begin(), required.end(), m) == required.end()) required.push_back(m);
        } else {
            required.push_back("model.safetensors.index.json and its shards (found)");
        }
        view_.model.required_files = required;
        break;
    }
    case EventKind::ImageOpened:
        ++counters_.images_opened;
        leave_conversation();
        set_image(e.image, e.image_info);
        chat.conversation_id = e.conversation_id;
        view_.history.active_id = e.conversation_id;
        break;
    case EventKind::ConversationLoaded:
        if (e.conversation_id != reopening_id_) break; // the user moved on before it arrived
        ++counters_.conversations_loaded;
        reopening_id_ = 0;
        leave_conversation();
        set_image(e.image, e.image_info);
        chat.conversation_id = e.conversation_id;
        for (const Turn& t : e.turns) {
            ui::MessageView q;
            q.role = ui::Role::User;
            q.text = t.question;
            chat.messages.push_back(q);
            ui::MessageView a;
            a.role = ui::Role::Assistant;
            a.text = t.reply;
            a.has_stats = t.stats.generated_tokens > 0;
            a.time_to_first_token_ms = t.stats.time_to_first_token_ms;
            a.tokens_per_second = t.stats.tokens_per_second;
            a.generated_tokens = t.stats.generated_tokens;
            chat.messages.push_back(a);
        }
        break;
    case EventKind::Preparing:
        if (current) chat.preparing = true;
        break;
    case EventKind::Prepared:
        if (current) chat.preparing = false;
        break;
    case EventKind::ConversationStarted:
        if (starting_text_conversation_ && chat.conversation_id == 0) {
            starting_text_conversation_ = false;
            chat.conversation_id = e.conversation_id;
            view_.history.active_id = e.conversation_id;
        }
        request_history();
        break;
    case EventKind::TokenPiece:
        if (current && !chat.messages.empty() && chat.messages.back().streaming) {
            chat.preparing = false;
            chat.messages.back().text += e.text;
        }
        break;
    case EventKind::ReplyDone:
        if (e.conversation_id == chat.conversation_id) ++counters_.replies_done;
        if (!current || chat.messages.empty()) break;
        {
            ui::MessageView& m = chat.messages.back();
            m.text = e.text;
            m.streaming = false;
            m.cancelled = e.finish == engine::runtime::FinishReason::Cancelled;
            m.has_stats = e.stats.generated_tokens > 0;
            m.time_to_first_token_ms = e.stats.time_to_first_token_ms;
            m.tokens_per_second = e.stats.tokens_per_second;
            m.generated_tokens = e.stats.generated_tokens;
            chat.generating = false;
            chat.preparing = false;
            if (e.context_limit > 0) {
                chat.context_used = e.context_used;
                chat.context_limit = e.context_limit;
            }
        }
        request_history();
        break;
    case EventKind::Failed:
        ++counters_.failures;
        counters_.last_failure = e.text;
        if (e.conversation_id == 0 && view_.model.phase == ui::ModelPhase::Loading) {
            view_.model.phase = e.error_kind == engine::ErrorKind::ModelMissing ? ui::ModelPhase::Missing : ui::ModelPhase::Failed;
            view_.model.error = e.text;
            break;
        }
        if (current && !chat.messages.empty() && chat.messages.back().role == ui::Role::Assistant) {
            chat.messages.back().error = e.text;
            chat.messages.back().streaming = false;
            chat.generating = false;
            chat.preparing = false;
        } else {
            toast(e.text, true);
        }
        if (view_.image.loading && chat.conversation_id == 0) {
            // The image that was to start a conversation did not open: the panel must not keep showing the
            // one before it, which the next (text-only) question would not be about.
            texture_delete(view_.image.texture);
            view_.image = ui::ImageView{};
        }
        view_.image.loading = false;
        break;
    case EventKind::HistoryList: {
        if (trim(e.text) != trim(local_.history.search)) break; // an answer to an older search
        view_.history.entries.clear();
        for (HistoryItem& item : e.history) {
            if (!item.thumbnail.pixels.empty() && !thumbnails_.count(item.image_id)) {
                thumbnails_[item.image_id] = texture_from_rgb(item.thumbnail);
                thumbnail_size_[item.image_id] = {item.thumbnail.width, item.thumbnail.height};
            }
            ui::HistoryEntryView v;
            v.id = item.conversation_id;
            v.title = item.title;
            v.when = format_time(item.updated_ms);
            if (auto it = thumbnails_.find(item.image_id); it != thumbnails_.end()) {
                v.thumbnail = it->second;
                v.thumbnail_width = thumbnail_size_[item.image_id].first;
                v.thumbnail_height = thumbnail_size_[item.image_id].second;
            }
            view_.history.entries.push_back(v);
        }
        break;
    }
    case EventKind::HistoryChanged:
        view_.history.undo_title = e.text;
        request_history();
        break;
    case EventKind::DirectoryListing:
        view_.browser.listing = false;
        view_.browser.directory = e.folder;
        view_.browser.error = e.text;
        view_.browser.entries.clear();
        for (const FolderEntry& f : e.entries) view_.browser.entries.push_back({f.name, f.is_directory, f.bytes});
        break;
    case EventKind::Saved:
        ++counters_.saves;
        counters_.last_saved = e.text;
        break;
    }
}

void GuiApp::draw() {
    ui::UiActions actions;
    ui::draw_root(view_, local_, actions);
    carry_out(actions);
}

void GuiApp::carry_out(const ui::UiActions& a) {
    ui::ChatView& chat = view_.chat;
    if (a.copy_text) glfwSetClipboardString(window_, a.copy_text->c_str());
    if (a.paste) paste();
    if (a.open_image) open_image(*a.open_image);
    if (a.new_conversation) {
        leave_conversation();
        texture_delete(view_.image.texture);
        view_.image = ui::ImageView{};
        view_.history.active_id = 0;
        worker_.submit(Command{CommandKind::NewConversation});
    }
    if (a.reopen_conversation) reopen(*a.reopen_conversation);
    if (a.ask && chat.blocked_reason.empty() && !chat.generating) ask(*a.ask);
    if (a.stop) worker_.cancel(chat.conversation_id);
    if ((a.regenerate || a.edit_and_resend) && !chat.generating && chat.messages.size() >= 2) {
        chat.messages.pop_back(); // the reply
        if (a.edit_and_resend) chat.messages.back().text = *a.edit_and_resend;
        ui::MessageView reply;
        reply.role = ui::Role::Assistant;
        reply.streaming = true;
        chat.messages.push_back(reply);
        chat.generating = true;
        Command c{a.edit_and_resend ? CommandKind::EditAndResend : CommandKind::Regenerate};
        c.conversation_id = chat.conversation_id;
        if (a.edit_and_resend) c.text = *a.edit_and_resend;
        c.generation = generation();
        worker_.submit(std::move(c));
    }
    if (a.list_directory) {
        view_.browser.listing = true;
        Command c{CommandKind::ListDirectory};
        c.text = *a.list_directory;
        worker_.submit(std::move(c));
    }
    if (a.load_model) {
        Settings s = settings_;
        s.model_folder = *a.load_model;
        settings_ = s;
        view_.settings.values = to_view(s);
        Command save{CommandKind::SaveSettings};
        save.settings = s;
        worker_.submit(std::move(save));
        load_model(*a.load_model);
    }
    if (a.delete_conversation) {
        if (*a.delete_conversation == chat.conversation_id) {
            leave_conversation();
            texture_delete(view_.image.texture);
            view_.image = ui::ImageView{};
            worker_.submit(Command{CommandKind::NewConversation});
        }
        Command c{CommandKind::Delete};
        c.conversation_id = *a.delete_conversation;
        worker_.submit(std::move(c));
    }
    if (a.undo_delete) worker_.submit(Command{CommandKind::UndoDelete});
    if (a.rename_conversation) {
        Command c{CommandKind::Rename};
        c.conversation_id = a.rename_conversation->first;
        c.text = a.rename_conversation->second;
        worker_.submit(std::move(c));
    }
    if (a.search_history) request_history();
    if (a.settings_changed) {
        apply_settings(from_view(*a.settings_changed), false);
        Command c{CommandKind::SaveSettings};
        c.settings = settings_;
        worker_.submit(std::move(c));
    }
    if (a.dismiss_toasts) {
        view_.toasts.clear();
        toast_times_.clear();
    }
}

} // namespace glm4v::app::gui
