#pragma once
// A thin RAII layer over the SQLite C API for the history store: one connection, prepared statements,
// transactions that roll back on unwinding. Every failure is an engine::Error (ErrorKind::Io) that
// quotes SQLite's message. Internal to app/history_*; nothing outside app/ includes it.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace glm4v::app::sqlite {

class Statement;

class Database {
public:
    // Opens (creating if needed) with foreign keys on and a busy timeout, so a second process (the CLI
    // next to the GUI) waits for a lock instead of failing at once.
    explicit Database(const std::filesystem::path& path);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    void exec(const std::string& sql);
    Statement prepare(const std::string& sql);
    std::int64_t last_insert_rowid() const;
    int changes() const;
    const std::filesystem::path& path() const { return path_; }
    sqlite3* handle() { return db_; }

    [[noreturn]] void fail(int code, const std::string& doing) const;

private:
    sqlite3* db_ = nullptr;
    std::filesystem::path path_;
};

class Statement {
public:
    Statement(Database& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
    ~Statement();
    Statement(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement& operator=(Statement&&) = delete;

    // Bind by 1-based index; each returns *this so calls chain.
    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
    Statement& bind(int index, double value);
    Statement& bind(int index, const std::string& text);
    Statement& bind_blob(int index, const void* data, std::size_t size);
    Statement& bind_null(int index);

    // true while there is a row to read; false when done.
    bool step();
    // Runs a statement that returns no rows.
    void run();
    void reset();

    std::int64_t column_int64(int index) const;
    double column_double(int index) const;
    std::string column_text(int index) const;
    std::vector<std::uint8_t> column_blob(int index) const;
    bool column_is_null(int index) const;

private:
    Database* db_;
    sqlite3_stmt* stmt_;
};

// BEGIN IMMEDIATE on construction (takes the write lock up front, so a transaction never fails half way
// for want of it), ROLLBACK on destruction unless commit() ran.
class Transaction {
public:
    explicit Transaction(Database& db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    Database& db_;
    bool done_ = false;
};

} // namespace glm4v::app::sqlite
