// Backups and restore on SQLite files (sqlite_backup.h).
#include "sqlite_backup.h"

#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "aterm/cloud/jobs/limits.h"
#include "aterm/cloud/store.h"
#include "migrations.h"
#include "sqlite_db.h"

namespace aterm::cloud::sqlite {

namespace fs = std::filesystem;
namespace limits = jobs::limits;

namespace {

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
    name = file_uri(path) + "?mode=ro&immutable=1";
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

// One schema object by name: type, table, SQL text.
using schema_map = std::map<std::string, std::tuple<std::string, std::string, std::string>>;

// sqlite_stat* are the planner's statistics (ANALYZE), data rather than schema.
constexpr const char* k_schema_sql =
    "SELECT type, name, tbl_name, sql FROM sqlite_schema "
    "WHERE name NOT LIKE 'sqlite\\_stat%' ESCAPE '\\'";

common::result<schema_map> schema_of(sqlite3* db) {
  auto s = prepare(db, k_schema_sql);
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

// The schema of a fresh database migrated to `version`, through the store's own migrations.
common::result<schema_map> migrated_schema(int version) {
  try {
    connection fresh(":memory:");
    migrate(fresh, version);
    schema_map out;
    auto q = fresh.prepare(k_schema_sql);
    while (q.step()) out[q.text(1)] = {q.text(0), q.text(2), q.text(3)};
    return out;
  } catch (const std::exception& e) {
    return backup_error(std::string("migrating a fresh schema: ") + e.what());
  }
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
  auto expected = migrated_schema(version);
  if (!expected.ok()) return expected.error();
  auto found = schema_of(backup);
  if (!found.ok()) return bad_backup(what + ": " + found.error().message());
  std::vector<std::string> problems;
  for (const auto& [name, entry] : *found) {
    auto it = expected->find(name);
    if (it == expected->end()) {
      problems.push_back("foreign " + std::get<0>(entry) + " " + printable(name));
    } else if (it->second != entry) {
      problems.push_back(std::get<0>(entry) + " " + printable(name) +
                         " differs from the migrated schema");
    }
  }
  for (const auto& [name, entry] : *expected) {
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

// One SQLite file opened for reading its access log.
class file_copy final : public jobs::backup_copy {
 public:
  explicit file_copy(db_handle db) : db_(std::move(db)) {}

  common::result<audit_head> head() override {
    auto s = prepare(db_.get(), "SELECT seq, hash FROM audit_head WHERE id = 1");
    if (!s.ok()) return s.error();
    audit_head h{0, std::string(k_empty_chain_hash)};
    if (sqlite3_step(s->get()) == SQLITE_ROW) {
      h.seq = sqlite3_column_int64(s->get(), 0);
      h.hash = column_text(s->get(), 1);
    }
    return h;
  }

  common::status read_audit(const std::function<bool(const audit_record&)>& sink) override {
    auto s = prepare(db_.get(),
                     "SELECT seq, ts_ms, company_id, actor, action, target, result, detail, "
                     "source_ip, prev_hash, hash FROM audit_log ORDER BY seq");
    if (!s.ok()) return s.error();
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
      if (!sink(r)) return {};
    }
    if (rc != SQLITE_DONE) return bad_backup("reading the access log: " + errmsg(db_.get(), rc));
    return {};
  }

  sqlite3* handle() const { return db_.get(); }

 private:
  db_handle db_;
};

class sqlite_backup_engine final : public jobs::backup_engine {
 public:
  explicit sqlite_backup_engine(std::string path) : path_(std::move(path)) {}

  std::string_view suffix() const override { return ".db"; }

  common::result<audit_head> write_backup(const fs::path& file) override {
    std::error_code ec;
    if (!fs::exists(path_, ec)) return backup_error("no database at " + path_);
    {
      auto src = open_db(path_, false);
      if (!src.ok()) return src.error();
      // VACUUM INTO reads one consistent snapshot while the daemon keeps writing (WAL).
      auto s = prepare(src->get(), "VACUUM INTO ?");
      if (!s.ok()) return backup_error(s.error().message());
      std::string target = file.string();
      sqlite3_bind_text(s->get(), 1, target.c_str(), static_cast<int>(target.size()),
                        SQLITE_TRANSIENT);
      int rc = sqlite3_step(s->get());
      if (rc != SQLITE_DONE) {
        return backup_error("VACUUM INTO " + target + ": " + errmsg(src->get(), rc));
      }
    }
    auto copy = open_db(file.string(), true);
    if (!copy.ok()) return copy.error();
    if (auto st = integrity_check(copy->get(), file.string()); !st.ok()) {
      return backup_error(st.message());
    }
    auto head = file_copy(std::move(copy).value()).head();
    if (!head.ok()) return backup_error(head.error().message());
    return head;
  }

  common::result<std::unique_ptr<jobs::backup_copy>> open_backup(const fs::path& file,
                                                                 const std::string& name) override {
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
    return std::unique_ptr<jobs::backup_copy>(std::make_unique<file_copy>(std::move(db).value()));
  }

  // The store's writers wait on SQLite's locks while the pages are copied.
  common::status ready_for_restore() override { return {}; }

  common::status restore(jobs::backup_copy& checked) override {
    auto* copy = dynamic_cast<file_copy*>(&checked);
    if (copy == nullptr) return backup_error("restore: not a copy of this engine");
    auto dst = open_db(path_, false);
    if (!dst.ok()) return dst.error();
    sqlite3_backup* backup = sqlite3_backup_init(dst->get(), "main", copy->handle(), "main");
    if (backup == nullptr) return backup_error("sqlite3_backup_init: " + errmsg(dst->get(), 0));
    int rc = sqlite3_backup_step(backup, -1);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
      return backup_error("sqlite3_backup_step: " + std::string(sqlite3_errstr(rc)));
    }
    return {};
  }

  common::result<std::unique_ptr<jobs::backup_copy>> open_live() override {
    std::error_code ec;
    if (!fs::is_regular_file(path_, ec)) return backup_error("no database at " + path_);
    auto db = open_db(path_, false);
    if (!db.ok()) return db.error();
    return std::unique_ptr<jobs::backup_copy>(std::make_unique<file_copy>(std::move(db).value()));
  }

 private:
  std::string path_;
};

}  // namespace

std::unique_ptr<jobs::backup_engine> make_backup_engine(const std::string& path) {
  return std::make_unique<sqlite_backup_engine>(path);
}

std::string file_uri(const std::string& path) {
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

}  // namespace aterm::cloud::sqlite
