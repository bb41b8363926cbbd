// Backups and restore on SQLite files (jobs/backup.h): VACUUM INTO, integrity_check, the online
// backup API, and the access-log check of a file.
#include <openssl/evp.h>
#include <sqlite3.h>

#include <algorithm>
#include <fstream>
#include <memory>

#include "aterm/cloud/jobs/backup.h"
#include "aterm/cloud/jobs/limits.h"
#include "aterm/cloud/store.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"

namespace aterm::cloud::jobs {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_prefix = "aterm-cloud-";
constexpr std::string_view k_suffix = ".db";
constexpr std::string_view k_sidecar = ".json";

common::status backup_error(std::string message) {
  return common::status::error("backup", std::move(message));
}
common::status bad_backup(std::string message) {
  return common::status::error("bad_backup", std::move(message));
}

struct db_closer {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using db_handle = std::unique_ptr<sqlite3, db_closer>;

struct stmt_closer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using stmt_handle = std::unique_ptr<sqlite3_stmt, stmt_closer>;

std::string errmsg(sqlite3* db, int rc) {
  return db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
}

// Opens `path`; read_only files are opened immutable so checking a backup writes nothing next
// to it (no -wal or -shm).
common::result<db_handle> open_db(const std::string& path, bool read_only) {
  sqlite3* raw = nullptr;
  std::string name = path;
  int flags = SQLITE_OPEN_NOMUTEX;
  if (read_only) {
    name = "file:" + path + "?mode=ro&immutable=1";
    flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
  } else {
    flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  }
  int rc = sqlite3_open_v2(name.c_str(), &raw, flags, nullptr);
  db_handle db(raw);
  if (rc != SQLITE_OK) return backup_error("open " + path + ": " + errmsg(raw, rc));
  sqlite3_busy_timeout(raw, limits::k_busy_timeout_ms);
  return db;
}

common::result<stmt_handle> prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  stmt_handle s(raw);
  if (rc != SQLITE_OK) return bad_backup(std::string(sql) + ": " + errmsg(db, rc));
  return s;
}

std::string column_text(sqlite3_stmt* s, int col) {
  const auto* p = sqlite3_column_text(s, col);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<std::size_t>(sqlite3_column_bytes(s, col)));
}

common::result<std::string> file_sha256(const fs::path& file, std::int64_t& bytes) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return backup_error("cannot read " + file.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(limits::k_hash_chunk);
  bytes = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), n);
    bytes += static_cast<std::int64_t>(n);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return common::crypto::to_hex(std::span<const std::uint8_t>(md, len));
}

common::status integrity_check(sqlite3* db, const std::string& what) {
  auto s = prepare(db, "PRAGMA integrity_check");
  if (!s.ok()) return bad_backup(what + ": " + s.error().message());
  std::string first;
  int rc = sqlite3_step(s->get());
  if (rc == SQLITE_ROW) first = column_text(s->get(), 0);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return bad_backup(what + ": integrity_check: " + errmsg(db, rc));
  }
  if (first != "ok") return bad_backup(what + ": integrity_check: " + first);
  return {};
}

common::result<audit_head> read_head(sqlite3* db) {
  auto s = prepare(db, "SELECT seq, hash FROM audit_head WHERE id = 1");
  if (!s.ok()) return s.error();
  audit_head h{0, std::string(security::k_genesis_hash)};
  if (sqlite3_step(s->get()) == SQLITE_ROW) {
    h.seq = sqlite3_column_int64(s->get(), 0);
    h.hash = column_text(s->get(), 1);
  }
  return h;
}

common::result<security::chain_report> verify_chain_in(sqlite3* db, const audit_head& head) {
  auto s = prepare(db,
                   "SELECT seq, ts_ms, company_id, actor, action, target, result, detail, "
                   "source_ip, prev_hash, hash FROM audit_log ORDER BY seq");
  if (!s.ok()) return s.error();
  security::chain_verifier v;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
    audit_record r;
    r.seq = sqlite3_column_int64(s->get(), 0);
    r.ts_ms = sqlite3_column_int64(s->get(), 1);
    r.company_id = column_text(s->get(), 2);
    r.actor = column_text(s->get(), 3);
    r.action = column_text(s->get(), 4);
    r.target = column_text(s->get(), 5);
    r.result = column_text(s->get(), 6);
    r.detail = column_text(s->get(), 7);
    r.source_ip = column_text(s->get(), 8);
    r.prev_hash = column_text(s->get(), 9);
    r.hash = column_text(s->get(), 10);
    if (!v.add(r)) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return bad_backup("reading the access log: " + errmsg(db, rc));
  }
  return v.finish(head);
}

std::string day_of(common::wall_time t) {
  return common::format_utc(t).substr(0, 10);
}

// The day of a backup file name, or "" for any other file.
std::string day_of_name(const std::string& name) {
  if (name.size() != k_prefix.size() + 10 + k_suffix.size()) return {};
  if (name.compare(0, k_prefix.size(), k_prefix) != 0) return {};
  if (name.compare(name.size() - k_suffix.size(), k_suffix.size(), k_suffix) != 0) return {};
  std::string day = name.substr(k_prefix.size(), 10);
  if (!common::parse_iso8601(day).ok()) return {};
  return day;
}

fs::path sidecar_of(const fs::path& file) {
  return fs::path(file.string() + std::string(k_sidecar));
}

common::status write_sidecar(const backup_info& b) {
  common::json_ptr obj(cJSON_CreateObject());
  cJSON_AddStringToObject(obj.get(), "file", b.file.filename().string().c_str());
  cJSON_AddStringToObject(obj.get(), "day", b.day.c_str());
  cJSON_AddNumberToObject(obj.get(), "head_seq", static_cast<double>(b.head.seq));
  cJSON_AddStringToObject(obj.get(), "head_hash", b.head.hash.c_str());
  cJSON_AddStringToObject(obj.get(), "sha256", b.sha256.c_str());
  cJSON_AddNumberToObject(obj.get(), "bytes", static_cast<double>(b.bytes));
  fs::path side = sidecar_of(b.file);
  fs::path tmp = side.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << common::print_json(obj.get()) << "\n";
    if (!out) return backup_error("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, side, ec);
  if (ec) return backup_error("rename " + tmp.string() + ": " + ec.message());
  return {};
}

}  // namespace

std::string backup_file_name(common::wall_time t) {
  return std::string(k_prefix) + day_of(t) + std::string(k_suffix);
}

bool has_backup_for(const fs::path& dir, common::wall_time as_of) {
  std::error_code ec;
  return fs::exists(dir / backup_file_name(as_of), ec);
}

common::result<backup_info> make_backup(const std::string& db_path, const fs::path& dir,
                                        common::wall_time as_of) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return backup_error("create " + dir.string() + ": " + ec.message());
  backup_info b;
  b.day = day_of(as_of);
  b.file = dir / backup_file_name(as_of);
  fs::path tmp = b.file.string() + ".tmp";
  fs::remove(tmp, ec);
  {
    if (!fs::exists(db_path, ec)) return backup_error("no database at " + db_path);
    auto src = open_db(db_path, false);
    if (!src.ok()) return src.error();
    // VACUUM INTO reads one consistent snapshot while the daemon keeps writing (WAL).
    auto s = prepare(src->get(), "VACUUM INTO ?");
    if (!s.ok()) return backup_error(s.error().message());
    std::string target = tmp.string();
    sqlite3_bind_text(s->get(), 1, target.c_str(), static_cast<int>(target.size()),
                      SQLITE_TRANSIENT);
    int rc = sqlite3_step(s->get());
    if (rc != SQLITE_DONE) {
      return backup_error("VACUUM INTO " + target + ": " + errmsg(src->get(), rc));
    }
  }
  {
    auto copy = open_db(tmp.string(), true);
    if (!copy.ok()) return copy.error();
    if (auto st = integrity_check(copy->get(), tmp.string()); !st.ok()) {
      fs::remove(tmp, ec);
      return backup_error(st.message());
    }
    auto head = read_head(copy->get());
    if (!head.ok()) return backup_error(head.error().message());
    b.head = *head;
  }
  auto sum = file_sha256(tmp, b.bytes);
  if (!sum.ok()) return sum.error();
  b.sha256 = *sum;
  fs::rename(tmp, b.file, ec);
  if (ec) return backup_error("rename " + tmp.string() + ": " + ec.message());
  if (auto st = write_sidecar(b); !st.ok()) return st;
  return b;
}

common::result<std::vector<fs::path>> prune_backups(const fs::path& dir, common::wall_time as_of,
                                                    std::int64_t keep_days) {
  std::vector<fs::path> deleted;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return deleted;
  auto today = common::parse_iso8601(day_of(as_of));
  if (!today.ok()) return today.error();
  std::int64_t oldest_kept = common::to_unix_s(*today) - (keep_days - 1) * 86400;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) files.push_back(e.path());
  if (ec) return backup_error("list " + dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::string day = day_of_name(f.filename().string());
    if (day.empty()) continue;
    auto t = common::parse_iso8601(day);
    if (!t.ok() || common::to_unix_s(*t) >= oldest_kept) continue;
    fs::remove(f, ec);
    if (ec) return backup_error("remove " + f.string() + ": " + ec.message());
    fs::remove(sidecar_of(f), ec);
    deleted.push_back(f);
  }
  return deleted;
}

common::result<backup_info> check_backup(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return bad_backup("no file " + file.string());
  backup_info b;
  b.file = file;
  b.day = day_of_name(file.filename().string());
  auto sum = file_sha256(file, b.bytes);
  if (!sum.ok()) return sum.error();
  b.sha256 = *sum;
  std::optional<audit_head> recorded;
  fs::path side = sidecar_of(file);
  if (fs::exists(side, ec)) {
    std::ifstream in(side, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto parsed = common::parse_json(text);
    if (!parsed.ok()) return bad_backup(side.string() + ": " + parsed.error().message());
    auto recorded_sum = common::json_string(parsed->get(), "sha256");
    auto head_hash = common::json_string(parsed->get(), "head_hash");
    const cJSON* seq = cJSON_GetObjectItemCaseSensitive(parsed->get(), "head_seq");
    // An integer in int64 range: the cast below of any other number is undefined.
    if (!recorded_sum || !head_hash || !common::json_is_integer(seq)) {
      return bad_backup(side.string() + ": missing sha256, head_seq or head_hash");
    }
    if (*recorded_sum != b.sha256) {
      return bad_backup(file.string() + ": SHA-256 differs from the one recorded at backup");
    }
    recorded = audit_head{static_cast<std::int64_t>(seq->valuedouble), *head_hash};
  }
  auto db = open_db(file.string(), true);
  if (!db.ok()) return bad_backup(db.error().message());
  if (auto st = integrity_check(db->get(), file.string()); !st.ok()) return st;
  {
    auto v = prepare(db->get(), "PRAGMA user_version");
    if (!v.ok()) return v.error();
    sqlite3_step(v->get());
    auto version = sqlite3_column_int64(v->get(), 0);
    if (version < 1 || version > sqlite_schema_version()) {
      return bad_backup(file.string() + ": schema version " + std::to_string(version) +
                        " is not one this program restores");
    }
  }
  auto head = read_head(db->get());
  if (!head.ok()) return bad_backup(head.error().message());
  b.head = *head;
  if (recorded && (recorded->seq != b.head.seq || recorded->hash != b.head.hash)) {
    return bad_backup(file.string() + ": access-log head differs from the one recorded at backup");
  }
  auto report = verify_chain_in(db->get(), b.head);
  if (!report.ok()) return report.error();
  if (!report->intact()) {
    return bad_backup(file.string() + ": access log broken: " + report->message);
  }
  return b;
}

common::result<backup_info> restore_backup(const std::string& db_path, const fs::path& file) {
  auto b = check_backup(file);
  if (!b.ok()) return b;
  {
    auto src = open_db(file.string(), true);
    if (!src.ok()) return src.error();
    auto dst = open_db(db_path, false);
    if (!dst.ok()) return dst.error();
    sqlite3_backup* copy = sqlite3_backup_init(dst->get(), "main", src->get(), "main");
    if (copy == nullptr) return backup_error("sqlite3_backup_init: " + errmsg(dst->get(), 0));
    int rc = sqlite3_backup_step(copy, -1);
    sqlite3_backup_finish(copy);
    if (rc != SQLITE_DONE) {
      return backup_error("sqlite3_backup_step: " + std::string(sqlite3_errstr(rc)));
    }
  }
  auto report = verify_audit_file(db_path);
  if (!report.ok()) return report.error();
  if (!report->intact()) {
    return backup_error("restored access log does not verify: " + report->message);
  }
  return b;
}

common::result<security::chain_report> verify_audit_file(const std::string& db_path) {
  std::error_code ec;
  if (!fs::is_regular_file(db_path, ec)) return backup_error("no database at " + db_path);
  auto db = open_db(db_path, false);
  if (!db.ok()) return db.error();
  auto head = read_head(db->get());
  if (!head.ok()) return head.error();
  return verify_chain_in(db->get(), *head);
}

}  // namespace aterm::cloud::jobs
