// Backups and restore on SQLite files (jobs/backup.h): VACUUM INTO, integrity_check, the schema
// comparison with the migrations, the online backup API, and the access-log check of a file.
#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <tuple>

#include "aterm/cloud/jobs/backup.h"
#include "aterm/cloud/jobs/backup_sidecar.h"
#include "aterm/cloud/jobs/limits.h"
#include "aterm/cloud/security/anchor_file.h"
#include "aterm/cloud/security/key_file.h"
#include "aterm/cloud/store.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"
#include "migrations.h"
#include "sqlite_db.h"

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
    name = sqlite_file_uri(path) + "?mode=ro&immutable=1";
    flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
  } else {
    flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  }
  int rc = sqlite3_open_v2(name.c_str(), &raw, flags, nullptr);
  db_handle db(raw);
  if (rc != SQLITE_OK) return backup_error("open " + path + ": " + errmsg(raw, rc));
  // As the store runs (sqlite_db.cpp): a file under check may hold planted triggers or views.
  if (sqlite3_db_config(raw, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr) != SQLITE_OK ||
      sqlite3_db_config(raw, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr) != SQLITE_OK) {
    return backup_error("open " + path + ": defensive mode refused");
  }
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

common::result<security::chain_report> verify_chain_in(
    sqlite3* db, const audit_head& head, const security::keyring& ring,
    const std::vector<security::audit_anchor>& anchors) {
  auto s = prepare(db,
                   "SELECT seq, ts_ms, company_id, actor, action, target, result, detail, "
                   "source_ip, prev_hash, hash FROM audit_log ORDER BY seq");
  if (!s.ok()) return s.error();
  security::chain_verifier v(ring, anchors);
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

common::status write_sidecar(const backup_info& b, const secret_key& key) {
  backup_sidecar side;
  side.file = b.file.filename().string();
  side.day = b.day;
  side.head_seq = b.head.seq;
  side.head_hash = b.head.hash;
  side.sha256 = b.sha256;
  side.bytes = b.bytes;
  sign_sidecar(side, key);
  fs::path path = sidecar_of(b.file);
  fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << format_backup_sidecar(side);
    if (!out) return backup_error("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return backup_error("rename " + tmp.string() + ": " + ec.message());
  return {};
}

common::result<backup_sidecar> read_sidecar(const fs::path& path, const secret_key& key) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return bad_backup("no sidecar " + path.string() + " (a backup without one is not restored)");
  }
  if (fs::file_size(path, ec) > limits::k_max_sidecar_bytes) {
    return bad_backup(path.string() + ": sidecar larger than 64 KiB");
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto side = parse_backup_sidecar(text);
  if (!side.ok()) return bad_backup(path.string() + ": " + side.error().message());
  if (!sidecar_authentic(*side, key)) {
    return bad_backup(path.string() + ": not signed with the backup key " + key.id +
                      " (signed as key " + side->key_id.substr(0, 64) + ")");
  }
  return side;
}

// One schema object: type, table, SQL text.
using schema_map = std::map<std::string, std::tuple<std::string, std::string, std::string>>;

common::result<schema_map> schema_of(sqlite3* db) {
  // sqlite_stat* are the planner's statistics (ANALYZE), data rather than schema.
  auto s = prepare(db,
                   "SELECT type, name, tbl_name, sql FROM sqlite_schema "
                   "WHERE name NOT LIKE 'sqlite\\_stat%' ESCAPE '\\'");
  if (!s.ok()) return s.error();
  schema_map out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
    out[column_text(s->get(), 1)] = {column_text(s->get(), 0), column_text(s->get(), 2),
                                     column_text(s->get(), 3)};
  }
  if (rc != SQLITE_DONE) return bad_backup("reading the schema: " + errmsg(db, rc));
  return out;
}

// A schema name for a message: bounded, control characters replaced.
std::string printable(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 100)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  return out;
}

// Refuses any difference between the backup's schema and a fresh database migrated to its
// version: restore copies pages, so a planted trigger or view would come along and run.
common::status compare_schema(sqlite3* backup, int version, const std::string& what) {
  schema_map expected;
  try {
    sqlite::connection fresh(":memory:");
    sqlite::migrate(fresh, version);
    auto m = schema_of(fresh.handle());
    if (!m.ok()) return m.error();
    expected = std::move(m).value();
  } catch (const sqlite::db_error& e) {
    return backup_error(std::string("migrating a fresh schema: ") + e.what());
  }
  auto found = schema_of(backup);
  if (!found.ok()) return bad_backup(what + ": " + found.error().message());
  std::vector<std::string> problems;
  for (const auto& [name, entry] : *found) {
    auto it = expected.find(name);
    if (it == expected.end()) {
      problems.push_back("foreign " + std::get<0>(entry) + " " + printable(name));
    } else if (it->second != entry) {
      problems.push_back(std::get<0>(entry) + " " + printable(name) +
                         " differs from the migrated schema");
    }
  }
  for (const auto& [name, entry] : expected) {
    if (found->count(name) == 0) {
      problems.push_back("missing " + std::get<0>(entry) + " " + printable(name));
    }
  }
  if (problems.empty()) return {};
  std::string message = what + ": schema differs from schema version " + std::to_string(version) +
                        " of this program: ";
  for (std::size_t i = 0; i < problems.size() && i < 10; ++i) {
    message += (i == 0 ? "" : ", ") + problems[i];
  }
  if (problems.size() > 10) message += ", and " + std::to_string(problems.size() - 10) + " more";
  return bad_backup(message);
}

// Every check of restore on `file`, whose sidecar is `side_path` and whose name the sidecar must
// carry as `name`.
common::result<backup_info> check_file(const fs::path& file, const fs::path& side_path,
                                       const std::string& name, const backup_keys& keys) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return bad_backup("no file " + file.string());
  auto side = read_sidecar(side_path, keys.backup_key);
  if (!side.ok()) return side.error();
  if (side->file != name) {
    return bad_backup(side_path.string() + ": the sidecar is for " + printable(side->file) +
                      ", not " + name);
  }
  backup_info b;
  b.file = file;
  b.day = day_of_name(name);
  auto sum = file_sha256(file, b.bytes);
  if (!sum.ok()) return sum.error();
  b.sha256 = *sum;
  if (side->sha256 != b.sha256 || side->bytes != b.bytes) {
    return bad_backup(name + ": SHA-256 differs from the one recorded at backup");
  }
  auto db = open_db(file.string(), true);
  if (!db.ok()) return bad_backup(db.error().message());
  if (auto st = integrity_check(db->get(), name); !st.ok()) return st;
  std::int64_t version = 0;
  {
    auto v = prepare(db->get(), "PRAGMA user_version");
    if (!v.ok()) return v.error();
    sqlite3_step(v->get());
    version = sqlite3_column_int64(v->get(), 0);
    if (version < 1 || version > sqlite_schema_version()) {
      return bad_backup(name + ": schema version " + std::to_string(version) +
                        " is not one this program restores");
    }
  }
  if (auto st = compare_schema(db->get(), static_cast<int>(version), name); !st.ok()) return st;
  auto head = read_head(db->get());
  if (!head.ok()) return bad_backup(head.error().message());
  b.head = *head;
  if (side->head_seq != b.head.seq || side->head_hash != b.head.hash) {
    return bad_backup(name + ": access-log head differs from the one recorded at backup");
  }
  auto anchors = security::load_audit_anchors(keys.anchor_file);
  if (!anchors.ok()) return anchors.error();
  std::erase_if(*anchors, [&](const security::audit_anchor& a) { return a.seq > b.head.seq; });
  auto report = verify_chain_in(db->get(), b.head, keys.audit_ring, *anchors);
  if (!report.ok()) return report.error();
  if (!report->intact()) return bad_backup(name + ": access log broken: " + report->message);
  return b;
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
                                        common::wall_time as_of, const backup_keys& keys) {
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
  if (auto st = write_sidecar(b, keys.backup_key); !st.ok()) return st;
  if (!keys.anchor_file.empty()) {
    security::audit_anchor a;
    a.time = common::format_utc(as_of);
    a.seq = b.head.seq;
    a.mac = b.head.hash;
    a.key_id = keys.audit_ring.empty() ? std::string() : keys.audit_ring.back().id;
    if (auto st = security::append_audit_anchor(keys.anchor_file, a); !st.ok()) return st;
  }
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

common::result<backup_keys> load_backup_keys(const common::config& c) {
  auto files = security::secret_files_from(c);
  auto backup_ring = security::load_or_create_keyring(files.backup_key);
  if (!backup_ring.ok()) return backup_ring.error();
  auto audit_ring = security::load_or_create_keyring(files.audit_key);
  if (!audit_ring.ok()) return audit_ring.error();
  backup_keys k;
  k.backup_key = backup_ring->back();
  k.audit_ring = std::move(audit_ring).value();
  k.anchor_file = files.audit_anchors;
  return k;
}

common::result<backup_info> check_backup(const fs::path& file, const backup_keys& keys) {
  return check_file(file, sidecar_of(file), file.filename().string(), keys);
}

common::result<backup_info> restore_backup(const std::string& db_path, const fs::path& file,
                                           const backup_keys& keys) {
  // The checks and the copy read one private copy, so the file cannot change between them.
  std::error_code ec;
  fs::path copy = db_path + ".restore.tmp";
  fs::remove(copy, ec);
  if (!fs::is_regular_file(file, ec)) return bad_backup("no file " + file.string());
  fs::copy_file(file, copy, ec);
  if (ec) return backup_error("copy " + file.string() + ": " + ec.message());
  struct remove_copy {
    fs::path p;
    ~remove_copy() {
      std::error_code e;
      fs::remove(p, e);
    }
  } cleanup{copy};
  auto b = check_file(copy, sidecar_of(file), file.filename().string(), keys);
  if (!b.ok()) return b;
  b->file = file;
  {
    auto src = open_db(copy.string(), true);
    if (!src.ok()) return src.error();
    auto dst = open_db(db_path, false);
    if (!dst.ok()) return dst.error();
    sqlite3_backup* backup = sqlite3_backup_init(dst->get(), "main", src->get(), "main");
    if (backup == nullptr) return backup_error("sqlite3_backup_init: " + errmsg(dst->get(), 0));
    int rc = sqlite3_backup_step(backup, -1);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
      return backup_error("sqlite3_backup_step: " + std::string(sqlite3_errstr(rc)));
    }
  }
  auto report = verify_audit_file(db_path, keys.audit_ring);
  if (!report.ok()) return report.error();
  if (!report->intact()) {
    return backup_error("restored access log does not verify: " + report->message);
  }
  if (!keys.anchor_file.empty()) {
    security::audit_anchor a;
    a.time = common::format_utc(common::system_clock::instance().now());
    a.seq = b->head.seq;
    a.mac = b->head.hash;
    a.key_id = keys.audit_ring.empty() ? std::string() : keys.audit_ring.back().id;
    a.restored = true;
    if (auto st = security::append_audit_anchor(keys.anchor_file, a); !st.ok()) return st;
  }
  return b;
}

common::result<security::chain_report> verify_audit_file(
    const std::string& db_path, const security::keyring& audit_ring,
    const std::vector<security::audit_anchor>& anchors) {
  std::error_code ec;
  if (!fs::is_regular_file(db_path, ec)) return backup_error("no database at " + db_path);
  auto db = open_db(db_path, false);
  if (!db.ok()) return db.error();
  auto head = read_head(db->get());
  if (!head.ok()) return head.error();
  return verify_chain_in(db->get(), *head, audit_ring, anchors);
}

std::string sqlite_file_uri(const std::string& path) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out = "file:";
  for (const char raw : path) {
    const auto c = static_cast<unsigned char>(raw);
    bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '/' || c == '.' || c == '_' || c == '~' || c == '-';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += k_hex[c >> 4];
      out += k_hex[c & 0xF];
    }
  }
  return out;
}

}  // namespace aterm::cloud::jobs
