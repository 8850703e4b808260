#pragma once
// The history database's schema and its forward migrations (docs/history.md). The version lives in
// `PRAGMA user_version`; each migration runs in its own transaction together with the version bump, so
// a crash leaves the database at the old version or the new one, never between.

namespace glm4v::app::sqlite {
class Database;
}

namespace glm4v::app {

// 1: images, conversations, messages.
// 2: full-text search: FTS5 trigram over message text plus the 1-2 character gram index (search_grams.h),
//    kept in step by triggers, and filled from the rows a version 1 database already holds.
constexpr int kHistorySchemaVersion = 2;

// Registers the SQL functions the schema's triggers call; needed on every connection before any write.
void register_history_functions(sqlite::Database& db);

// Brings an empty or older database to kHistorySchemaVersion. Throws ErrorKind::Unsupported for a
// database written by a newer version of the app, which this one must not touch.
void migrate_history_schema(sqlite::Database& db);

int history_schema_version(sqlite::Database& db);

} // namespace glm4v::app
