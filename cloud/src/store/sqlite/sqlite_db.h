// A thin owner of one SQLite connection: statements prepared once per SQL text and reused,
// sequential binding, typed columns. Failures throw db_error, which the transaction runner
// (transaction.h) catches around each public method of the ports and turns into a k_store status
// (the exception never leaves the store), so the many statements of one transaction read as
// straight-line code.
// Not thread-safe: the runner guards the connection with its mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace aterm::cloud::sqlite {

class db_error : public std::runtime_error {
 public:
  db_error(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }  // SQLite result code (extended)

 private:
  int code_;
};

// One use of a cached prepared statement; resets it and clears its bindings when destroyed.
class query {
 public:
  query(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~query();
  query(const query&) = delete;
  query& operator=(const query&) = delete;

  query& bind(std::int64_t v);
  query& bind(int v) { return bind(static_cast<std::int64_t>(v)); }
  query& bind(std::size_t v) { return bind(static_cast<std::int64_t>(v)); }
  query& bind(std::string_view v);
  query& bind(const std::string& v) { return bind(std::string_view(v)); }
  query& bind(const char* v) { return bind(std::string_view(v)); }
  query& bind(const std::optional<std::int64_t>& v);
  query& bind_null();

  // True when a row is ready, false when done. Throws db_error.
  bool step();
  // Runs to completion; returns sqlite3_changes().
  int exec();

  bool is_null(int col) const;
  std::int64_t i64(int col) const;
  std::optional<std::int64_t> opt_i64(int col) const;
  std::string text(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int next_ = 1;
};

class connection {
 public:
  // Opens (creating) the file. Throws db_error.
  explicit connection(const std::string& path);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // A statement prepared on first use and cached by its SQL text.
  query prepare(std::string_view sql);
  // Runs SQL text without results (schema, PRAGMA, BEGIN/COMMIT). Throws db_error.
  void exec_script(const char* sql);
  std::int64_t last_insert_rowid() const;
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

}  // namespace aterm::cloud::sqlite
