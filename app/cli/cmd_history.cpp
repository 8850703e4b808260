// glm4v history list | show ID | search TEXT... | export ID --out FILE.md | delete ID
#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>
#include <memory>

#include "app/atomic_file.h"
#include "app/cli/commands.h"
#include "app/embedding_cache.h"
#include "app/history_store.h"
#include "app/paths.h"
#include "engine/error.h"

namespace glm4v::app::cli {
namespace fs = std::filesystem;
using engine::ErrorKind;

namespace {

struct HistoryOptions {
    int limit = 50;
    std::int64_t id = 0;
    std::vector<std::string> query;
    std::string out;
};

// The store and the embedding cache it prunes on delete, both at their XDG places.
struct OpenHistory {
    EmbeddingCache embeddings{embedding_cache_dir()};
    HistoryStore store{data_dir(), &embeddings};
};

std::string local_time(std::int64_t ms) {
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm parts{};
    localtime_r(&seconds, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M", &parts);
    return text;
}

std::string title_or_placeholder(const std::string& title) { return title.empty() ? "(untitled)" : title; }

ConversationRecord require_conversation(const HistoryStore& store, std::int64_t id) {
    std::optional<ConversationRecord> record = store.find_conversation(id);
    GLM4V_CHECK(record.has_value(), ErrorKind::InvalidInput) << "no conversation with id " << id;
    return *record;
}

void list(const HistoryOptions& options) {
    OpenHistory history;
    for (const ConversationRecord& c : history.store.list_conversations(options.limit))
        std::printf("%6lld  %s  %3lld messages  %s\n", static_cast<long long>(c.id), local_time(c.updated_ms).c_str(),
                    static_cast<long long>(c.message_count), title_or_placeholder(c.title).c_str());
}

void show(const HistoryOptions& options) {
    OpenHistory history;
    const ConversationRecord c = require_conversation(history.store, options.id);
    std::printf("# %s\n", title_or_placeholder(c.title).c_str());
    std::printf("conversation %lld, started %s, updated %s\n", static_cast<long long>(c.id),
                local_time(c.created_ms).c_str(), local_time(c.updated_ms).c_str());
    if (c.image_id != 0)
        if (std::optional<ImageRecord> image = history.store.find_image(c.image_id))
            std::printf("image: %s (%s, %dx%d, %lld bytes)\n", image->file.c_str(), image->format.c_str(),
                        image->width, image->height, static_cast<long long>(image->byte_size));
    for (const MessageRecord& m : history.store.messages(c.id)) {
        std::printf("\n[%s] %s\n%s\n", message_role_name(m.role), local_time(m.created_ms).c_str(), m.text.c_str());
        if (m.role == MessageRole::Assistant && m.generated_tokens > 0)
            std::printf("(%lld tokens, first after %.0f ms, %.1f tokens/s)\n",
                        static_cast<long long>(m.generated_tokens), m.time_to_first_token_ms, m.tokens_per_second);
    }
}

void search(const HistoryOptions& options) {
    OpenHistory history;
    std::string query;
    for (const std::string& word : options.query) query += (query.empty() ? "" : " ") + word;
    const std::vector<SearchHit> hits = history.store.search(query, options.limit);
    for (const SearchHit& hit : hits)
        std::printf("%6lld  %s  %s: %s\n", static_cast<long long>(hit.conversation_id),
                    local_time(hit.created_ms).c_str(), title_or_placeholder(hit.title).c_str(),
                    hit.message_id ? hit.snippet.c_str() : "(title)");
    if (hits.empty()) std::printf("no match for '%s'\n", query.c_str());
}

void export_markdown(const HistoryOptions& options) {
    OpenHistory history;
    const ConversationRecord c = require_conversation(history.store, options.id);
    const fs::path out = options.out;
    const fs::path folder = out.has_parent_path() ? out.parent_path() : fs::path(".");
    std::error_code ec;
    GLM4V_CHECK(fs::is_directory(folder, ec), ErrorKind::Io) << "cannot export to " << out << ": no folder " << folder;

    std::string markdown = "# " + title_or_placeholder(c.title) + "\n\n";
    markdown += "*" + local_time(c.created_ms) + "*\n\n";
    if (c.image_id != 0) {
        if (std::optional<ImageRecord> image = history.store.find_image(c.image_id)) {
            // Beside the Markdown file under its name, so the pair can be moved or mailed together.
            const fs::path copy = folder / (out.stem().string() + image->file.extension().string());
            const std::string bytes = read_whole_file(image->file, static_cast<std::size_t>(image->byte_size) + 1);
            write_file_atomically(copy, bytes.data(), bytes.size());
            markdown += "![image](<" + copy.filename().string() + ">)\n\n";
        }
    }
    for (const MessageRecord& m : history.store.messages(c.id)) {
        if (m.role == MessageRole::User) {
            markdown += "**You:**\n\n";
            // Quoted, so a question's own Markdown cannot run into the reply's.
            std::size_t start = 0;
            while (start <= m.text.size()) {
                const std::size_t end = std::min(m.text.find('\n', start), m.text.size());
                markdown += "> " + m.text.substr(start, end - start) + "\n";
                start = end + 1;
            }
            markdown += "\n";
        } else {
            markdown += "**GLM-4V:**\n\n" + m.text + "\n\n";
        }
    }
    write_file_atomically(out, markdown.data(), markdown.size());
    std::printf("wrote %s\n", out.c_str());
}

void remove(const HistoryOptions& options) {
    OpenHistory history;
    const ConversationRecord c = require_conversation(history.store, options.id);
    const DeletedConversation deleted = history.store.delete_conversation(c.id);
    std::printf("deleted conversation %lld (%s)%s\n", static_cast<long long>(c.id),
                title_or_placeholder(c.title).c_str(), deleted.image_removed ? " and its image" : "");
}

} // namespace

void add_history_command(CLI::App& app) {
    auto options = std::make_shared<HistoryOptions>();
    CLI::App* history = app.add_subcommand("history", "List, show, search, export or delete past conversations");
    history->require_subcommand(1);

    CLI::App* list_cmd = history->add_subcommand("list", "Conversations, most recently updated first");
    list_cmd->add_option("--limit", options->limit, "How many to list")->check(CLI::PositiveNumber);
    list_cmd->callback([options] { list(*options); });

    CLI::App* show_cmd = history->add_subcommand("show", "Print one conversation");
    show_cmd->add_option("id", options->id, "Conversation id (from list)")->required();
    show_cmd->callback([options] { show(*options); });

    CLI::App* search_cmd = history->add_subcommand("search", "Find messages and titles containing every word");
    search_cmd->add_option("text", options->query, "Words or Chinese characters, any length")->required();
    search_cmd->add_option("--limit", options->limit, "Most messages to print")->check(CLI::PositiveNumber);
    search_cmd->callback([options] { search(*options); });

    CLI::App* export_cmd = history->add_subcommand("export", "Write a conversation as Markdown, its image beside it");
    export_cmd->add_option("id", options->id, "Conversation id")->required();
    export_cmd->add_option("--out", options->out, "The .md file to write")->required();
    export_cmd->callback([options] { export_markdown(*options); });

    CLI::App* delete_cmd = history->add_subcommand("delete", "Delete a conversation (and its image when unused)");
    delete_cmd->add_option("id", options->id, "Conversation id")->required();
    delete_cmd->callback([options] { remove(*options); });
}

} // namespace glm4v::app::cli
