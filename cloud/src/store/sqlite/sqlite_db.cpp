#include "sqlite_db.h"

#include <algorithm>

#include "aterm/cloud/limits.h"

namespace aterm::cloud::sqlite {

namespace {

// Another connection holds the lock past the busy timeout: the same transaction may succeed
// when run again (the transaction runner retries it).
bool is_transient(int extended_code) {
  const int primary = extended_code & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

[[noreturn]] void fail(sqlite3* db, const std::string& call, int rc) {
  const int code = db ? sqlite3_extended_errcode(db) : rc;
  throw db_error(call + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)), std::to_string(code),
                 is_transient(code));
}

// PRAGMA synchronous values.
constexpr std::int64_t k_synchronous_normal = 1;

}  // namespace

statement::~statement() {
  sqlite3_finalize(stmt_);
}

void statement::bind_i64(int index, std::int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, index, v);
  if (rc != SQLITE_OK) fail(db_, "sqlite3_bind_int64", rc);
}

void statement::bind_text(int index, std::string_view v) {
  int rc = sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) fail(db_, "sqlite3_bind_text64", rc);
}

void statement::bind_null(int index, sql::param_type) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) fail(db_, "sqlite3_bind_null", rc);
}

bool statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, std::string("sqlite3_step(") + sqlite3_sql(stmt_) + ")", rc);
}

int statement::changes() const {
  return sqlite3_changes(db_);
}

bool statement::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::int64_t statement::i64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

std::string statement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

void statement::reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
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
    throw db_error(msg, std::to_string(rc));
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
    throw db_error("sqlite3_db_config(" + path + "): defensive mode refused",
                   std::to_string(SQLITE_ERROR));
  }
}

connection::~connection() {
  give_turn();
  cache_.clear();  // statements are finalized before the connection closes
  sqlite3_close(db_);
}

sql::query connection::prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    if (cache_.size() >= limits::k_max_cached_statements) {
      std::erase_if(cache_, [](const auto& e) { return !e.second->in_use(); });
    }
    if (cache_.size() >= limits::k_max_cached_statements) {
      throw db_error("statement cache full: every statement is in use",
                     std::to_string(SQLITE_ERROR));
    }
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) fail(db_, "sqlite3_prepare_v3(" + std::string(sql) + ")", rc);
    it = cache_.emplace(std::string(sql), std::make_unique<statement>(db_, stmt)).first;
  }
  return sql::query(*it->second);
}

void connection::exec_script(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = std::string("sqlite3_exec: ") + (err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    const int code = sqlite3_extended_errcode(db_);
    throw db_error(msg, std::to_string(code), is_transient(code));
  }
}

bool write_turns::take(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  const std::uint64_t mine = next_++;
  waiting_.push_back(mine);
  const bool now = turn_.wait_for(lk, timeout, [&] { return !taken_ && waiting_.front() == mine; });
  waiting_.erase(std::find(waiting_.begin(), waiting_.end(), mine));
  if (now) taken_ = true;
  lk.unlock();
  if (!now) turn_.notify_all();  // the next one may be first now
  return now;
}

std::size_t write_turns::waiting() const {
  std::lock_guard lk(mu_);
  return waiting_.size();
}

void write_turns::give() noexcept {
  {
    std::lock_guard lk(mu_);
    taken_ = false;
  }
  turn_.notify_all();
}

void connection::give_turn() noexcept {
  if (!turn_taken_) return;
  turn_taken_ = false;
  turns_->give();
}

void connection::begin(bool write, sql::durability d) {
  // The level is lowered before the write turn is taken, so that nothing between taking the
  // turn and BEGIN can fail without giving it back.
  if (d == sql::durability::relaxed) {
    std::int64_t level = k_synchronous_normal;
    {
      auto q = prepare("PRAGMA synchronous");
      if (q.step()) level = q.i64(0);
    }
    if (level > k_synchronous_normal) {
      exec_script("PRAGMA synchronous = NORMAL");
      restore_synchronous_ = level;
    }
  }
  try {
    if (write && turns_) {
      if (!turns_->take(turn_timeout_)) {
        throw db_error("database is locked: no write turn within the busy timeout",
                       std::to_string(SQLITE_BUSY), true);
      }
      turn_taken_ = true;
    }
    exec_script(write ? "BEGIN IMMEDIATE" : "BEGIN");
  } catch (...) {
    restore_synchronous();
    give_turn();
    throw;
  }
}

void connection::commit() {
  exec_script("COMMIT");  // a failure is followed by rollback(), which gives the turn
  restore_synchronous();
  give_turn();
}

void connection::rollback() noexcept {
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  restore_synchronous();
  give_turn();
}

void connection::restore_synchronous() noexcept {
  if (restore_synchronous_ == 0) return;
  const std::string restore = "PRAGMA synchronous = " + std::to_string(restore_synchronous_);
  sqlite3_exec(db_, restore.c_str(), nullptr, nullptr, nullptr);
  restore_synchronous_ = 0;
}

// One write_turns per file path while a connection to it lives.
std::shared_ptr<write_turns> write_turns_of(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<write_turns>> by_path;
  std::lock_guard lk(mu);
  std::erase_if(by_path, [](const auto& e) { return e.second.expired(); });
  auto& slot = by_path[path];
  auto turns = slot.lock();
  if (!turns) {
    turns = std::make_shared<write_turns>();
    slot = turns;
  }
  return turns;
}

std::unique_ptr<sql::connection> open_connection(const std::string& path, const options& o) {
  auto db = std::make_unique<connection>(path);
  db->share_write_turns(write_turns_of(path), std::chrono::milliseconds(o.busy_timeout_ms));
  db->exec_script("PRAGMA foreign_keys = ON");
  sqlite3_busy_timeout(db->handle(), o.busy_timeout_ms);
  db->exec_script("PRAGMA journal_mode = WAL");
  db->exec_script(("PRAGMA cache_size = -" + std::to_string(limits::k_sqlite_cache_kib)).c_str());
  db->exec_script(o.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  return db;
}

}  // namespace aterm::cloud::sqlite
