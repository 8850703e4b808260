#pragma once
// The glm4v command line: one file per subcommand, each adding itself to the CLI11 app.
// A subcommand's callback throws engine::Error on failure; main prints it as one line and exits non-zero.

namespace CLI {
class App;
}

namespace glm4v::app::cli {

void add_ask_command(CLI::App& app);
void add_batch_command(CLI::App& app);
void add_chat_command(CLI::App& app);
void add_check_golden_command(CLI::App& app);
void add_history_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);



} // namespace glm4v::app::cli
