#include "app/sqlite_db.h"

#include <sqlite3.h>

#include "engine/error.h"
#include "engine/log.h"

namespace glm4v::app::sqlite {
using engine::ErrorKind;

namespace {
// Long enough for the other process's longest transaction (an image insert, a migration).
constexpr int kBusyTimeoutMs = 10000;
} // namespace

Database::Database(const std::filesystem::path& path) : path_(path) {
    const int code = sqlite3_open_v2(path.c_str(), &db_,
                                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (code != SQLITE_OK) {
        const std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(code);
        sqlite3_close_v2(db_);
        db_ = nullptr;
        GLM4V_FAIL(ErrorKind::Io) << "cannot open " << path << ": " << message;
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    exec("PRAGMA foreign_keys = ON");
}

Database::~Database() { sqlite3_close_v2(db_); }

void Database::fail(int code, const std::string& doing) const {
    GLM4V_FAIL(ErrorKind::Io) << path_.filename().string() << ": " << doing << ": " << sqlite3_errmsg(db_) << " ("
                              << sqlite3_errstr(code) << ")";
}

void Database::exec(const std::string& sql) {
    char* message = nullptr;
    const int code = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    if (code != SQLITE_OK) {
        const std::string text = message ? message : sqlite3_errstr(code);
        sqlite3_free(message);
        GLM4V_FAIL(ErrorKind::Io) << path_.filename().string() << ": " << text << " (running: " << sql.substr(0, 80)
                                  << ")";
    }
}

Statement Database::prepare(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    const int code = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (code != SQLITE_OK) fail(code, "preparing \"" + sql.substr(0, 80) + "\"");
    return Statement(*this, stmt);
}

std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Database::changes() const { return sqlite3_changes(db_); }

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }

Statement& Statement::bind(int index, std::int64_t value) {
    if (const int code = sqlite3_bind_int64(stmt_, index, value); code != SQLITE_OK) db_->fail(code, "binding");
    return *this;
}

Statement& Statement::bind(int index, double value) {
    if (const int code = sqlite3_bind_double(stmt_, index, value); code != SQLITE_OK) db_->fail(code, "binding");
    return *this;
}

Statement& Statement::bind(int index, const std::string& text) {
    const int code = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (code != SQLITE_OK) db_->fail(code, "binding");
    return *this;
}

Statement& Statement::bind_blob(int index, const void* data, std::size_t size) {
    // A zero-length blob must still be a blob, not NULL: SQLite binds NULL for a null pointer.
    static const char empty = 0;
    const int code = sqlite3_bind_blob64(stmt_, index, size ? data : &empty, size, SQLITE_TRANSIENT);
    if (code != SQLITE_OK) db_->fail(code, "binding");
    return *this;
}

Statement& Statement::bind_null(int index) {
    if (const int code = sqlite3_bind_null(stmt_, index); code != SQLITE_OK) db_->fail(code, "binding");
    return *this;
}

bool Statement::step() {
    const int code = sqlite3_step(stmt_);
    if (code == SQLITE_ROW) return true;
    if (code == SQLITE_DONE) return false;
    db_->fail(code, std::string("running \"") + std::string(sqlite3_sql(stmt_)).substr(0, 80) + "\"");
}

void Statement::run() {
    while (step()) {
    }
}

void Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::column_int64(int index) const { return sqlite3_column_int64(stmt_, index); }
double Statement::column_double(int index) const { return sqlite3_column_double(stmt_, index); }

std::string Statement::column_text(int index) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
    return text ? std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index))) : std::string();
}

std::vector<std::uint8_t> Statement::column_blob(int index) const {
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, index));
    const int size = sqlite3_column_bytes(stmt_, index);
    return data ? std::vector<std::uint8_t>(data, data + size) : std::vector<std::uint8_t>();
}

bool Statement::column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
    if (done_) return;
    // Never throws from a destructor: a failed rollback leaves SQLite to roll back on the next open.
    if (sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr) != SQLITE_OK)
        engine::log_warn("Transaction: rollback failed: ", sqlite3_errmsg(db_.handle()));
}

void Transaction::commit() {
    db_.exec("COMMIT");
    done_ = true;
}

} // namespace glm4v::app::sqlite
