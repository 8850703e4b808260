// glm4v ask / glm4v chat: questions from the terminal, answered through the same worker as the window,
// so they land in the same history and can be continued there (and the other way round).
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "app/cli/commands.h"
#include "app/cli/worker_session.h"
#include "engine/error.h"

namespace glm4v::app::cli {
namespace {
using engine::Error;
using engine::ErrorKind;

struct AskOptions {
    SessionOptions session;
    std::string image;
    std::int64_t conversation = 0;
    engine::runtime::GenerationOptions generation;
    std::string question; // ask only
};

void open_conversation(WorkerSession& session, const AskOptions& o) {
    if (o.conversation)
        session.reopen(o.conversation);
    else if (!o.image.empty())
        session.open_image(o.image);
    else
        session.new_conversation();
}

// Streams the reply to stdout, then its statistics to stderr; Ctrl+C stops it (what was said is kept).
void ask_and_print(WorkerSession& session, const AskOptions& o, const std::string& question) {
    Answer a = session.ask(question, o.generation, [](const std::string& piece) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
    });
    std::fputc('\n', stdout);
    if (!o.session.quiet)
        std::fprintf(stderr, "[%lld tokens, first after %.0f ms, %.1f tokens/s%s%s]\n",
                     static_cast<long long>(a.stats.generated_tokens), a.stats.time_to_first_token_ms,
                     a.stats.tokens_per_second, a.finish == engine::runtime::FinishReason::Cancelled ? ", stopped" : "",
                     a.conversation_id > 0 && session.recording()
                         ? (", conversation " + std::to_string(a.conversation_id)).c_str()
                         : "");
    if (a.error) throw *a.error;
}

void add_common_options(CLI::App* cmd, AskOptions& o) {
    add_session_options(cmd, o.session);
    cmd->add_option("--image", o.image, "Image to ask about (JPEG, PNG, WebP, BMP, TIFF)");
    cmd->add_option("--conversation", o.conversation, "Continue a stored conversation (see glm4v history list)");
    add_generation_options(cmd, o.generation);
    cmd->add_flag("--no-history", o.session.no_history, "Do not record this conversation");
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
        WorkerSession session(o->session);
        session.load_model();
        open_conversation(session, *o);
        ask_and_print(session, *o, o->question);
    });
}

void add_chat_command(CLI::App& app) {
    auto o = std::make_shared<AskOptions>();
    CLI::App* cmd = app.add_subcommand("chat", "Talk about an image in the terminal: one question per line");
    add_common_options(cmd, *o);
    cmd->callback([o] {
        WorkerSession session(o->session);
        session.load_model();
        open_conversation(session, *o);
        const bool tty = isatty(STDIN_FILENO);
        std::string line;
        while (true) {
            if (tty) std::fputs("> ", stderr);
            if (!std::getline(std::cin, line)) break;
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            if (line == "/quit" || line == "/exit") break;
            session.clear_interrupted(); // a Ctrl+C at the prompt is not meant for the next reply
            try {
                ask_and_print(session, *o, line);
            } catch (const Error& e) {
                // One bad turn (a full context, say) ends nothing but itself.
                if (e.kind() == ErrorKind::ModelMissing) throw;
                std::fprintf(stderr, "glm4v: %s\n", e.what());
            }
        }
    });
}

} // namespace glm4v::app::cli
