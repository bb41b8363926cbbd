#include "sqlite_db.h"

#include "aterm/cloud/limits.h"

namespace aterm::cloud::sqlite {

namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& call, int rc) {
  throw db_error(call + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)),
                 db ? sqlite3_extended_errcode(db) : rc);
}

}  // namespace

query::~query() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

query& query::bind(std::int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, next_++, v);
  if (rc != SQLITE_OK) fail(db_, "sqlite3_bind_int64", rc);
  return *this;
}

query& query::bind(std::string_view v) {
  int rc = sqlite3_bind_text64(stmt_, next_++, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) fail(db_, "sqlite3_bind_text64", rc);
  return *this;
}

query& query::bind(const std::optional<std::int64_t>& v) {
  return v ? bind(*v) : bind_null();
}

query& query::bind_null() {
  int rc = sqlite3_bind_null(stmt_, next_++);
  if (rc != SQLITE_OK) fail(db_, "sqlite3_bind_null", rc);
  return *this;
}

bool query::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, std::string("sqlite3_step(") + sqlite3_sql(stmt_) + ")", rc);
}

int query::exec() {
  while (step()) {
  }
  return sqlite3_changes(db_);
}

bool query::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::int64_t query::i64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

std::optional<std::int64_t> query::opt_i64(int col) const {
  if (is_null(col)) return std::nullopt;
  return i64(col);
}

std::string query::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

connection::connection(const std::string& path) {
  int rc =
      sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg =
        "sqlite3_open_v2(" + path + "): " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close(db_);
    db_ = nullptr;
    throw db_error(msg, rc);
  }
  sqlite3_extended_result_codes(db_, 1);
  // Defensive: no writable_schema, no journal_mode=OFF, no writes to shadow tables, so SQL alone
  // cannot corrupt the file or rewrite the schema's text. Untrusted schema: views and triggers
  // found in the file (a planted one included) may call only functions marked innocuous.
  int on = 0;
  int off = 1;
  if (sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, &on) != SQLITE_OK || on != 1 ||
      sqlite3_db_config(db_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &off) != SQLITE_OK || off != 0) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw db_error("sqlite3_db_config(" + path + "): defensive mode refused", SQLITE_ERROR);
  }
}

connection::~connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

query connection::prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    if (cache_.size() >= limits::k_max_cached_statements) {
      throw db_error("statement cache full", SQLITE_ERROR);
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) fail(db_, "sqlite3_prepare_v3(" + std::string(sql) + ")", rc);
    it = cache_.emplace(std::string(sql), stmt).first;
  }
  return query(db_, it->second);
}

void connection::exec_script(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = std::string("sqlite3_exec: ") + (err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    throw db_error(msg, sqlite3_extended_errcode(db_));
  }
}

std::int64_t connection::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

}  // namespace aterm::cloud::sqlite
