// The SQL seam the store is written against once (DESIGN.md section 8): a connection that
// prepares statements, binds parameters and reads typed columns, with one engine per database
// (store/sqlite: SQLite 3.40; store/postgres: libpq 15). Statement text uses `?` for
// parameters in both dialects (the PostgreSQL engine numbers them $1..$n); text that differs per
// dialect is chosen by the caller from connection::kind() (sql_dialect.h), never by an #ifdef.
// Failures throw db_error, which the transaction runner turns into a k_store status, so the many
// statements of one transaction read as straight-line code.
// Not thread-safe: one connection belongs to one transaction at a time (the runner's pool).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace aterm::cloud::sql {

enum class dialect { sqlite, postgres };

class db_error : public std::runtime_error {
 public:
  // `code`: SQLite's extended result code in decimal, or PostgreSQL's SQLSTATE.
  // `transient`: the connection was lost or the server asked for a retry (serialization failure,
  // deadlock, shutdown); the same transaction may succeed when run again on a fresh connection.
  db_error(const std::string& what, std::string code, bool transient = false)
      : std::runtime_error(what), code_(std::move(code)), transient_(transient) {}
  const std::string& code() const { return code_; }
  bool transient() const { return transient_; }

 private:
  std::string code_;
  bool transient_;
};

// The type of a bound parameter, for engines that type parameters at prepare (PostgreSQL):
// a NULL bound with `unknown` lets the server infer it from the statement.
enum class param_type { unknown, integer, text };

// One prepared statement of an engine. Parameters are 1-based, columns 0-based.
class statement {
 public:
  virtual ~statement() = default;
  virtual void bind_i64(int index, std::int64_t v) = 0;
  virtual void bind_text(int index, std::string_view v) = 0;
  virtual void bind_null(int index, param_type type) = 0;
  // Executes on the first call; true while a row is ready, false when done. Throws db_error.
  virtual bool step() = 0;
  // Rows the last completed execution inserted, updated or deleted.
  virtual int changes() const = 0;
  virtual bool is_null(int col) const = 0;
  virtual std::int64_t i64(int col) const = 0;
  virtual std::string text(int col) const = 0;
  // Ready for the next use: results dropped, bindings cleared. Never throws.
  virtual void reset() noexcept = 0;

  // Whether a query uses it now: a connection's cache drops only statements no query uses.
  bool in_use() const { return queries_ > 0; }

 private:
  friend class query;
  int queries_ = 0;
};

// One use of a cached statement (sequential binding); resets it when destroyed.
class query {
 public:
  explicit query(statement& s) : s_(&s) { ++s.queries_; }
  ~query() {
    s_->reset();
    --s_->queries_;
  }
  query(const query&) = delete;
  query& operator=(const query&) = delete;

  query& bind(std::int64_t v) {
    s_->bind_i64(next_++, v);
    return *this;
  }
  query& bind(int v) { return bind(static_cast<std::int64_t>(v)); }
  query& bind(std::size_t v) { return bind(static_cast<std::int64_t>(v)); }
  query& bind(std::string_view v) {
    s_->bind_text(next_++, v);
    return *this;
  }
  query& bind(const std::string& v) { return bind(std::string_view(v)); }
  query& bind(const char* v) { return bind(std::string_view(v)); }
  query& bind(const std::optional<std::int64_t>& v) {
    if (v) return bind(*v);
    s_->bind_null(next_++, param_type::integer);
    return *this;
  }
  query& bind(const std::optional<std::string>& v) {
    if (v) return bind(*v);
    s_->bind_null(next_++, param_type::text);
    return *this;
  }
  query& bind_null(param_type type = param_type::unknown) {
    s_->bind_null(next_++, type);
    return *this;
  }

  // True when a row is ready, false when done. Throws db_error.
  bool step() { return s_->step(); }
  // Runs to completion; returns the rows changed.
  int exec() {
    while (s_->step()) {
    }
    return s_->changes();
  }

  bool is_null(int col) const { return s_->is_null(col); }
  std::int64_t i64(int col) const { return s_->i64(col); }
  std::optional<std::int64_t> opt_i64(int col) const {
    return is_null(col) ? std::nullopt : std::optional(i64(col));
  }
  std::string text(int col) const { return s_->text(col); }

 private:
  statement* s_;
  int next_ = 1;
};

// How a write transaction reaches the disk.
enum class durability {
  // The commit is on the disk when it returns: every command, result, event, account and
  // access-log change.
  durable,
  // The commit may skip its flush (SQLite: synchronous NORMAL in WAL mode; PostgreSQL:
  // synchronous_commit off): a crash may lose it, never corrupt the database. Only for data
  // the devices send again anyway (presence and state snapshots).
  relaxed,
};

class connection {
 public:
  virtual ~connection() = default;
  virtual dialect kind() const = 0;

  // A statement prepared on first use and cached by its text. A cache of
  // limits::k_max_cached_statements texts first drops every statement no query uses (a long-lived
  // daemon meets many texts: the device list's filters alone make dozens), so only a caller
  // holding that many queries at once fails. Throws db_error.
  virtual query prepare(std::string_view sql) = 0;
  // Runs SQL text without parameters or results (schema, SAVEPOINT). Throws db_error.
  virtual void exec_script(const char* sql) = 0;

  // Transaction control, for the runner only. A write transaction excludes every other write
  // transaction on the same database, also from other processes (SQLite: BEGIN IMMEDIATE;
  // PostgreSQL: one transaction-scoped advisory lock), so the store's read-modify-write rules
  // (the chain head, failure counts, command claims) stay exact across instances. A read
  // transaction sees one snapshot and excludes nothing.
  virtual void begin(bool write, durability d) = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  // False once the engine knows the connection is unusable (the server went away); the pool
  // then opens a new one.
  virtual bool healthy() const = 0;
};

}  // namespace aterm::cloud::sql
