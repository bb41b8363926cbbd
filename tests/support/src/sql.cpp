#include "aterm/test/sql.h"

#include <sqlite3.h>

namespace aterm::test {

namespace {

// A daemon may hold the write lock for a moment (a job's transaction): wait rather than fail.
constexpr int k_busy_timeout_ms = 5000;

}  // namespace

std::string exec_sql(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  if (sqlite3_open(db.c_str(), &h) != SQLITE_OK) {
    std::string e = h ? sqlite3_errmsg(h) : "open failed";
    sqlite3_close(h);
    return e;
  }
  sqlite3_busy_timeout(h, k_busy_timeout_ms);
  char* err = nullptr;
  std::string out;
  if (sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    out = err ? err : "error";
    sqlite3_free(err);
  }
  sqlite3_close(h);
  return out;
}

std::int64_t query_int(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  std::int64_t out = -1;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(h, k_busy_timeout_ms);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      out = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return out;
}

}  // namespace aterm::test
