#pragma once
// Every image and conversation the user has had, kept so they can come back days later (DESIGN.md
// sections 1 and 5): history.db (SQLite, WAL) plus content-addressed image files, images/<sha256>.<ext>.
// docs/history.md describes the schema, search and durability.
//
// Called from the worker thread (and the CLI), never from the UI thread: every call may block on disk.
// One object per thread; several processes may open the same folder at once (SQLite's locks and a busy
// timeout arbitrate). Failures throw engine::Error: ErrorKind::Io for the disk or database,
// ErrorKind::InvalidInput for a bad argument (an unknown id, a bad role).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace glm4v::app {

class EmbeddingCache;

struct NewImage {
    std::vector<std::uint8_t> file_bytes; // the file exactly as the user gave it: hashed and stored as is
    std::string format;                   // "jpeg", "png", "webp", "bmp" or "tiff" (image_intake's names)
    int width = 0;                        // upright, full resolution
    int height = 0;
    std::vector<std::uint8_t> thumbnail_png;
};

struct ImageRecord {
    std::int64_t id = 0;
    std::string sha256;
    std::int64_t byte_size = 0;
    std::string format;
    int width = 0;
    int height = 0;
    std::vector<std::uint8_t> thumbnail_png;
    std::int64_t created_ms = 0; // milliseconds since the Unix epoch, as every *_ms time here
    std::filesystem::path file;  // images/<sha256>.<ext>
};

struct ConversationRecord {
    std::int64_t id = 0;
    std::int64_t image_id = 0; // 0: no image
    std::string title;
    std::string settings_json; // generation settings the conversation ran with; opaque to the store
    std::int64_t created_ms = 0;
    std::int64_t updated_ms = 0;
    std::int64_t message_count = 0;
};

enum class MessageRole { User, Assistant };
const char* message_role_name(MessageRole role); // "user", "assistant"

struct NewMessage {
    MessageRole role = MessageRole::User;
    std::string text;
    std::vector<std::int64_t> token_ids; // optional; stored as int32 (the vocabulary is 151552)
    std::int64_t prompt_tokens = 0;
    std::int64_t generated_tokens = 0;
    double time_to_first_token_ms = 0;
    double tokens_per_second = 0;
};

struct MessageRecord : NewMessage {
    std::int64_t id = 0;
    std::int64_t conversation_id = 0;
    std::int64_t created_ms = 0;
};

struct SearchHit {
    std::int64_t conversation_id = 0;
    std::int64_t message_id = 0; // 0 when the title matched
    std::string title;
    std::string snippet; // the match with a little context, one line
    std::int64_t created_ms = 0;
};

struct DeletedConversation {
    bool image_removed = false;
    std::string image_sha256; // of the removed image, when image_removed
};

class HistoryStore {
public:
    // Opens data_dir/history.db (creating it and data_dir/images), migrating an older schema forward.
    // `embeddings`, when given, loses the entries of images that delete_conversation removes; it must
    // outlive the store.
    explicit HistoryStore(const std::filesystem::path& data_dir, EmbeddingCache* embeddings = nullptr);
    ~HistoryStore();
    HistoryStore(HistoryStore&&) noexcept;
    HistoryStore& operator=(HistoryStore&&) noexcept;

    int schema_version() const;

    // The same bytes twice give the same record: one row, one file.
    ImageRecord add_image(const NewImage& image);
    std::optional<ImageRecord> find_image(std::int64_t id) const;
    std::optional<ImageRecord> find_image_by_sha256(const std::string& sha256) const;

    std::int64_t create_conversation(std::int64_t image_id, const std::string& title,
                                     const std::string& settings_json = "{}");
    void rename_conversation(std::int64_t id, const std::string& title);
    void set_conversation_settings(std::int64_t id, const std::string& settings_json);
    // Removes the conversation and its messages; then its image (row, file, cached embeddings) when no
    // other conversation uses that image.
    DeletedConversation delete_conversation(std::int64_t id);
    std::optional<ConversationRecord> find_conversation(std::int64_t id) const;
    // Most recently updated first.
    std::vector<ConversationRecord> list_conversations(int limit = 1000, int offset = 0) const;

    // Returns once the message is committed: a crash after the return cannot lose it.
    MessageRecord append_message(std::int64_t conversation_id, const NewMessage& message);
    // Many at once in one transaction (imports, tests); all or none.
    std::vector<std::int64_t> append_messages(std::int64_t conversation_id, const std::vector<NewMessage>& messages);
    std::vector<MessageRecord> messages(std::int64_t conversation_id) const;

    // Whitespace-separated terms, all of which must occur (as substrings, ASCII case ignored) in a message
    // or a title. Title hits first, then messages, newest first, at most `limit` messages.
    std::vector<SearchHit> search(const std::string& query, int limit = 50) const;

    // "ok", or SQLite's list of problems.
    std::string integrity_check() const;
    const std::filesystem::path& images_dir() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace glm4v::app
