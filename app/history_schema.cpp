#include "app/history_schema.h"

#include <sqlite3.h>

#include "app/search_grams.h"
#include "app/sqlite_db.h"
#include "engine/error.h"
#include "engine/log.h"

namespace glm4v::app {
using engine::ErrorKind;

namespace {

// Version 1 as it shipped. Never edit a migration once released: later changes get a new one.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE images (
    id            INTEGER PRIMARY KEY,
    sha256        TEXT    NOT NULL UNIQUE,
    byte_size     INTEGER NOT NULL,
    format        TEXT    NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    thumbnail_png BLOB,
    created_ms    INTEGER NOT NULL
);
CREATE TABLE conversations (
    id            INTEGER PRIMARY KEY,
    image_id      INTEGER REFERENCES images(id),
    title         TEXT    NOT NULL DEFAULT '',
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL,
    settings_json TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX conversations_by_image   ON conversations(image_id);
CREATE INDEX conversations_by_updated ON conversations(updated_ms);
CREATE TABLE messages (
    id                     INTEGER PRIMARY KEY,
    conversation_id        INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role                   TEXT    NOT NULL CHECK (role IN ('user', 'assistant')),
    text                   TEXT    NOT NULL,
    token_ids              BLOB,
    prompt_tokens          INTEGER NOT NULL DEFAULT 0,
    generated_tokens       INTEGER NOT NULL DEFAULT 0,
    time_to_first_token_ms REAL,
    tokens_per_second      REAL,
    created_ms             INTEGER NOT NULL
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
)sql";

// The trigram table reads its text from `messages` (external content), so the text is stored once.
// The gram table is contentless with detail=none: it only has to answer "which rows hold this token".
constexpr const char* kSchemaV2 = R"sql(
CREATE VIRTUAL TABLE message_trigrams USING fts5(text, content='messages', content_rowid='id', tokenize='trigram');
CREATE VIRTUAL TABLE message_grams USING fts5(grams, content='', detail='none', tokenize='ascii');
CREATE TRIGGER messages_index_insert AFTER INSERT ON messages BEGIN
    INSERT INTO message_trigrams(rowid, text) VALUES (new.id, new.text);
    INSERT INTO message_grams(rowid, grams) VALUES (new.id, glm4v_search_grams(new.text));
END;
CREATE TRIGGER messages_index_delete AFTER DELETE ON messages BEGIN
    INSERT INTO message_trigrams(message_trigrams, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO message_grams(message_grams, rowid, grams) VALUES ('delete', old.id, glm4v_search_grams(old.text));
END;
CREATE TRIGGER messages_index_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO message_trigrams(message_trigrams, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO message_grams(message_grams, rowid, grams) VALUES ('delete', old.id, glm4v_search_grams(old.text));
    INSERT INTO message_trigrams(rowid, text) VALUES (new.id, new.text);
    INSERT INTO message_grams(rowid, grams) VALUES (new.id, glm4v_search_grams(new.text));
END;
INSERT INTO message_trigrams(message_trigrams) VALUES ('rebuild');
INSERT INTO message_grams(rowid, grams) SELECT id, glm4v_search_grams(text) FROM messages;
)sql";

constexpr const char* kMigrations[] = {kSchemaV1, kSchemaV2};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kHistorySchemaVersion);

void search_grams_function(sqlite3_context* context, int, sqlite3_value** argv) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
    if (!text) {
        sqlite3_result_text(context, "", 0, SQLITE_STATIC);
        return;
    }
    try {
        const std::string grams =
            search_gram_tokens(std::string(text, static_cast<std::size_t>(sqlite3_value_bytes(argv[0]))));
        sqlite3_result_text64(context, grams.data(), grams.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    } catch (const std::bad_alloc&) {
        sqlite3_result_error_nomem(context);
    }
}

} // namespace

void register_history_functions(sqlite::Database& db) {
    const int code = sqlite3_create_function_v2(db.handle(), "glm4v_search_grams", 1,
                                                SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                                                search_grams_function, nullptr, nullptr, nullptr);
    if (code != SQLITE_OK) db.fail(code, "registering glm4v_search_grams");
}

int history_schema_version(sqlite::Database& db) {
    sqlite::Statement query = db.prepare("PRAGMA user_version");
    return query.step() ? static_cast<int>(query.column_int64(0)) : 0;
}

void migrate_history_schema(sqlite::Database& db) {
    for (;;) {
        sqlite::Transaction transaction(db);
        // Read inside the write lock: another process may have migrated while we waited for it.
        const int version = history_schema_version(db);
        GLM4V_CHECK(version >= 0 && version <= kHistorySchemaVersion, ErrorKind::Unsupported)
            << db.path() << " has history schema version " << version << ", newer than this glm4v-desktop ("
            << kHistorySchemaVersion << "); use a newer glm4v-desktop or move the file away";
        if (version == kHistorySchemaVersion) return;
        if (version > 0) engine::log_info("migrate_history_schema: ", db.path(), " from version ", version);
        db.exec(kMigrations[version]);
        db.exec("PRAGMA user_version = " + std::to_string(version + 1));
        transaction.commit();
    }
}

} // namespace glm4v::app
