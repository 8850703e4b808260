#pragma once
// The window's worker seen from a terminal (glm4v ask, chat, batch): commands in, events waited for one
// at a time, so every command lands in the same history as the window. Ctrl+C is caught: it stops the
// reply being generated and stays raised (interrupted()) for the command to decide what else it stops.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "app/worker.h"
#include "engine/error.h"
#include "engine/runtime/chat.h"

namespace CLI {
class App;
}

namespace glm4v::app::cli {

struct SessionOptions {
    std::string model_path;
    std::string device = "auto";
    bool no_history = false; // history and embeddings go to a temporary folder removed at the end
    bool quiet = false;      // no loading progress on stderr
    bool low_vram = false;   // the vision tower's layers in host memory (a 6-8 GB GPU)
};

struct Answer {
    std::int64_t conversation_id = 0; // > 0 when stored in the history
    std::string text;                 // the whole reply; what was said before a failure or Ctrl+C
    engine::runtime::ReplyStats stats;
    engine::runtime::FinishReason finish = engine::runtime::FinishReason::Eos;
    std::optional<engine::Error> error; // the reply failed part way (a full context, out of memory)
};

class WorkerSession {
public:
    explicit WorkerSession(const SessionOptions& options);
    ~WorkerSession();
    WorkerSession(const WorkerSession&) = delete;
    WorkerSession& operator=(const WorkerSession&) = delete;

    // Each throws engine::Error when the worker reports a failure (a missing model, a bad image).
    void load_model();
    void open_image(const std::string& path); // starts a new conversation about it
    void reopen(std::int64_t conversation_id);
    void new_conversation(); // without an image; stored at its first question

    // Streams the reply's pieces to on_piece and returns once it is done, stopped or failed.
    Answer ask(const std::string& question, const engine::runtime::GenerationOptions& generation,
               const std::function<void(const std::string&)>& on_piece);

    std::int64_t conversation_id() const { return id_; }
    bool interrupted() const;
    void clear_interrupted();
    bool recording() const { return !options_.no_history; }

private:
    WorkerPaths make_paths();
    void wake();
    Event next_event();
    Event next();
    Event wait_until(EventKind kind);

    SessionOptions options_;
    std::filesystem::path scratch_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool woken_ = false;
    bool interrupted_ = false;
    std::deque<Event> pending_;
    std::int64_t id_ = 0;
    Worker worker_; // last: its threads stop before the members they call into
};

// --model-path, --device, -q/--quiet
void add_session_options(CLI::App* command, SessionOptions& session);
// --max-new-tokens, --temperature, --top-p, --top-k, --repetition-penalty, --seed
void add_generation_options(CLI::App* command, engine::runtime::GenerationOptions& generation);

} // namespace glm4v::app::cli
