#include "postgres/pg_connection.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "aterm/cloud/limits.h"

namespace aterm::cloud::postgres {

namespace {

// Type OIDs of pg_type (fixed since PostgreSQL 7): parameters are declared with them at PREPARE,
// and a boolean column reads as 0 or 1.
constexpr Oid k_unknown_oid = 0;
constexpr Oid k_bool_oid = 16;
constexpr Oid k_int8_oid = 20;
constexpr Oid k_text_oid = 25;

// SQLSTATEs the engine itself reports.
constexpr const char* k_unable_to_connect = "08001";
constexpr const char* k_connection_failure = "08006";
constexpr const char* k_transaction_rollback = "40000";
constexpr const char* k_invalid_text = "22P02";
constexpr const char* k_bad_character = "22021";
constexpr const char* k_undefined_parameter = "42P02";
constexpr const char* k_not_in_state = "55000";
constexpr const char* k_too_many = "54000";
constexpr const char* k_internal = "XX000";

// How much of a statement's text an error quotes: enough to find it in the store's source.
constexpr std::size_t k_quoted_sql = 120;

// Class 08 (connection exception), serialization failure, deadlock, and the server going down
// (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now): the same work may
// succeed on a fresh connection.
bool is_transient(std::string_view code) {
  return code.substr(0, 2) == "08" || code == "40001" || code == "40P01" || code == "57P01" ||
         code == "57P02" || code == "57P03";
}

bool is_identifier_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || c == '_' || u >= 0x80;
}

std::string percent_decoded(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Every form in which the URI's passwords may be echoed by libpq: the userinfo's password and a
// password= or sslpassword= parameter, as written and percent-decoded, and what libpq parsed.
std::vector<std::string> secrets_of(const std::string& uri) {
  std::vector<std::string> raw;
  const auto scheme_end = uri.find("://");
  if (scheme_end != std::string::npos) {
    const auto start = scheme_end + 3;
    const auto end = uri.find_first_of("/?#", start);
    const std::string authority = uri.substr(start, end == std::string::npos ? end : end - start);
    const auto at = authority.rfind('@');
    if (at != std::string::npos) {
      const auto colon = authority.find(':');
      if (colon < at) raw.push_back(authority.substr(colon + 1, at - colon - 1));
    }
  }
  const auto query = uri.find('?');
  if (query != std::string::npos) {
    std::string_view rest = std::string_view(uri).substr(query + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      for (std::string_view key : {"password=", "sslpassword="}) {
        if (pair.substr(0, key.size()) == key) raw.emplace_back(pair.substr(key.size()));
      }
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    }
  }
  std::vector<std::string> out;
  for (const auto& r : raw) {
    out.push_back(r);
    out.push_back(percent_decoded(r));
  }
  char* err = nullptr;
  if (PQconninfoOption* opts = PQconninfoParse(uri.c_str(), &err)) {
    for (auto* o = opts; o->keyword != nullptr; ++o) {
      const std::string_view key = o->keyword;
      if ((key == "password" || key == "sslpassword") && o->val != nullptr)
        out.emplace_back(o->val);
    }
    PQconninfoFree(opts);
  }
  PQfreemem(err);
  std::vector<std::string> secrets;
  for (auto& s : out) {
    if (!s.empty()) secrets.push_back(std::move(s));
  }
  return secrets;
}

std::string redacted(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) {
    for (auto at = text.find(s); at != std::string::npos; at = text.find(s, at + 3)) {
      text.replace(at, s.size(), "***");
    }
  }
  return text;
}

// libpq's messages span lines ("server closed the connection unexpectedly\n\tThis probably
// means ..."): one line, so a log line stays one line.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string quoted(std::string_view sql) {
  std::string s = one_line(std::string(sql.substr(0, k_quoted_sql)));
  return sql.size() > k_quoted_sql ? s + "..." : s;
}

class pg_connection;

class pg_statement final : public sql::statement {
 public:
  pg_statement(pg_connection& owner, std::string text, int params)
      : owner_(owner),
        text_(std::move(text)),
        values_(static_cast<std::size_t>(params)),
        types_(static_cast<std::size_t>(params), k_unknown_oid) {}
  ~pg_statement() override { PQclear(result_); }
  pg_statement(const pg_statement&) = delete;
  pg_statement& operator=(const pg_statement&) = delete;

  void bind_i64(int index, std::int64_t v) override { set(index, std::to_string(v), k_int8_oid); }
  void bind_text(int index, std::string_view v) override;
  void bind_null(int index, sql::param_type type) override;
  bool step() override;
  int changes() const override { return changes_; }
  bool is_null(int col) const override;
  std::int64_t i64(int col) const override;
  std::string text(int col) const override;
  void reset() noexcept override;
  const std::string& numbered_text() const { return text_; }

 private:
  void set(int index, std::optional<std::string> value, Oid type);
  // The current row's cell; throws db_error without a current row or for a column past the end.
  void check_cell(int col) const;

  pg_connection& owner_;
  std::string text_;  // with $1..$n
  std::vector<std::optional<std::string>> values_;
  std::vector<Oid> types_;
  PGresult* result_ = nullptr;
  bool executed_ = false;
  int row_ = -1;
  int rows_ = 0;
  int changes_ = 0;
};

class pg_connection final : public sql::connection {
 public:
  explicit pg_connection(const std::string& uri);
  ~pg_connection() override;
  pg_connection(const pg_connection&) = delete;
  pg_connection& operator=(const pg_connection&) = delete;

  sql::dialect kind() const override { return sql::dialect::postgres; }
  sql::query prepare(std::string_view sql) override;
  void exec_script(const char* sql) override;
  void begin(bool write, sql::durability d) override;
  void commit() override;
  void rollback() noexcept override;
  bool healthy() const override { return PQstatus(conn_) == CONNECTION_OK; }

  // Runs `text` (numbered parameters) with `values` typed `types`, preparing it on the server at
  // the first use of this text with these types. Returns a result with rows or a command status.
  PGresult* execute(const std::string& text, const std::vector<std::optional<std::string>>& values,
                    const std::vector<Oid>& types);
  [[noreturn]] void fail(PGresult* res, std::string_view sql) const;
  [[noreturn]] void fail(const char* code, const std::string& message) const;

 private:
  // PQexec of text without parameters; throws db_error unless it completed.
  PGresult* exec_checked(const char* sql);
  // Drops the cached statements no query uses, and their statements on the server.
  void drop_unused_statements();

  PGconn* conn_ = nullptr;
  std::vector<std::string> secrets_;
  std::map<std::string, std::unique_ptr<pg_statement>, std::less<>> statements_;
  // Server-side statement names by numbered text + '\0' + parameter types.
  std::unordered_map<std::string, std::string> prepared_;
  std::uint64_t prepared_count_ = 0;  // names are never used twice, also after a DEALLOCATE
};

// ---- pg_statement ----

void pg_statement::set(int index, std::optional<std::string> value, Oid type) {
  if (index < 1 || static_cast<std::size_t>(index) > values_.size()) {
    owner_.fail(k_undefined_parameter, "parameter " + std::to_string(index) + " of " +
                                           std::to_string(values_.size()) +
                                           " bound in: " + quoted(text_));
  }
  values_[static_cast<std::size_t>(index - 1)] = std::move(value);
  types_[static_cast<std::size_t>(index - 1)] = type;
}

void pg_statement::bind_text(int index, std::string_view v) {
  // Parameters travel as C strings, and PostgreSQL text cannot hold NUL: refuse rather than cut.
  if (v.find('\0') != std::string_view::npos) {
    owner_.fail(k_bad_character, "parameter " + std::to_string(index) +
                                     " holds a NUL character in: " + quoted(text_));
  }
  set(index, std::string(v), k_text_oid);
}

void pg_statement::bind_null(int index, sql::param_type type) {
  const Oid oid = type == sql::param_type::integer ? k_int8_oid
                  : type == sql::param_type::text  ? k_text_oid
                                                   : k_unknown_oid;
  set(index, std::nullopt, oid);
}

bool pg_statement::step() {
  if (!executed_) {
    PQclear(result_);
    result_ = nullptr;
    result_ = owner_.execute(text_, values_, types_);
    executed_ = true;
    row_ = -1;
    rows_ = PQresultStatus(result_) == PGRES_TUPLES_OK ? PQntuples(result_) : 0;
    const char* tuples = PQcmdTuples(result_);
    changes_ = 0;
    if (tuples != nullptr) {
      std::from_chars(tuples, tuples + std::char_traits<char>::length(tuples), changes_);
    }
  }
  if (row_ + 1 < rows_) {
    ++row_;
    return true;
  }
  row_ = rows_;
  return false;
}

void pg_statement::check_cell(int col) const {
  if (result_ == nullptr || row_ < 0 || row_ >= rows_) {
    owner_.fail(k_not_in_state, "no current row in: " + quoted(text_));
  }
  if (col < 0 || col >= PQnfields(result_)) {
    owner_.fail(k_not_in_state, "column " + std::to_string(col) + " of " +
                                    std::to_string(PQnfields(result_)) + " in: " + quoted(text_));
  }
}

bool pg_statement::is_null(int col) const {
  check_cell(col);
  return PQgetisnull(result_, row_, col) != 0;
}

std::int64_t pg_statement::i64(int col) const {
  // NULL reads as 0, as SQLite's column_int64 does; is_null() tells them apart.
  if (is_null(col)) return 0;
  const char* v = PQgetvalue(result_, row_, col);
  const int len = PQgetlength(result_, row_, col);
  if (PQftype(result_, col) == k_bool_oid) return v[0] == 't' ? 1 : 0;
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(v, v + len, out);
  if (ec != std::errc() || end != v + len) {
    // The value itself is not quoted: it may be anything a row holds.
    owner_.fail(k_invalid_text, "column " + std::to_string(col) + " (type " +
                                    std::to_string(PQftype(result_, col)) +
                                    ") is not an integer in: " + quoted(text_));
  }
  return out;
}

std::string pg_statement::text(int col) const {
  if (is_null(col)) return {};
  const char* v = PQgetvalue(result_, row_, col);
  if (PQftype(result_, col) == k_bool_oid) return v[0] == 't' ? "1" : "0";
  return std::string(v, static_cast<std::size_t>(PQgetlength(result_, row_, col)));
}

void pg_statement::reset() noexcept {
  PQclear(result_);
  result_ = nullptr;
  executed_ = false;
  row_ = -1;
  rows_ = 0;
  for (auto& v : values_) v.reset();
  for (auto& t : types_) t = k_unknown_oid;
}

// ---- pg_connection ----

pg_connection::pg_connection(const std::string& uri) : secrets_(secrets_of(uri)) {
  // Earlier entries are defaults the URI may override; client_encoding comes after it, since
  // the store reads and writes UTF-8 only.
  const char* const keywords[] = {"connect_timeout", "application_name", "dbname",
                                  "client_encoding", nullptr};
  const char* const values[] = {"10", "aterm-cloud", uri.c_str(), "UTF8", nullptr};
  conn_ = PQconnectdbParams(keywords, values, 1);
  if (conn_ == nullptr) throw sql::db_error("postgres: out of memory", k_internal, true);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = redacted(one_line(PQerrorMessage(conn_)), secrets_);
    PQfinish(conn_);
    conn_ = nullptr;
    throw sql::db_error("postgres: cannot connect: " + message, k_unable_to_connect, true);
  }
  // Notices (e.g. "relation already exists, skipping") are not errors and go nowhere.
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
}

pg_connection::~pg_connection() {
  statements_.clear();
  PQfinish(conn_);
}

void pg_connection::fail(const char* code, const std::string& message) const {
  throw sql::db_error(redacted("postgres: " + message, secrets_), code, is_transient(code));
}

void pg_connection::fail(PGresult* res, std::string_view sql) const {
  std::string code;
  std::string message;
  if (res != nullptr) {
    if (const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) code = s;
    if (const char* m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) message = one_line(m);
    PQclear(res);
  }
  if (message.empty()) message = one_line(PQerrorMessage(conn_));
  const bool lost = PQstatus(conn_) != CONNECTION_OK;
  if (code.empty()) code = lost ? k_connection_failure : k_internal;
  throw sql::db_error(
      redacted("postgres: " + message + " (SQLSTATE " + code + ") in: " + quoted(sql), secrets_),
      code, lost || is_transient(code));
}

PGresult* pg_connection::exec_checked(const char* sql) {
  PGresult* res = PQexec(conn_, sql);
  const auto st = PQresultStatus(res);
  if (res == nullptr ||
      (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)) {
    fail(res, sql);
  }
  return res;
}

sql::query pg_connection::prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    if (statements_.size() >= limits::k_max_cached_statements) drop_unused_statements();
    if (statements_.size() >= limits::k_max_cached_statements) {
      fail(k_too_many, "statement cache full, every statement in use, at: " + quoted(sql));
    }
    int count = 0;
    std::string text = number_parameters(sql, count);
    it = statements_
             .emplace(std::string(sql),
                      std::make_unique<pg_statement>(*this, std::move(text), count))
             .first;
  }
  return sql::query(*it->second);
}

void pg_connection::drop_unused_statements() {
  std::unordered_set<std::string> dropped;  // numbered texts
  std::erase_if(statements_, [&](const auto& e) {
    if (e.second->in_use()) return false;
    dropped.insert(e.second->numbered_text());
    return true;
  });
  std::string deallocate;
  std::erase_if(prepared_, [&](const auto& e) {
    if (!dropped.contains(e.first.substr(0, e.first.find('\0')))) return false;
    deallocate += "DEALLOCATE " + e.second + "; ";
    return true;
  });
  if (!deallocate.empty()) PQclear(exec_checked(deallocate.c_str()));
}

PGresult* pg_connection::execute(const std::string& text,
                                 const std::vector<std::optional<std::string>>& values,
                                 const std::vector<Oid>& types) {
  std::string key = text;
  key.push_back('\0');
  for (Oid t : types) key += std::to_string(t) + ",";
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    std::string name = "aterm_" + std::to_string(++prepared_count_);
    PGresult* res =
        PQprepare(conn_, name.c_str(), text.c_str(), static_cast<int>(types.size()), types.data());
    if (PQresultStatus(res) != PGRES_COMMAND_OK) fail(res, text);
    PQclear(res);
    it = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  std::vector<const char*> params;
  params.reserve(values.size());
  for (const auto& v : values) params.push_back(v ? v->c_str() : nullptr);
  PGresult* res = PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()),
                                 params.data(), nullptr, nullptr, 0);
  const auto st = PQresultStatus(res);
  if (res == nullptr || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) fail(res, text);
  return res;
}

void pg_connection::exec_script(const char* sql) {
  PQclear(exec_checked(sql));
}

void pg_connection::begin(bool write, sql::durability d) {
  // One round trip: BEGIN and, for a write, the lock (and the relaxed commit) in one message.
  std::string sql;
  if (write) {
    sql = "BEGIN; ";
    if (d == sql::durability::relaxed) sql += "SET LOCAL synchronous_commit = off; ";
    sql += "SELECT pg_advisory_xact_lock(" + std::to_string(k_write_lock_key) + ")";
  } else {
    // One snapshot for the whole read, as a SQLite read transaction sees.
    sql = "BEGIN ISOLATION LEVEL REPEATABLE READ";
  }
  try {
    exec_script(sql.c_str());
  } catch (const sql::db_error&) {
    rollback();
    throw;
  }
}

void pg_connection::commit() {
  PGresult* res = exec_checked("COMMIT");
  // COMMIT of a transaction that a failed statement aborted answers ROLLBACK, not an error.
  const bool rolled_back = std::string_view(PQcmdStatus(res)) == "ROLLBACK";
  PQclear(res);
  if (rolled_back) fail(k_transaction_rollback, "COMMIT rolled back an aborted transaction");
}

void pg_connection::rollback() noexcept {
  if (PQstatus(conn_) != CONNECTION_OK) return;
  PQclear(PQexec(conn_, "ROLLBACK"));
}

}  // namespace

std::string number_parameters(std::string_view sql, int& count) {
  std::string out;
  out.reserve(sql.size() + 16);
  count = 0;
  const std::size_t n = sql.size();
  std::size_t i = 0;
  // Copies sql[i..end) verbatim and moves i to end.
  auto copy_to = [&](std::size_t end) {
    end = std::min(end, n);
    out.append(sql.substr(i, end - i));
    i = end;
  };
  while (i < n) {
    const char c = sql[i];
    const char next = i + 1 < n ? sql[i + 1] : '\0';
    if (c == '\'') {
      // E'...' strings take backslash escapes; standard strings only double their quotes.
      const bool escapes = i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                           (i < 2 || !is_identifier_char(sql[i - 2]));
      std::size_t j = i + 1;
      while (j < n) {
        if (escapes && sql[j] == '\\') {
          j += 2;
        } else if (sql[j] == '\'') {
          if (j + 1 < n && sql[j + 1] == '\'') {
            j += 2;
          } else {
            break;
          }
        } else {
          ++j;
        }
      }
      copy_to(j + 1);
    } else if (c == '"') {
      std::size_t j = i + 1;
      while (j < n && !(sql[j] == '"' && (j + 1 >= n || sql[j + 1] != '"'))) {
        j += sql[j] == '"' ? 2 : 1;
      }
      copy_to(j + 1);
    } else if (c == '-' && next == '-') {
      const auto eol = sql.find('\n', i);
      copy_to(eol == std::string_view::npos ? n : eol + 1);
    } else if (c == '/' && next == '*') {
      // Block comments nest in PostgreSQL.
      int depth = 0;
      std::size_t j = i;
      while (j < n) {
        if (sql[j] == '/' && j + 1 < n && sql[j + 1] == '*') {
          ++depth;
          j += 2;
        } else if (sql[j] == '*' && j + 1 < n && sql[j + 1] == '/') {
          j += 2;
          if (--depth == 0) break;
        } else {
          ++j;
        }
      }
      copy_to(j);
    } else if (c == '$' && (i == 0 || !is_identifier_char(sql[i - 1])) &&
               std::isdigit(static_cast<unsigned char>(next)) == 0) {
      // A dollar-quoted string: $tag$ ... $tag$ (tag empty or an identifier).
      std::size_t j = i + 1;
      while (j < n && is_identifier_char(sql[j])) ++j;
      if (j < n && sql[j] == '$') {
        const std::string_view tag = sql.substr(i, j - i + 1);
        const auto close = sql.find(tag, j + 1);
        copy_to(close == std::string_view::npos ? n : close + tag.size());
      } else {
        copy_to(i + 1);
      }
    } else if (c == '?') {
      // ?NNN names its number (SQLite's form); a bare ? takes the one after the largest so far.
      std::size_t j = i + 1;
      while (j < n && std::isdigit(static_cast<unsigned char>(sql[j])) != 0) ++j;
      int number = count + 1;
      if (j > i + 1) std::from_chars(sql.data() + i + 1, sql.data() + j, number);
      count = std::max(count, number);
      out += '$' + std::to_string(number);
      i = j;
    } else {
      copy_to(i + 1);
    }
  }
  return out;
}

std::unique_ptr<sql::connection> open_connection(const std::string& uri) {
  return std::make_unique<pg_connection>(uri);
}

}  // namespace aterm::cloud::postgres
