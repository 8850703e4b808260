#include "app/cli/worker_session.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>

#include "app/paths.h"
#include "engine/log.h"

namespace glm4v::app::cli {
namespace {
using engine::Error;
using engine::ErrorKind;
namespace fs = std::filesystem;

std::atomic<bool> sigint_received{false};
extern "C" void on_sigint(int) {
    sigint_received = true;
}
} // namespace

WorkerSession::WorkerSession(const SessionOptions& options)
    : options_(options), worker_(make_paths(), [this] { wake(); }) {
    sigint_received = false;
    std::signal(SIGINT, on_sigint);
}

WorkerSession::~WorkerSession() {
    worker_.shutdown();
    std::signal(SIGINT, SIG_DFL);
    std::error_code ec;
    if (!scratch_.empty()) fs::remove_all(scratch_, ec);
}

WorkerPaths WorkerSession::make_paths() {
    // The quantized model cache is the model's, not the conversation's: kept even without history.
    if (!options_.no_history) return {data_dir(), embedding_cache_dir(), cache_dir()};
    // Nothing of this run outlives it: history and embeddings go to a folder removed on exit.
    char tmpl[] = "/tmp/glm4v-no-history-XXXXXX";
    if (!mkdtemp(tmpl)) throw Error(ErrorKind::Io, "cannot create a temporary folder");
    scratch_ = tmpl;
    return {scratch_, scratch_ / "embeddings", cache_dir()};
}

void WorkerSession::load_model() {
    Command c(CommandKind::LoadModel);
    c.text = model_dir(options_.model_path).string();
    c.device = options_.device;
    c.low_vram = options_.low_vram;
    worker_.submit(c);
    const bool show = !options_.quiet && isatty(STDERR_FILENO);
    while (true) {
        Event e = next();
        if (e.kind == EventKind::ModelReady) {
            if (show) std::fprintf(stderr, "\r%-62s\r", ""); // the reply or progress bar takes the line
            return;
        }
        if (e.kind == EventKind::LoadProgress && show)
            std::fprintf(stderr, "\rloading %3.0f%% %-50.50s", e.progress * 100, e.text.c_str());
        if (e.kind == EventKind::ModelMissing) {
            std::string files;
            for (const auto& f : e.missing_files)
                files += (files.empty() ? "" : ", ") + f;
            throw Error(ErrorKind::ModelMissing,
                        e.text + (files.empty() ? "" : " Missing: " + files) +
                            ". Put the GLM-4V-9B files there, or pass --model-path DIR (or set GLM4V_MODEL).");
        }
    }
}

void WorkerSession::open_image(const std::string& path) {
    Command c(CommandKind::OpenImageFile);
    c.text = path;
    worker_.submit(c);
    while (true) {
        Event e = next_event();
        if (e.kind == EventKind::ImageOpened) {
            id_ = e.conversation_id;
            return;
        }
        if (e.kind != EventKind::Failed) continue;
        // A refused image fails with no conversation. One with a conversation id opened, but its conversation
        // cannot be stored (a full disk): answering still works, so that is a warning, and ImageOpened follows.
        if (e.conversation_id == 0) throw Error(e.error_kind, e.text);
        engine::log_warn(e.text);
    }
}

void WorkerSession::reopen(std::int64_t conversation_id) {
    Command c(CommandKind::Reopen);
    c.conversation_id = conversation_id;
    worker_.submit(c);
    wait_until(EventKind::ConversationLoaded);
    id_ = conversation_id;
}

void WorkerSession::new_conversation() {
    worker_.submit(Command(CommandKind::NewConversation));
    id_ = 0;
}

Answer WorkerSession::ask(const std::string& question, const engine::runtime::GenerationOptions& generation,
                          const std::function<void(const std::string&)>& on_piece) {
    if (interrupted()) throw Error(ErrorKind::Cancelled, "interrupted");
    Command c(CommandKind::Ask);
    c.conversation_id = id_;
    c.text = question;
    c.generation = generation;
    worker_.submit(c);
    while (true) {
        Event e = next();
        // A new conversation's id comes with ConversationStarted, and the worker only takes a cancel for
        // the reply it is generating: so a Ctrl+C that came early is passed on again at every event.
        if (e.kind == EventKind::ConversationStarted) id_ = e.conversation_id;
        if (interrupted_) worker_.cancel(id_);
        if (e.kind == EventKind::TokenPiece) on_piece(e.text);
        if (e.kind != EventKind::ReplyDone) continue;
        Answer answer;
        answer.conversation_id = id_;
        answer.text = e.text;
        answer.stats = e.stats;
        answer.finish = e.finish;
        if (!e.error.empty()) {
            answer.error = Error(e.error_kind, e.error);
            // The worker follows this event with a Failed one for the same failure: take it now, or the
            // next command would throw it.
            try {
                for (;;)
                    next();
            } catch (const Error&) {
            }
        }
        return answer;
    }
}

bool WorkerSession::interrupted() const {
    return interrupted_ || sigint_received;
}

void WorkerSession::clear_interrupted() {
    interrupted_ = false;
    sigint_received = false;
}

void WorkerSession::wake() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        woken_ = true;
    }
    cv_.notify_one();
}

// The next event, failures included. Passes Ctrl+C on to the worker, also while tokens stream too fast
// for any wait.
Event WorkerSession::next_event() {
    while (true) {
        if (sigint_received.exchange(false)) {
            interrupted_ = true;
            worker_.cancel(id_);
        }
        if (pending_.empty()) {
            std::vector<Event> events;
            worker_.drain_events(events);
            for (auto& e : events)
                pending_.push_back(std::move(e));
        }
        if (!pending_.empty()) break;
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return woken_; });
        woken_ = false;
    }
    Event e = std::move(pending_.front());
    pending_.pop_front();
    return e;
}

// The next event; a failure becomes an exception.
Event WorkerSession::next() {
    Event e = next_event();
    if (e.kind == EventKind::Failed) throw Error(e.error_kind, e.text);
    return e;
}

Event WorkerSession::wait_until(EventKind kind) {
    while (true) {
        Event e = next();
        if (e.kind == kind) return e;
    }
}

void add_session_options(CLI::App* cmd, SessionOptions& s) {
    cmd->add_option("--model-path", s.model_path,
                    "Model folder (default: $GLM4V_MODEL, else ~/.cache/glm4v/glm-4v-9b)");
    cmd->add_option("--device", s.device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
    cmd->add_flag("-q,--quiet", s.quiet, "No progress or statistics on stderr");
    cmd->add_flag("--low-vram", s.low_vram, "Hold the vision tower in host memory: 2.5 GB less on the GPU, slower new images");
}

void add_generation_options(CLI::App* cmd, engine::runtime::GenerationOptions& g) {
    cmd->add_option("--max-new-tokens", g.max_new_tokens, "Longest reply, in tokens")->check(CLI::PositiveNumber);
    cmd->add_option("--temperature", g.temperature, "0 for greedy")->check(CLI::NonNegativeNumber);
    cmd->add_option("--top-p", g.top_p, "Nucleus sampling mass")->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--top-k", g.top_k, "0 for off")->check(CLI::NonNegativeNumber);
    cmd->add_option("--repetition-penalty", g.repetition_penalty, "1 for off")->check(CLI::PositiveNumber);
    cmd->add_option("--seed", g.seed, "Sampling seed");
}

} // namespace glm4v::app::cli
