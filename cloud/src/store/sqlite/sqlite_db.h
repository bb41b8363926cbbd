// The SQLite engine of the SQL seam (sql/sql.h): one connection to the store's file, its
// statements prepared once per SQL text and reused, typed columns. Failures throw
// sql::db_error with SQLite's extended result code.
// Not thread-safe: one connection belongs to one transaction at a time (the runner's pool).
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "../sql/sql.h"

namespace aterm::cloud::sqlite {

using db_error = sql::db_error;

// One prepared statement; owned by its connection's cache.
class statement final : public sql::statement {
 public:
  statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~statement() override;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  void bind_i64(int index, std::int64_t v) override;
  void bind_text(int index, std::string_view v) override;
  void bind_null(int index, sql::param_type type) override;
  bool step() override;
  int changes() const override;
  bool is_null(int col) const override;
  std::int64_t i64(int col) const override;
  std::string text(int col) const override;
  void reset() noexcept override;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// How a connection to the store's file is opened (store_options).
struct options {
  // synchronous FULL (else NORMAL): commands and access log durable at commit.
  bool synchronous_full = true;
  // How long a statement waits for another connection's or process's lock.
  int busy_timeout_ms = 5000;
};

// The turns of this process's writers on one file, first come, first served (open_connection
// shares one per path): the store's pool holds one connection (store/engine.cpp), but a process
// may open the file more than once (two stores, a test beside the daemon's store). Readers need
// none: WAL lets them read beside the one writer. SQLite's own busy handler polls with sleeps of
// up to 100 ms, so a writer behind one that commits back to back (the bridge's group commit
// under load) would find the lock taken at every poll; here it waits its turn. Other processes
// on the file still meet the busy handler. Thread-safe.
class write_turns {
 public:
  // Waits for the caller's turn; false when it did not come within `timeout`.
  bool take(std::chrono::milliseconds timeout);
  void give() noexcept;
  // How many callers wait in take() now.
  std::size_t waiting() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable turn_;
  std::deque<std::uint64_t> waiting_;  // in arrival order (guarded by mu_)
  std::uint64_t next_ = 0;             // guarded by mu_
  bool taken_ = false;                 // guarded by mu_
};

class connection final : public sql::connection {
 public:
  // Opens (creating) the file in defensive mode with an untrusted schema, nothing else set
  // (open_connection below sets what the store needs). Throws db_error.
  explicit connection(const std::string& path);
  ~connection() override;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  sql::dialect kind() const override { return sql::dialect::sqlite; }
  sql::query prepare(std::string_view sql) override;
  void exec_script(const char* sql) override;
  // Write: BEGIN IMMEDIATE (the file's write lock at once, so two writers never deadlock on an
  // upgrade). Relaxed: synchronous NORMAL for this one transaction, put back at its end.
  void begin(bool write, sql::durability d) override;
  void commit() override;
  void rollback() noexcept override;
  bool healthy() const override { return true; }

  sqlite3* handle() const { return db_; }
  // A write transaction first waits for its turn among the connections sharing `turns` (at most
  // `timeout`, then a transient SQLITE_BUSY), then for SQLite's lock.
  void share_write_turns(std::shared_ptr<write_turns> turns, std::chrono::milliseconds timeout) {
    turns_ = std::move(turns);
    turn_timeout_ = timeout;
  }

 private:
  void give_turn() noexcept;

  // PRAGMA synchronous cannot change inside a transaction: restored after COMMIT or ROLLBACK.
  void restore_synchronous() noexcept;

  sqlite3* db_ = nullptr;
  std::map<std::string, std::unique_ptr<statement>, std::less<>> cache_;
  std::int64_t restore_synchronous_ = 0;  // the level to put back; 0: nothing to restore
  std::shared_ptr<write_turns> turns_;    // null: none
  std::chrono::milliseconds turn_timeout_{0};
  bool turn_taken_ = false;  // during a write transaction, with turns_
};

// Opens the store's file as every user of it does: foreign keys on, the write turns of the path
// (write_turns), busy_timeout for other processes on the file, WAL, the synchronous level of `o`,
// the page cache of limits.h. The schema is not touched (migrations.h). Throws db_error.
std::unique_ptr<sql::connection> open_connection(const std::string& path, const options& o);
// The write turns open_connection shares among the connections to `path`.
std::shared_ptr<write_turns> write_turns_of(const std::string& path);

}  // namespace aterm::cloud::sqlite
