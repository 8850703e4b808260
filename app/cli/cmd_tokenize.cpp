// glm4v tokenize --model-path DIR [--json] TEXT...      ids of the text, space-separated (or one JSON array)
// glm4v tokenize --model-path DIR --decode [--json] ID...  the text of the ids (or one JSON string)
// Without TEXT the text is read from stdin. The text is plain: "<|user|>" typed here is not the role token.
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/cli/commands.h"
#include "engine/error.h"
#include "engine/tokenizer/tokenizer.h"

namespace glm4v::app::cli {
namespace {

struct TokenizeOptions {
    std::string model_path;
    bool json = false;
    bool decode = false;
    std::vector<std::string> args;
};

std::vector<engine::tokenizer::TokenId> parse_ids(const std::vector<std::string>& args) {
    std::vector<engine::tokenizer::TokenId> ids;
    for (const std::string& arg : args) {
        errno = 0;
        char* end = nullptr;
        const long long v = std::strtoll(arg.c_str(), &end, 10);
        GLM4V_CHECK(!arg.empty() && *end == '\0' && errno == 0 && v >= 0 && v <= INT32_MAX,
                    engine::ErrorKind::InvalidInput)
            << "'" << arg << "' is not a token id";
        ids.push_back(static_cast<engine::tokenizer::TokenId>(v));
    }
    return ids;
}

void run_tokenize(const TokenizeOptions& opts) {
    GLM4V_CHECK(!opts.model_path.empty(), engine::ErrorKind::ModelMissing)
        << "no model folder: pass --model-path DIR or set GLM4V_MODEL";
    const auto tokenizer = engine::tokenizer::load_tokenizer(opts.model_path);
    if (opts.decode) {
        GLM4V_CHECK(!opts.args.empty(), engine::ErrorKind::InvalidInput) << "--decode needs token ids";
        const std::string text = tokenizer->decode(parse_ids(opts.args));
        if (opts.json)
            std::cout << nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        else
            std::cout << text << "\n";
        return;
    }
    std::string text;
    if (opts.args.empty()) {
        text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
        for (std::size_t i = 0; i < opts.args.size(); ++i)
            text += (i ? " " : "") + opts.args[i];
    }
    const auto ids = tokenizer->encode(text);
    if (opts.json) {
        std::cout << nlohmann::json(ids).dump() << "\n";
        return;
    }
    for (std::size_t i = 0; i < ids.size(); ++i)
        std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
}

} // namespace

void add_tokenize_command(CLI::App& app) {
    auto opts = std::make_shared<TokenizeOptions>();
    CLI::App* cmd = app.add_subcommand("tokenize", "Show the token ids of a text, or the text of token ids");
    cmd->add_option("--model-path", opts->model_path, "Model folder (tokenizer.model, tokenizer_config.json)")
        ->envname("GLM4V_MODEL");
    cmd->add_flag("--json", opts->json, "Print one JSON value (array of ids, or string) and nothing else");
    cmd->add_flag("--decode", opts->decode, "Treat the arguments as token ids and print their text");
    cmd->add_option("args", opts->args, "The text (words are joined by single spaces; stdin when absent), or ids");
    cmd->callback([opts] { run_tokenize(*opts); });
}

} // namespace glm4v::app::cli
