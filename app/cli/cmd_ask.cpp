// glm4v ask / glm4v chat: questions from the terminal, answered through the same worker as the window,
// so they land in the same history and can be continued there (and the other way round).
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>

#include "app/cli/commands.h"
#include "app/paths.h"
#include "app/worker.h"
#include "engine/error.h"

namespace glm4v::app::cli {
namespace {
using engine::Error;
using engine::ErrorKind;
namespace fs = std::filesystem;

std::atomic<bool> interrupted{false};
extern "C" void on_sigint(int) { interrupted = true; }

struct AskOptions {
    std::string model_path;
    std::string image;
    std::string device = "auto";
    std::int64_t conversation = 0;
    bool no_history = false;
    bool quiet = false;
    engine::runtime::GenerationOptions generation;
    std::string question; // ask only
};

// The worker seen from a terminal: commands in, events waited for one at a time.
class Session {
public:
    explicit Session(const AskOptions& o) : options_(o), worker_(make_paths(o), [this] { wake(); }) {
        std::signal(SIGINT, on_sigint);
    }
    ~Session() {
        worker_.shutdown();
        std::signal(SIGINT, SIG_DFL);
        std::error_code ec;
        if (!scratch_.empty()) fs::remove_all(scratch_, ec);
    }

    void load_model() {
        Command c(CommandKind::LoadModel);
        c.text = model_dir(options_.model_path).string();
        c.device = options_.device;
        worker_.submit(c);
        while (true) {
            Event e = next();
            if (e.kind == EventKind::ModelReady) return;
            if (e.kind == EventKind::LoadProgress && !options_.quiet && isatty(STDERR_FILENO))
                std::fprintf(stderr, "\rloading %3.0f%% %-50.50s", e.progress * 100, e.text.c_str());
            if (e.kind == EventKind::ModelMissing) {
                std::string files;
                for (const auto& f : e.missing_files) files += (files.empty() ? "" : ", ") + f;
                throw Error(ErrorKind::ModelMissing,
                            e.text + (files.empty() ? "" : " Missing: " + files) +
                                ". Put the GLM-4V-9B files there, or pass --model-path DIR (or set GLM4V_MODEL).");
            }
        }
    }

    void open() {
        if (options_.conversation) {
            Command c(CommandKind::Reopen);
            c.conversation_id = options_.conversation;
            worker_.submit(c);
            wait_until(EventKind::ConversationLoaded);
            id_ = options_.conversation;
        } else if (!options_.image.empty()) {
            Command c(CommandKind::OpenImageFile);
            c.text = options_.image;
            worker_.submit(c);
            id_ = wait_until(EventKind::ImageOpened).conversation_id;
        } else {
            worker_.submit(Command(CommandKind::NewConversation));
        }
    }

    // Streams the reply to stdout; Ctrl+C stops it (what was said is kept).
    void ask(const std::string& question) {
        Command c(CommandKind::Ask);
        c.conversation_id = id_;
        c.text = question;
        c.generation = options_.generation;
        interrupted = false;
        worker_.submit(c);
        while (true) {
            Event e = next();
            if (e.kind == EventKind::ConversationStarted) id_ = e.conversation_id;
            if (e.kind == EventKind::TokenPiece) {
                std::fwrite(e.text.data(), 1, e.text.size(), stdout);
                std::fflush(stdout);
            }
            if (e.kind == EventKind::ReplyDone) {
                std::fputc('\n', stdout);
                if (!options_.quiet)
                    std::fprintf(stderr, "[%lld tokens, first after %.0f ms, %.1f tokens/s%s%s]\n",
                                 static_cast<long long>(e.stats.generated_tokens), e.stats.time_to_first_token_ms,
                                 e.stats.tokens_per_second,
                                 e.finish == engine::runtime::FinishReason::Cancelled ? ", stopped" : "",
                                 id_ > 0 && !options_.no_history ? (", conversation " + std::to_string(id_)).c_str()
                                                                 : "");
                return;
            }
        }
    }

private:
    WorkerPaths make_paths(const AskOptions& o) {
        if (!o.no_history) return {data_dir(), embedding_cache_dir()};
        // Nothing of this run outlives it: history and embeddings go to a folder removed on exit.
        char tmpl[] = "/tmp/glm4v-no-history-XXXXXX";
        if (!mkdtemp(tmpl)) throw Error(ErrorKind::Io, "cannot create a temporary folder");
        scratch_ = tmpl;
        return {scratch_, scratch_ / "embeddings"};
    }

    void wake() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            woken_ = true;
        }
        cv_.notify_one();
    }

    // The next event; a failure becomes an exception. Checks for Ctrl+C while waiting.
    Event next() {
        while (pending_.empty()) {
            std::vector<Event> events;
            worker_.drain_events(events);
            for (auto& e : events) pending_.push_back(std::move(e));
            if (!pending_.empty()) break;
            std::unique_lock<std::mutex> lock(mutex_);
            cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return woken_; });
            woken_ = false;
            if (interrupted.exchange(false)) worker_.cancel(id_ ? id_ : 0);
        }
        Event e = std::move(pending_.front());
        pending_.pop_front();
        if (e.kind == EventKind::Failed) throw Error(e.error_kind, e.text);
        return e;
    }

    Event wait_until(EventKind kind) {
        while (true) {
            Event e = next();
            if (e.kind == kind) return e;
        }
    }

    AskOptions options_;
    fs::path scratch_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool woken_ = false;
    std::deque<Event> pending_;
    std::int64_t id_ = 0;
    Worker worker_; // last: its threads stop before the members they call into
};

void add_common_options(CLI::App* cmd, AskOptions& o) {
    cmd->add_option("--model-path", o.model_path, "Model folder (default: $GLM4V_MODEL, else ~/.cache/glm4v/glm-4v-9b)");
    cmd->add_option("--image", o.image, "Image to ask about (JPEG, PNG, WebP, BMP, TIFF)");
    cmd->add_option("--conversation", o.conversation, "Continue a stored conversation (see glm4v history list)");
    cmd->add_option("--device", o.device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
    cmd->add_option("--max-new-tokens", o.generation.max_new_tokens, "Longest reply, in tokens")->check(CLI::PositiveNumber);
    cmd->add_option("--temperature", o.generation.temperature, "0 for greedy")->check(CLI::NonNegativeNumber);
    cmd->add_option("--top-p", o.generation.top_p, "Nucleus sampling mass")->check(CLI::Range(0.0, 1.0));
    cmd->add_option("--top-k", o.generation.top_k, "0 for off")->check(CLI::NonNegativeNumber);
    cmd->add_option("--repetition-penalty", o.generation.repetition_penalty, "1 for off")->check(CLI::PositiveNumber);
    cmd->add_option("--seed", o.generation.seed, "Sampling seed");
    cmd->add_flag("--no-history", o.no_history, "Do not record this conversation");
    cmd->add_flag("-q,--quiet", o.quiet, "No progress or statistics on stderr");
    cmd->get_option("--conversation")->excludes(cmd->get_option("--image"));
}
} // namespace

void add_ask_command(CLI::App& app) {
    auto o = std::make_shared<AskOptions>();
    CLI::App* cmd = app.add_subcommand("ask", "Ask one question, optionally about an image; the answer streams");
    add_common_options(cmd, *o);
    cmd->add_option("question", o->question, "The question")->required();
    cmd->callback([o] {
        if (o->question.find_first_not_of(" \t\r\n") == std::string::npos)
            throw Error(ErrorKind::InvalidInput, "the question is empty");
        Session session(*o);
        session.load_model();
        session.open();
        session.ask(o->question);
    });
}

void add_chat_command(CLI::App& app) {
    auto o = std::make_shared<AskOptions>();
    CLI::App* cmd = app.add_subcommand("chat", "Talk about an image in the terminal: one question per line");
    add_common_options(cmd, *o);
    cmd->callback([o] {
        Session session(*o);
        session.load_model();
        session.open();
        const bool tty = isatty(STDIN_FILENO);
        std::string line;
        while (true) {
            if (tty) std::fputs("> ", stderr);
            if (!std::getline(std::cin, line)) break;
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            if (line == "/quit" || line == "/exit") break;
            try {
                session.ask(line);
            } catch (const Error& e) {
                // One bad turn (a full context, say) ends nothing but itself.
                if (e.kind() == ErrorKind::ModelMissing) throw;
                std::fprintf(stderr, "glm4v: %s\n", e.what());
            }
        }
    });
}

} // namespace glm4v::app::cli
