// glm4v: the command-line face of glm4v-desktop.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "engine/error.h"
#include "engine/log.h"

namespace {
int exit_code_for(glm4v::engine::ErrorKind kind) {
    using glm4v::engine::ErrorKind;
    switch (kind) {
    case ErrorKind::InvalidInput: return 2;
    case ErrorKind::ModelMissing: return 3;
    case ErrorKind::Cancelled: return 130;
    default: return 1;
    }
}
} // namespace

int main(int argc, char** argv) {
    namespace engine = glm4v::engine;
    CLI::App app{"glm4v: GLM-4V-9B on your own GPU, offline"};
    app.set_version_flag("--version", std::string("glm4v ") + GLM4V_VERSION);
    app.require_subcommand(1);
    bool verbose = false;
    app.add_flag("-v,--verbose", verbose, "Print debug messages");
    glm4v::app::cli::add_check_golden_command(app);
    glm4v::app::cli::add_tokenize_command(app);
#ifndef GLM4V_ENGINE_ONLY
    glm4v::app::cli::add_ask_command(app);
    glm4v::app::cli::add_batch_command(app);
    glm4v::app::cli::add_chat_command(app);
    glm4v::app::cli::add_history_command(app);
#endif

    engine::set_log_sink([&verbose](engine::LogLevel level, const std::string& message) {
        if (level < engine::LogLevel::Warn && !verbose) return;
        static const char* names[] = {"debug", "info", "warning", "error"};
        std::fprintf(stderr, "glm4v: %s: %s\n", names[static_cast<int>(level)], message.c_str());
    });
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const engine::Error& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "glm4v: %s\n", e.what());
        if (verbose && !e.where().empty()) std::fprintf(stderr, "glm4v: (raised at %s)\n", e.where().c_str());
        return exit_code_for(e.kind());
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "glm4v: internal error: %s\n", e.what());
        return 1;
    }
    return 0;
}
