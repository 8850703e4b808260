#include "app/history_store.h"

#include <chrono>
#include <climits>
#include <functional>
#include <unistd.h>

#include "app/atomic_file.h"
#include "app/embedding_cache.h"
#include "app/history_schema.h"
#include "app/history_search.h"
#include "app/paths.h"
#include "app/sha256.h"
#include "app/sqlite_db.h"
#include "engine/error.h"
#include "engine/log.h"

namespace glm4v::app {
namespace fs = std::filesystem;
using engine::ErrorKind;

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Image formats and the extension their files get; the format string goes into a file name, so only these.
const char* extension_for(const std::string& format) {
    if (format == "jpeg") return "jpg";
    if (format == "png") return "png";
    if (format == "webp") return "webp";
    if (format == "bmp") return "bmp";
    if (format == "tiff") return "tiff";
    GLM4V_FAIL(ErrorKind::InvalidInput) << "unknown image format '" << format << "'";
}

MessageRole role_from_name(const std::string& name) {
    return name == "assistant" ? MessageRole::Assistant : MessageRole::User;
}

std::vector<std::uint8_t> pack_token_ids(const std::vector<std::int64_t>& ids) {
    std::vector<std::uint8_t> blob;
    blob.reserve(ids.size() * 4);
    for (std::int64_t id : ids) {
        GLM4V_CHECK(id >= 0 && id <= INT32_MAX, ErrorKind::InvalidInput) << "token id " << id << " out of range";
        const auto value = static_cast<std::uint32_t>(id);
        for (int shift = 0; shift < 32; shift += 8) blob.push_back(static_cast<std::uint8_t>(value >> shift));
    }
    return blob;
}

std::vector<std::int64_t> unpack_token_ids(const std::vector<std::uint8_t>& blob) {
    std::vector<std::int64_t> ids(blob.size() / 4);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        std::uint32_t value = 0;
        for (int k = 3; k >= 0; --k) value = (value << 8) | blob[i * 4 + static_cast<std::size_t>(k)];
        ids[i] = value;
    }
    return ids;
}

// A message's columns, role to created_ms, bound from column `role_column` on: saving one message and staging many
// write the same columns.
void bind_message(sqlite::Statement& statement, int role_column, const NewMessage& message, std::int64_t created) {
    const int c = role_column;
    statement.bind(c, std::string(message_role_name(message.role))).bind(c + 1, message.text);
    if (message.token_ids.empty()) {
        statement.bind_null(c + 2);
    } else {
        const std::vector<std::uint8_t> blob = pack_token_ids(message.token_ids);
        statement.bind_blob(c + 2, blob.data(), blob.size());
    }
    statement.bind(c + 3, message.prompt_tokens).bind(c + 4, message.generated_tokens);
    statement.bind(c + 5, message.time_to_first_token_ms).bind(c + 6, message.tokens_per_second).bind(c + 7, created);
}

} // namespace

const char* message_role_name(MessageRole role) { return role == MessageRole::Assistant ? "assistant" : "user"; }

struct HistoryStore::Impl {
    Impl(const fs::path& data_dir, EmbeddingCache* cache)
        : db((ensure_dir(data_dir), data_dir / "history.db")), images_dir(data_dir / "images"), embeddings(cache) {
        ensure_dir(images_dir);
        {
            sqlite::Statement mode = db.prepare("PRAGMA journal_mode = WAL");
            GLM4V_CHECK(mode.step() && mode.column_text(0) == "wal", ErrorKind::Io)
                << db.path() << ": cannot switch to write-ahead logging";
        }
        // FULL: a commit is on disk, WAL included, before append_message returns; NORMAL would survive a
        // process crash but could lose the last messages to a power cut.
        db.exec("PRAGMA synchronous = FULL");
        register_history_functions(db);
        migrate_history_schema(db);
        sweep_images();
    }

    // Image files nothing refers to: temporaries of a writer that died, and files whose row never
    // committed (a crash between the file and the row). Only old ones, since another process may be
    // between those two steps right now.
    void sweep_images() {
        constexpr auto kGrace = std::chrono::hours(1);
        const auto now = fs::file_time_type::clock::now();
        std::error_code ec;
        std::vector<fs::path> doomed;
        for (const auto& entry : fs::directory_iterator(images_dir, ec)) {
            const auto written = entry.last_write_time(ec);
            if (ec || now - written < kGrace) continue;
            const std::string name = entry.path().filename().string();
            if (is_temporary_file_name(name)) {
                doomed.push_back(entry.path());
                continue;
            }
            sqlite::Statement known = db.prepare("SELECT 1 FROM images WHERE sha256 = ?");
            known.bind(1, entry.path().stem().string());
            if (!known.step()) doomed.push_back(entry.path());
        }
        for (const fs::path& path : doomed) {
            engine::log_info("HistoryStore: removing unreferenced ", path.filename().string());
            fs::remove(path, ec);
        }
    }

    fs::path image_path(const std::string& sha256, const std::string& format) const {
        return images_dir / (sha256 + "." + extension_for(format));
    }

    std::optional<ImageRecord> image_where(const std::string& condition, const std::function<void(sqlite::Statement&)>& bind) {
        sqlite::Statement query = db.prepare(
            "SELECT id, sha256, byte_size, format, width, height, thumbnail_png, created_ms FROM images WHERE " +
            condition);
        bind(query);
        if (!query.step()) return std::nullopt;
        ImageRecord record;
        record.id = query.column_int64(0);
        record.sha256 = query.column_text(1);
        record.byte_size = query.column_int64(2);
        record.format = query.column_text(3);
        record.width = static_cast<int>(query.column_int64(4));
        record.height = static_cast<int>(query.column_int64(5));
        record.thumbnail_png = query.column_blob(6);
        record.created_ms = query.column_int64(7);
        record.file = image_path(record.sha256, record.format);
        return record;
    }

    bool conversation_exists(std::int64_t id) {
        sqlite::Statement query = db.prepare("SELECT 1 FROM conversations WHERE id = ?");
        query.bind(1, id);
        return query.step();
    }

    std::int64_t insert_message(std::int64_t conversation_id, const NewMessage& message, std::int64_t created) {
        sqlite::Statement insert = db.prepare(
            "INSERT INTO messages (conversation_id, role, text, token_ids, prompt_tokens, generated_tokens, "
            "time_to_first_token_ms, tokens_per_second, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        insert.bind(1, conversation_id);
        bind_message(insert, 2, message, created);
        insert.run();
        return db.last_insert_rowid();
    }

    // The conversation just used becomes strictly the newest, even within one millisecond of another.
    void touch_conversation(std::int64_t id, std::int64_t when) {
        db.prepare("UPDATE conversations SET updated_ms = MAX(?, (SELECT MAX(updated_ms) + 1 FROM conversations)) "
                   "WHERE id = ?")
            .bind(1, when)
            .bind(2, id)
            .run();
    }

    mutable sqlite::Database db;
    fs::path images_dir;
    EmbeddingCache* embeddings;
};

HistoryStore::HistoryStore(const fs::path& data_dir, EmbeddingCache* embeddings)
    : impl_(std::make_unique<Impl>(data_dir, embeddings)) {}
HistoryStore::~HistoryStore() = default;
HistoryStore::HistoryStore(HistoryStore&&) noexcept = default;
HistoryStore& HistoryStore::operator=(HistoryStore&&) noexcept = default;

int HistoryStore::schema_version() const { return history_schema_version(impl_->db); }
const fs::path& HistoryStore::images_dir() const { return impl_->images_dir; }

ImageRecord HistoryStore::add_image(const NewImage& image) {
    GLM4V_CHECK(!image.file_bytes.empty(), ErrorKind::InvalidInput) << "add_image: the image has no bytes";
    GLM4V_CHECK(image.width > 0 && image.height > 0, ErrorKind::InvalidInput)
        << "add_image: bad size " << image.width << "x" << image.height;
    const std::string sha256 = sha256_hex(image.file_bytes.data(), image.file_bytes.size());
    const fs::path file = impl_->image_path(sha256, image.format);

    // The file goes first: a crash between the two steps leaves an unreferenced file, never a row
    // without its file. A file of the right size is the same content, since its name is its hash.
    std::error_code ec;
    const auto existing_size = fs::file_size(file, ec);
    if (ec || existing_size != image.file_bytes.size())
        write_file_atomically(file, image.file_bytes.data(), image.file_bytes.size());

    sqlite::Transaction transaction(impl_->db);
    sqlite::Statement insert = impl_->db.prepare(
        "INSERT OR IGNORE INTO images (sha256, byte_size, format, width, height, thumbnail_png, created_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)");
    insert.bind(1, sha256).bind(2, static_cast<std::int64_t>(image.file_bytes.size())).bind(3, image.format);
    insert.bind(4, image.width).bind(5, image.height);
    insert.bind_blob(6, image.thumbnail_png.data(), image.thumbnail_png.size()).bind(7, now_ms());
    insert.run();
    transaction.commit();

    std::optional<ImageRecord> record = find_image_by_sha256(sha256);
    GLM4V_CHECK(record.has_value(), ErrorKind::Io) << "add_image: image " << sha256 << " vanished after insert";
    return *record;
}

std::optional<ImageRecord> HistoryStore::find_image(std::int64_t id) const {
    return impl_->image_where("id = ?", [&](sqlite::Statement& s) { s.bind(1, id); });
}

std::optional<ImageRecord> HistoryStore::find_image_by_sha256(const std::string& sha256) const {
    return impl_->image_where("sha256 = ?", [&](sqlite::Statement& s) { s.bind(1, sha256); });
}

std::int64_t HistoryStore::create_conversation(std::int64_t image_id, const std::string& title,
                                               const std::string& settings_json) {
    sqlite::Transaction transaction(impl_->db);
    if (image_id != 0) {
        GLM4V_CHECK(find_image(image_id).has_value(), ErrorKind::InvalidInput) << "no image with id " << image_id;
    }
    const std::int64_t now = now_ms();
    sqlite::Statement insert = impl_->db.prepare(
        "INSERT INTO conversations (image_id, title, created_ms, updated_ms, settings_json) VALUES (?, ?, ?, ?, ?)");
    if (image_id != 0)
        insert.bind(1, image_id);
    else
        insert.bind_null(1);
    insert.bind(2, title).bind(3, now).bind(4, now).bind(5, settings_json);
    insert.run();
    const std::int64_t id = impl_->db.last_insert_rowid();
    transaction.commit();
    return id;
}

void HistoryStore::rename_conversation(std::int64_t id, const std::string& title) {
    sqlite::Transaction transaction(impl_->db);
    impl_->db.prepare("UPDATE conversations SET title = ? WHERE id = ?").bind(1, title).bind(2, id).run();
    GLM4V_CHECK(impl_->db.changes() == 1, ErrorKind::InvalidInput) << "no conversation with id " << id;
    transaction.commit();
}

void HistoryStore::set_conversation_settings(std::int64_t id, const std::string& settings_json) {
    sqlite::Transaction transaction(impl_->db);
    impl_->db.prepare("UPDATE conversations SET settings_json = ? WHERE id = ?").bind(1, settings_json).bind(2, id).run();
    GLM4V_CHECK(impl_->db.changes() == 1, ErrorKind::InvalidInput) << "no conversation with id " << id;
    transaction.commit();
}

DeletedConversation HistoryStore::delete_conversation(std::int64_t id) {
    DeletedConversation result;
    std::string image_format;
    {
        sqlite::Transaction transaction(impl_->db);
        sqlite::Statement find = impl_->db.prepare("SELECT image_id FROM conversations WHERE id = ?");
        find.bind(1, id);
        GLM4V_CHECK(find.step(), ErrorKind::InvalidInput) << "no conversation with id " << id;
        const std::int64_t image_id = find.column_is_null(0) ? 0 : find.column_int64(0);
        // Messages go by ON DELETE CASCADE, and their search entries with them by trigger.
        impl_->db.prepare("DELETE FROM conversations WHERE id = ?").bind(1, id).run();
        if (image_id != 0) {
            sqlite::Statement users = impl_->db.prepare("SELECT COUNT(*) FROM conversations WHERE image_id = ?");
            users.bind(1, image_id);
            users.step();
            if (users.column_int64(0) == 0) {
                if (std::optional<ImageRecord> image = find_image(image_id)) {
                    result.image_removed = true;
                    result.image_sha256 = image->sha256;
                    image_format = image->format;
                }
                impl_->db.prepare("DELETE FROM images WHERE id = ?").bind(1, image_id).run();
            }
        }
        transaction.commit();
    }
    // After the commit: a crash here leaves an orphan file (harmless), never a row whose file is gone.
    if (result.image_removed) {
        std::error_code ec;
        fs::remove(impl_->image_path(result.image_sha256, image_format), ec);
        if (ec) engine::log_warn("delete_conversation: cannot remove image file: ", ec.message());
        if (impl_->embeddings) impl_->embeddings->remove_image(result.image_sha256);
    }
    return result;
}

std::optional<ConversationRecord> HistoryStore::find_conversation(std::int64_t id) const {
    sqlite::Statement query = impl_->db.prepare(
        "SELECT id, image_id, title, settings_json, created_ms, updated_ms, "
        "(SELECT COUNT(*) FROM messages WHERE conversation_id = conversations.id) FROM conversations WHERE id = ?");
    query.bind(1, id);
    if (!query.step()) return std::nullopt;
    ConversationRecord record;
    record.id = query.column_int64(0);
    record.image_id = query.column_is_null(1) ? 0 : query.column_int64(1);
    record.title = query.column_text(2);
    record.settings_json = query.column_text(3);
    record.created_ms = query.column_int64(4);
    record.updated_ms = query.column_int64(5);
    record.message_count = query.column_int64(6);
    return record;
}

std::vector<ConversationRecord> HistoryStore::list_conversations(int limit, int offset) const {
    sqlite::Statement query = impl_->db.prepare(
        "SELECT id, image_id, title, settings_json, created_ms, updated_ms, "
        "(SELECT COUNT(*) FROM messages WHERE conversation_id = conversations.id) FROM conversations "
        "ORDER BY updated_ms DESC, id DESC LIMIT ? OFFSET ?");
    query.bind(1, limit).bind(2, offset);
    std::vector<ConversationRecord> records;
    while (query.step()) {
        ConversationRecord record;
        record.id = query.column_int64(0);
        record.image_id = query.column_is_null(1) ? 0 : query.column_int64(1);
        record.title = query.column_text(2);
        record.settings_json = query.column_text(3);
        record.created_ms = query.column_int64(4);
        record.updated_ms = query.column_int64(5);
        record.message_count = query.column_int64(6);
        records.push_back(std::move(record));
    }
    return records;
}

MessageRecord HistoryStore::append_message(std::int64_t conversation_id, const NewMessage& message) {
    MessageRecord record;
    static_cast<NewMessage&>(record) = message;
    record.conversation_id = conversation_id;
    record.created_ms = now_ms();
    sqlite::Transaction transaction(impl_->db);
    GLM4V_CHECK(impl_->conversation_exists(conversation_id), ErrorKind::InvalidInput)
        << "no conversation with id " << conversation_id;
    record.id = impl_->insert_message(conversation_id, message, record.created_ms);
    impl_->touch_conversation(conversation_id, record.created_ms);
    transaction.commit();
    return record;
}

std::vector<std::int64_t> HistoryStore::append_messages(std::int64_t conversation_id,
                                                        const std::vector<NewMessage>& messages) {
    const std::int64_t now = now_ms();
    std::vector<std::int64_t> ids;
    ids.reserve(messages.size());
    sqlite::Transaction transaction(impl_->db);
    GLM4V_CHECK(impl_->conversation_exists(conversation_id), ErrorKind::InvalidInput)
        << "no conversation with id " << conversation_id;
    // Staged in a temporary table, then moved by one INSERT ... SELECT: FTS5 flushes its pending index
    // data at every statement boundary inside a transaction, so one statement for all rows builds the
    // search index about twice as fast as a statement per row. Ids are given explicitly: we hold the
    // write lock, so max(id) + 1... are free.
    impl_->db.exec("CREATE TEMP TABLE IF NOT EXISTS staged_messages AS SELECT * FROM main.messages WHERE 0");
    impl_->db.exec("DELETE FROM temp.staged_messages");
    sqlite::Statement max_id = impl_->db.prepare("SELECT COALESCE(MAX(id), 0) FROM main.messages");
    max_id.step();
    std::int64_t next_id = max_id.column_int64(0) + 1;
    sqlite::Statement stage = impl_->db.prepare(
        "INSERT INTO temp.staged_messages (id, conversation_id, role, text, token_ids, prompt_tokens, "
        "generated_tokens, time_to_first_token_ms, tokens_per_second, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (const NewMessage& message : messages) {
        stage.reset();
        stage.bind(1, next_id).bind(2, conversation_id);
        bind_message(stage, 3, message, now);
        stage.run();
        ids.push_back(next_id++);
    }
    impl_->db.exec("INSERT INTO main.messages SELECT * FROM temp.staged_messages ORDER BY id");
    impl_->db.exec("DELETE FROM temp.staged_messages");
    impl_->touch_conversation(conversation_id, now);
    transaction.commit();
    return ids;
}

std::vector<MessageRecord> HistoryStore::messages(std::int64_t conversation_id) const {
    sqlite::Statement query = impl_->db.prepare(
        "SELECT id, role, text, token_ids, prompt_tokens, generated_tokens, time_to_first_token_ms, tokens_per_second, "
        "created_ms FROM messages WHERE conversation_id = ? ORDER BY id");
    query.bind(1, conversation_id);
    std::vector<MessageRecord> records;
    while (query.step()) {
        MessageRecord record;
        record.id = query.column_int64(0);
        record.conversation_id = conversation_id;
        record.role = role_from_name(query.column_text(1));
        record.text = query.column_text(2);
        record.token_ids = unpack_token_ids(query.column_blob(3));
        record.prompt_tokens = query.column_int64(4);
        record.generated_tokens = query.column_int64(5);
        record.time_to_first_token_ms = query.column_double(6);
        record.tokens_per_second = query.column_double(7);
        record.created_ms = query.column_int64(8);
        records.push_back(std::move(record));
    }
    return records;
}

std::vector<SearchHit> HistoryStore::search(const std::string& query, int limit) const {
    return search_history(impl_->db, query, limit);
}

std::string HistoryStore::integrity_check() const {
    sqlite::Statement query = impl_->db.prepare("PRAGMA integrity_check");
    std::string report;
    while (query.step()) {
        if (!report.empty()) report += "\n";
        report += query.column_text(0);
    }
    return report;
}

} // namespace glm4v::app
