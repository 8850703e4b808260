#pragma once
// The threads behind the window (STYLE.md section 5, after Tracy's TracyLlm): the UI submits Commands
// and drains Events; it never waits on the engine, SQLite or files.
//
// Two threads, each a queue fed under a mutex that is dropped during the slow call:
//   engine lane  owns the model and the current conversation's Chat: load, encode the image, ask.
//   store lane   files and SQLite: decode images, list and search the history, rename, delete, folders,
//                saving screenshots and settings. Keeps the sidebar responsive while a reply streams.
// Both write the history through their own HistoryStore (one per thread, as the store requires).
// Every event carries the conversation id it belongs to; the UI drops events of a conversation it left.
// Cancel is an atomic polled between tokens; a cancelled or failed reply keeps (and stores) its text.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "app/settings.h"
#include "engine/error.h"
#include "engine/image.h"
#include "engine/runtime/chat.h"

namespace glm4v::app {

enum class CommandKind {
    LoadModel,      // text: folder; device: "auto" / "cpu"
    OpenImageFile,  // text: path. Starts a new conversation about it.
    OpenImageBytes, // bytes: an encoded image (the clipboard's image/png)
    NewConversation,
    Ask,            // text: question. Asked in a new conversation without an image (conversation_id 0), the
                    // first question stores it: ConversationStarted brings its id, which every later event
                    // of the reply carries.
    Regenerate,     // asks the last question again, replacing its reply
    EditAndResend,  // text: the new last question, replacing the old one and its reply
    Reopen,         // conversation_id: a stored conversation, to ask follow-ups about its image
    ListHistory,    // text: search terms, empty for all
    Rename,         // conversation_id, text: the new title
    Delete,         // conversation_id: hidden at once, deleted for good when the undo window passes
    UndoDelete,
    ListDirectory,  // text: folder
    SavePng,        // text: path; bytes: RGBA rows top to bottom; width, height
    SaveSettings,   // settings
};

struct Command {
    explicit Command(CommandKind kind_ = CommandKind::Ask) : kind(kind_) {}
    CommandKind kind;
    std::int64_t conversation_id = 0;
    std::string text;
    std::string device = "auto";
    bool low_vram = false; // LoadModel: LoadOptions::low_vram
    std::vector<std::uint8_t> bytes;
    int width = 0;
    int height = 0;
    engine::runtime::GenerationOptions generation;
    Settings settings;
};

enum class EventKind {
    LoadProgress,        // progress, text: what is being done
    ModelReady,          // text: device, folder: the model folder
    ModelMissing,        // folder, missing_files, text: the message
    ImageOpened,         // conversation_id (new), image, image_info
    ConversationStarted, // conversation_id, title (text): its first question was asked (stored when the id > 0)
    ConversationLoaded,  // conversation_id, image, image_info, turns: a reopened conversation
    Preparing,           // conversation_id: the image is being encoded or past turns re-entered
    Prepared,            // conversation_id: ready to answer without encoding the image again
    TokenPiece,          // conversation_id, text: whole UTF-8 characters
    ReplyDone,           // conversation_id, text: the whole reply, stats, finish, context_*; a reply that
                         // failed part way also has error and error_kind, and a Failed event follows it
    Failed,              // conversation_id (0: not about one), error_kind, text: the message
    HistoryList,         // history (search results when query is not empty), text: the query
    HistoryChanged,      // renamed, deleted or restored: the UI asks for the list again; text: the title
                         // whose deletion can still be undone (empty: none)
    DirectoryListing,    // folder, entries, text: error message when the folder cannot be read
    Saved,               // text: path of the screenshot or settings file written
};

struct ImageInfo {
    std::string name;   // file name, or "clipboard"
    std::string format; // "png", "jpeg", ...
    int width = 0;      // of the original, upright
    int height = 0;
    std::int64_t file_bytes = 0;
};

struct Turn {
    std::string question;
    std::string reply;
    engine::runtime::ReplyStats stats;
};

struct HistoryItem {
    std::int64_t conversation_id = 0;
    std::int64_t image_id = 0;
    std::string title;
    std::int64_t updated_ms = 0;
    engine::RgbImage thumbnail; // sent once per image id; empty afterwards (the UI keeps its texture)
};

struct FolderEntry {
    std::string name;
    bool is_directory = false;
    std::int64_t bytes = 0;
};

struct Event {
    Event() = default;
    explicit Event(EventKind kind_, std::int64_t conversation_id_ = 0, std::string text_ = {})
        : kind(kind_), conversation_id(conversation_id_), text(std::move(text_)) {}
    EventKind kind = EventKind::Failed;
    std::int64_t conversation_id = 0;
    std::string text;
    std::string folder;
    double progress = 0;
    engine::ErrorKind error_kind = engine::ErrorKind::InvalidInput;
    std::string error; // ReplyDone of a failed reply: the message
    engine::RgbImage image;
    ImageInfo image_info;
    std::vector<Turn> turns;
    engine::runtime::ReplyStats stats;
    engine::runtime::FinishReason finish = engine::runtime::FinishReason::Eos;
    std::int64_t context_used = 0;
    std::int64_t context_limit = 0;
    std::vector<std::string> missing_files;
    std::vector<HistoryItem> history;
    std::vector<FolderEntry> entries;
};

struct WorkerPaths {
    std::filesystem::path data_dir;      // history.db and images/
    std::filesystem::path embedding_dir; // cached vision embeddings
    std::filesystem::path quant_cache_dir; // the NF4 cache file of a quantized checkpoint (engine/model/quant_cache.h)
};

// What the window asks of the worker. glm4v-desktop reaches the Worker through this from a module it loads on a
// thread after its first frame (app/gui/worker_loader.h), so that the window itself links no libtorch.
class WorkerApi {
public:
    virtual ~WorkerApi() = default;
    virtual void submit(Command command) = 0;
    // Stops the reply being generated for this conversation (any thread; returns at once).
    virtual void cancel(std::int64_t conversation_id) = 0;
    // Moves every pending event into `out` (appending). Never blocks on the engine.
    virtual void drain_events(std::vector<Event>& out) = 0;
    // Cancels any generation (its partial reply is stored), finishes deletions waiting for undo, and joins
    // the threads. Called once, when the window has closed.
    virtual void shutdown() = 0;
};

class Worker final : public WorkerApi {
public:
    // wake is called (from a worker thread) after events are pushed: the GUI passes glfwPostEmptyEvent.
    Worker(WorkerPaths paths, std::function<void()> wake);
    ~Worker() override; // shutdown()
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void submit(Command command) override;
    void cancel(std::int64_t conversation_id) override;
    void drain_events(std::vector<Event>& out) override;
    void shutdown() override;

    // For tests that look inside the engine (what a follow-up's prompt holds): called on the engine lane
    // with every Chat the worker builds, before its first ask. Set it before the first submit().
    void set_chat_observer(std::function<void(std::int64_t conversation_id, engine::runtime::Chat& chat)> observer) {
        chat_observer_ = std::move(observer);
    }

private:
    struct Lane {
        std::mutex mutex;
        std::condition_variable wake;
        std::deque<std::function<void()>> queue;
        bool stop = false;
        bool drop_queued_on_stop = false;
        std::thread thread;
    };
    struct EngineState;
    struct StoreState;

    void run_lane(Lane& lane);
    void post(Lane& lane, std::function<void()> job);
    void push(Event event);
    void push_failure(std::int64_t conversation_id, const engine::Error& error);

    // engine lane
    void load_model(const Command& command);
    void start_conversation(std::int64_t id, engine::RgbImage image, std::string image_sha256,
                            std::vector<Turn> turns);
    void ask(std::int64_t conversation_id, const std::string& question, const engine::runtime::GenerationOptions& options);
    void redo_last(std::int64_t conversation_id, const std::string* new_question,
                   const engine::runtime::GenerationOptions& options);
    void prepare_chat();

    // store lane
    void open_image(const Command& command);
    void list_history(const std::string& query);
    void reopen(std::int64_t conversation_id);
    void finish_pending_delete();
    void list_directory(const std::string& folder);

    WorkerPaths paths_;
    std::function<void()> wake_ui_;
    std::function<void(std::int64_t, engine::runtime::Chat&)> chat_observer_;

    std::mutex events_mutex_;
    std::deque<Event> events_;

    std::atomic<bool> stopping_{false};
    std::atomic<bool> cancel_requested_{false};
    std::atomic<std::int64_t> generating_id_{0};
    std::atomic<std::int64_t> unstored_ids_{0}; // conversations the history could not store get -1, -2, ...
    std::mutex chat_mutex_;                       // guards active_chat_ only, never held during a call
    engine::runtime::Chat* active_chat_ = nullptr; // the Chat inside ask(), for cancel()

    std::unique_ptr<EngineState> engine_;
    std::unique_ptr<StoreState> store_;
    Lane engine_lane_;
    Lane store_lane_;
};

} // namespace glm4v::app
