#include "aterm/test/sql.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <string_view>

namespace aterm::test {

namespace {

// A daemon may hold the write lock for a moment (a job's transaction): wait rather than fail.
constexpr int k_busy_timeout_ms = 5000;

// A postgresql:// or postgres:// URI (aterm::test::test_db on PostgreSQL) rather than a file.
bool is_postgres(const std::filesystem::path& db) {
  const std::string_view s = db.native();
  return s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0;
}

// The PostgreSQL forms of the two functions below; the database's own locks make a statement
// wait for a daemon's transaction, so no busy timeout is needed.
std::string pg_exec_sql(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  std::string out;
  if (PQstatus(conn) != CONNECTION_OK) {
    out = PQerrorMessage(conn);
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    const auto st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
      out = PQresultErrorMessage(res);
      if (out.empty()) out = "error";
    }
    PQclear(res);
  }
  PQfinish(conn);
  return out;
}

std::int64_t pg_query_int(const std::string& uri, const std::string& sql) {
  // Read-only, as the SQLite form opens its file.
  const char* const keywords[] = {"dbname", "options", nullptr};
  const char* const values[] = {uri.c_str(), "-c default_transaction_read_only=on", nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, 1);
  std::int64_t out = -1;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0 &&
        PQgetisnull(res, 0, 0) == 0) {
      const char* v = PQgetvalue(res, 0, 0);
      const int len = PQgetlength(res, 0, 0);
      std::int64_t n = 0;
      auto [end, ec] = std::from_chars(v, v + len, n);
      if (ec == std::errc() && end == v + len) out = n;
    }
    PQclear(res);
  }
  PQfinish(conn);
  return out;
}

}  // namespace

std::string exec_sql(const std::filesystem::path& db, const std::string& sql) {
  if (is_postgres(db)) return pg_exec_sql(db.native(), sql);
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
  if (is_postgres(db)) return pg_query_int(db.native(), sql);
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

std::string job_counts_differ(const std::filesystem::path& db, std::int64_t job_id) {
  // Recounted from the rows as docs/http-api.md ("Fleet jobs") defines a router's status,
  // independently of the store's own expression. One query when they agree (each call opens a
  // connection); the figures of each status only when they do not.
  const std::string id = std::to_string(job_id);
  const auto kept = [&](const std::string& status) {
    return "COALESCE((SELECT sum(n) FROM fleet_job_counts WHERE job_id = " + id +
           " AND status = " + status + "), 0)";
  };
  const auto counted = [&](const std::string& status) {
    return "(SELECT count(*) FROM fleet_job_devices j LEFT JOIN commands c ON c.id = "
           "j.command_id WHERE j.job_id = " +
           id +
           " AND CASE WHEN j.state = 'pending' THEN 'queued' WHEN j.state <> 'released' "
           "THEN j.state WHEN c.status IS NULL THEN 'cancelled' WHEN c.status IN ('queued', "
           "'sent') THEN 'sent' WHEN c.status = 'expired' THEN 'timed_out' ELSE c.status END = " +
           status + ")";
  };
  const char* const statuses[] = {"queued", "sent",      "succeeded",
                                  "failed", "timed_out", "cancelled"};
  std::string all;
  for (const char* status : statuses) {
    all += std::string(all.empty() ? "" : " UNION ALL ") + "SELECT '" + status + "' AS s";
  }
  if (query_int(db, "SELECT count(*) FROM (" + all + ") st WHERE " + kept("st.s") + " <> " +
                        counted("st.s")) == 0) {
    return "";
  }
  std::string out;
  for (const char* status : statuses) {
    const std::string quoted = std::string("'") + status + "'";
    const auto k = query_int(db, "SELECT " + kept(quoted));
    const auto c = query_int(db, "SELECT " + counted(quoted));
    if (k != c) {
      out += std::string(status) + ": kept " + std::to_string(k) + ", counted " +
             std::to_string(c) + "; ";
    }
  }
  return out.empty() ? "the recount failed" : out;
}

std::string sqlite_file_bytes(const std::filesystem::path& db) {
  std::string all;
  for (const char* suffix : {"", "-wal", "-journal"}) {
    std::ifstream in(db.string() + suffix, std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

}  // namespace aterm::test
