// Backups and restore on PostgreSQL (pg_backup.h).
#include "pg_backup.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "aterm/cloud/jobs/limits.h"
#include "aterm/common/clock.h"
#include "aterm/common/log.h"
#include "audit_rows.h"
#include "pg_connection.h"
#include "pg_migrations.h"

extern char** environ;

namespace aterm::cloud::postgres {

namespace fs = std::filesystem;
namespace limits = jobs::limits;

namespace {

// PostgreSQL's limit on a name (NAMEDATALEN - 1).
constexpr std::size_t k_max_name = 63;
// object_in_use: a database renamed or dropped while other sessions use it.
constexpr std::string_view k_object_in_use = "55006";

common::status backup_error(std::string message) {
  return common::status::error("backup", std::move(message));
}
common::status bad_backup(std::string message) {
  return common::status::error("bad_backup", std::move(message));
}

// The connection parameters of the URI, the password apart.
struct pg_target {
  std::vector<std::pair<std::string, std::string>> params;  // neither dbname nor password
  std::string dbname;                                       // "": libpq's default
  std::string password;
};

common::result<pg_target> parse_target(const std::string& uri) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(uri.c_str(), &err);
  if (opts == nullptr) {
    // libpq's message may quote the URI, password included.
    PQfreemem(err);
    return backup_error("db is not a PostgreSQL URI libpq accepts");
  }
  pg_target t;
  bool ssl_password = false;
  for (auto* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0') continue;
    const std::string_view key = o->keyword;
    if (key == "password") {
      t.password = o->val;
    } else if (key == "dbname") {
      t.dbname = o->val;
    } else if (key == "sslpassword") {
      ssl_password = true;
    } else {
      t.params.emplace_back(o->keyword, o->val);
    }
  }
  PQconninfoFree(opts);
  if (ssl_password) {
    return backup_error(
        "db: sslpassword cannot be handed to pg_dump safely; use an unencrypted "
        "client key readable by this user only");
  }
  return t;
}

// A conninfo value in single quotes.
std::string quoted_value(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// "key='value' ..." of `t` on database `dbname` ("" keeps the URI's); the password only when
// `with_password` (never for a child's command line).
std::string conninfo(const pg_target& t, const std::string& dbname, bool with_password) {
  std::string out;
  for (const auto& [k, v] : t.params) out += k + "=" + quoted_value(v) + " ";
  const std::string& db = dbname.empty() ? t.dbname : dbname;
  if (!db.empty()) out += "dbname=" + quoted_value(db) + " ";
  if (with_password && !t.password.empty()) out += "password=" + quoted_value(t.password) + " ";
  return out;
}

std::string quoted_ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string quoted_literal(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// A folder of this process's own (0700) for a tool's messages and schema dumps; removed with it.
class work_dir {
 public:
  work_dir() {
    std::error_code ec;
    std::string templ = (fs::temp_directory_path(ec) / "aterm-pg-backup-XXXXXX").string();
    if (!ec && ::mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~work_dir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  work_dir(const work_dir&) = delete;
  work_dir& operator=(const work_dir&) = delete;
  bool ok() const { return !path_.empty(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The first limits::k_max_tool_message bytes of a tool's messages on one line, the password
// replaced.
std::string tool_message(const fs::path& file, const std::string& password) {
  std::ifstream in(file, std::ios::binary);
  std::string text(limits::k_max_tool_message, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (!password.empty()) {
    for (auto at = text.find(password); at != std::string::npos; at = text.find(password, at)) {
      text.replace(at, password.size(), "***");
    }
  }
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text.empty() ? "no message" : text;
}

// Runs `program args...` (no shell), stdin and stdout on /dev/null, its messages into the work
// folder; the password, if any, as PGPASSWORD in its environment only. Returns "" when it exited
// 0, else what went wrong in one line. Error "backup" when it cannot be started.
common::result<std::string> run_tool(const fs::path& program, const std::vector<std::string>& args,
                                     const std::string& password, const work_dir& work) {
  const fs::path messages = work.path() / "messages";
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).substr(0, 11) != "PGPASSWORD=") env_text.emplace_back(*e);
  }
  if (!password.empty()) env_text.push_back("PGPASSWORD=" + password);
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string program_text = program.string();
  std::vector<std::string> arg_text{program_text};
  arg_text.insert(arg_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : arg_text) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, messages.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, program_text.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return backup_error("cannot run " + program_text + ": " + std::strerror(rc) +
                        " (backup.pg_bin_dir; Debian's postgresql-client-15)");
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return backup_error("waiting for " + program_text + " failed");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return std::string();
  std::string how = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                      : "signal " + std::to_string(WTERMSIG(status));
  return program.filename().string() + " failed (" + how + "): " + tool_message(messages, password);
}

// A unique name for a scratch database of this process.
std::string scratch_name(std::string_view what) {
  static std::atomic<int> counter{0};
  return "aterm_" + std::string(what) + "_" + std::to_string(::getpid()) + "_" +
         std::to_string(common::system_clock::instance().now_ms()) + "_" +
         std::to_string(counter++);
}

// A database: the live one, or a scratch database this engine created and drops when done
// with it unless it was made the live one.
class pg_copy final : public jobs::backup_copy {
 public:
  // `admin_uri` reaches a database other than `scratch` (for the drop); scratch "" = live.
  pg_copy(std::string admin_uri, std::string scratch)
      : admin_uri_(std::move(admin_uri)), scratch_(std::move(scratch)) {}
  ~pg_copy() override {
    db_.reset();
    if (scratch_.empty()) return;
    try {
      open_connection(admin_uri_)
          ->exec_script(("DROP DATABASE IF EXISTS " + quoted_ident(scratch_)).c_str());
    } catch (const sql::db_error& e) {
      common::log(common::log_level::warn, "backup", "scratch database not dropped",
                  {{"database", scratch_}, {"error", e.what()}});
    }
  }
  pg_copy(const pg_copy&) = delete;
  pg_copy& operator=(const pg_copy&) = delete;

  void attach(std::unique_ptr<sql::connection> db) { db_ = std::move(db); }
  void detach() { db_.reset(); }
  // The scratch database is the live one now: not dropped.
  void adopt() { scratch_.clear(); }
  const std::string& scratch() const { return scratch_; }
  std::string live_name;  // the live database's name when this is a checked backup

  common::result<audit_head> head() override {
    if (!db_) return backup_error("no connection");
    try {
      return store_sql::read_audit_head(*db_);
    } catch (const sql::db_error& e) {
      return bad_backup(std::string("reading the access-log head: ") + e.what());
    }
  }

  common::status read_audit(const std::function<bool(const audit_record&)>& sink) override {
    if (!db_) return backup_error("no connection");
    try {
      // In pages, so a year of records never sits in memory at once.
      std::int64_t after = -1;
      for (;;) {
        auto q = db_->prepare(store_sql::k_audit_select + "WHERE seq > ? ORDER BY seq LIMIT ?");
        q.bind(after).bind(static_cast<std::int64_t>(limits::k_audit_page));
        std::size_t rows = 0;
        while (q.step()) {
          ++rows;
          audit_record r = store_sql::read_audit(q);
          after = r.seq;
          if (!sink(r)) return {};
        }
        if (rows < limits::k_audit_page) return {};
      }
    } catch (const sql::db_error& e) {
      return bad_backup(std::string("reading the access log: ") + e.what());
    }
  }

 private:
  std::string admin_uri_;
  std::string scratch_;
  std::unique_ptr<sql::connection> db_;
};

// pg_dump --schema-only text cut into its objects: "-- Name: N; Type: T; Schema: S; Owner: O"
// starts each (the key, owner left out). Every other line counts, comments and blank lines
// too: both texts come from the same pg_dump and server.
struct schema_text {
  std::map<std::string, std::string> objects;
  std::multiset<std::string> settings;  // the trailing session settings of every object
  std::string all;                      // every line but pg_dump's \restrict key, in order
};

schema_text cut_schema(std::string dump) {
  // pg_dump wraps its output in \restrict KEY ... \unrestrict KEY, a random key per dump (psql
  // meta-commands, no schema): dropped only where pg_dump puts them, the first line of the
  // preamble and the very last line, so no such line inside an object is ever skipped.
  while (!dump.empty() && (dump.back() == '\n' || dump.back() == ' ')) dump.pop_back();
  if (auto last = dump.rfind('\n');
      last != std::string::npos && dump.compare(last + 1, 12, "\\unrestrict ") == 0) {
    dump.resize(last);
  }
  schema_text out;
  std::string key = "(preamble)";
  std::size_t start = 0;
  while (start < dump.size()) {
    std::size_t end = dump.find('\n', start);
    if (end == std::string::npos) end = dump.size();
    std::string_view line(dump.data() + start, end - start);
    start = end + 1;
    if (line.substr(0, 9) == "-- Name: ") {
      std::string_view k = line.substr(9);
      k = k.substr(0, k.find("; Owner:"));
      key = std::string(k);
      // A repeated header (a function body may hold one) stays apart from the first.
      for (int n = 2; out.objects.count(key) != 0; ++n) {
        key = std::string(k) + " #" + std::to_string(n);
      }
      out.objects[key];
      out.all.append(line).push_back('\n');
      continue;
    }
    if (key == "(preamble)" && line.substr(0, 10) == "\\restrict ") continue;
    out.objects[key].append(line).push_back('\n');
    out.all.append(line).push_back('\n');
  }
  // The session settings pg_dump writes before a run of objects (SET default_tablespace ...)
  // end the object before them; kept apart so that a foreign object inserted before them does
  // not make its neighbour differ too.
  for (auto& [k, text] : out.objects) {
    std::size_t keep = text.size();
    while (keep > 0) {
      std::size_t begin = text.rfind('\n', keep - 2);
      begin = begin == std::string::npos ? 0 : begin + 1;
      std::string_view line(text.data() + begin, keep - begin - 1);
      bool setting =
          line.empty() || line == "--" || (line.substr(0, 4) == "SET " && line.back() == ';');
      if (!setting) break;
      keep = begin;
    }
    for (std::size_t at = keep; at < text.size();) {
      std::size_t nl = text.find('\n', at);
      std::string line = text.substr(at, nl - at);
      if (line.substr(0, 4) == "SET ") out.settings.insert(std::move(line));
      at = nl + 1;
    }
    text.resize(keep);
  }
  return out;
}

// A name for a message: bounded, control characters replaced.
std::string printable(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 120)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  return out;
}

// Every difference between the two schemas, named; empty when equal.
std::vector<std::string> schema_differences(const schema_text& found, const schema_text& expected) {
  std::vector<std::string> problems;
  for (const auto& [key, text] : found.objects) {
    auto it = expected.objects.find(key);
    if (it == expected.objects.end()) {
      problems.push_back("foreign " + printable(key));
    } else if (it->second != text) {
      problems.push_back(printable(key) + " differs from the migrated schema");
    }
  }
  for (const auto& [key, text] : expected.objects) {
    if (found.objects.count(key) == 0) problems.push_back("missing " + printable(key));
  }
  if (found.settings != expected.settings) {
    problems.push_back("pg_dump's session settings differ from the migrated schema's");
  }
  if (problems.empty() && found.all != expected.all) {
    problems.push_back("the order or text of the schema differs from the migrated schema");
  }
  return problems;
}

std::mutex& schema_cache_mutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, schema_text>& schema_cache() {
  static std::map<std::string, schema_text> cache;
  return cache;
}

std::optional<schema_text> cached_schema(const std::string& key) {
  std::lock_guard lock(schema_cache_mutex());
  auto it = schema_cache().find(key);
  if (it == schema_cache().end()) return std::nullopt;
  return it->second;
}

void remember_schema(const std::string& key, const schema_text& s) {
  std::lock_guard lock(schema_cache_mutex());
  schema_cache()[key] = s;
}

class pg_backup_engine final : public jobs::backup_engine {
 public:
  pg_backup_engine(std::string uri, fs::path bin_dir)
      : uri_(std::move(uri)), bin_dir_(std::move(bin_dir)) {}

  std::string_view suffix() const override { return ".dump"; }

  common::result<audit_head> write_backup(const fs::path& file) override {
    auto t = parse_target(uri_);
    if (!t.ok()) return t.error();
    work_dir work;
    if (!work.ok()) return backup_error("cannot create a private work folder");
    try {
      auto live = open_connection(uri_);
      // The dump reads the snapshot this transaction exports, so the head read here is the
      // dump's; the transaction stays open until pg_dump has taken the snapshot over.
      live->exec_script("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      std::string snapshot;
      {
        auto q = live->prepare("SELECT pg_export_snapshot()");
        q.step();
        snapshot = q.text(0);
      }
      audit_head head = store_sql::read_audit_head(*live);
      auto dumped = run_tool(bin_dir_ / "pg_dump",
                             {"--format=custom", "--no-password", "--snapshot=" + snapshot,
                              "--file=" + file.string(), "--dbname=" + conninfo(*t, "", false)},
                             t->password, work);
      live->exec_script("COMMIT");
      if (!dumped.ok()) return dumped.error();
      if (!dumped->empty()) return backup_error(*dumped);
      auto listed = run_tool(bin_dir_ / "pg_restore", {"--list", "--file=/dev/null", file.string()},
                             t->password, work);
      if (!listed.ok()) return listed.error();
      if (!listed->empty()) return backup_error("the dump does not read back: " + *listed);
      return head;
    } catch (const sql::db_error& e) {
      return backup_error(std::string("backup of the PostgreSQL database: ") + e.what());
    }
  }

  common::result<std::unique_ptr<jobs::backup_copy>> open_backup(const fs::path& file,
                                                                 const std::string& name) override {
    auto t = parse_target(uri_);
    if (!t.ok()) return t.error();
    work_dir work;
    if (!work.ok()) return backup_error("cannot create a private work folder");
    auto listed = run_tool(bin_dir_ / "pg_restore", {"--list", "--file=/dev/null", file.string()},
                           t->password, work);
    if (!listed.ok()) return listed.error();
    if (!listed->empty()) return bad_backup(name + ": not a dump pg_restore reads: " + *listed);
    try {
      auto live = open_connection(uri_);
      std::string live_name, encoding, collate, ctype;
      {
        auto q = live->prepare(
            "SELECT current_database(), pg_encoding_to_char(encoding), datcollate, datctype "
            "FROM pg_database WHERE datname = current_database()");
        if (!q.step()) return backup_error("the live database is not in pg_database");
        live_name = q.text(0);
        encoding = q.text(1);
        collate = q.text(2);
        ctype = q.text(3);
      }
      const std::string admin = conninfo(*t, "", true);
      auto create = [&](const std::string& db) {
        live->exec_script(("CREATE DATABASE " + quoted_ident(db) + " TEMPLATE template0 ENCODING " +
                           quoted_literal(encoding) + " LC_COLLATE " + quoted_literal(collate) +
                           " LC_CTYPE " + quoted_literal(ctype))
                              .c_str());
      };
      // The copy owns the scratch database from here: every refusal below drops it.
      auto copy = std::make_unique<pg_copy>(admin, scratch_name("restore"));
      copy->live_name = live_name;
      create(copy->scratch());
      auto restored = run_tool(bin_dir_ / "pg_restore",
                               {"--single-transaction", "--exit-on-error", "--no-owner",
                                "--no-privileges", "--no-subscriptions", "--no-password",
                                "--dbname=" + conninfo(*t, copy->scratch(), false), file.string()},
                               t->password, work);
      if (!restored.ok()) return restored.error();
      if (!restored->empty()) return bad_backup(name + ": pg_restore refused it: " + *restored);
      auto scratch = open_connection(conninfo(*t, copy->scratch(), true));
      int version = schema_version(*scratch);
      if (version < 1 || version > latest_schema_version()) {
        return bad_backup(name + ": schema version " + std::to_string(version) +
                          " is not one this program restores");
      }
      {
        auto q = scratch->prepare("SELECT count(*) FROM pg_largeobject_metadata");
        q.step();
        if (q.i64(0) != 0)
          return bad_backup(name + ": holds large objects, which the store never writes");
      }
      copy->attach(std::move(scratch));
      auto found = schema_of(*t, copy->scratch(), work);
      if (!found.ok()) return found.error();
      // The migrated schema of a version is the same for every check on one server: made once
      // per process (a scratch database, the migrations, pg_dump), then remembered.
      std::string server;
      {
        auto q = live->prepare("SELECT current_setting('server_version_num')");
        q.step();
        server = q.text(0);
      }
      const std::string cache_key =
          server + "/" + std::to_string(version) + "/" + bin_dir_.string();
      std::optional<schema_text> expected = cached_schema(cache_key);
      if (!expected) {
        pg_copy fresh(admin, scratch_name("schema"));
        create(fresh.scratch());
        {
          auto db = open_connection(conninfo(*t, fresh.scratch(), true));
          migrate(*db, version);
        }
        auto made = schema_of(*t, fresh.scratch(), work);
        if (!made.ok()) return made.error();
        expected = std::move(made).value();
        remember_schema(cache_key, *expected);
      }
      auto problems = schema_differences(*found, *expected);
      if (!problems.empty()) {
        std::string message = name + ": schema differs from schema version " +
                              std::to_string(version) + " of this program: ";
        for (std::size_t i = 0; i < problems.size() && i < 10; ++i) {
          message += (i == 0 ? "" : ", ") + problems[i];
        }
        if (problems.size() > 10) {
          message += ", and " + std::to_string(problems.size() - 10) + " more";
        }
        return bad_backup(message);
      }
      return std::unique_ptr<jobs::backup_copy>(std::move(copy));
    } catch (const sql::db_error& e) {
      return backup_error(name + ": checking in a scratch database: " + e.what());
    }
  }

  common::status ready_for_restore() override {
    auto t = parse_target(uri_);
    if (!t.ok()) return t.error();
    try {
      std::string live;
      {
        auto db = open_connection(uri_);
        auto q = db->prepare("SELECT current_database()");
        q.step();
        live = q.text(0);
      }
      auto maintenance = open_maintenance(*t);
      return sessions_on(*maintenance, live);
    } catch (const sql::db_error& e) {
      return backup_error(std::string("reaching the PostgreSQL database: ") + e.what());
    }
  }

  common::status restore(jobs::backup_copy& checked) override {
    auto* copy = dynamic_cast<pg_copy*>(&checked);
    if (copy == nullptr || copy->scratch().empty()) {
      return backup_error("restore: not a checked copy of this engine");
    }
    auto t = parse_target(uri_);
    if (!t.ok()) return t.error();
    copy->detach();
    const std::string& live = copy->live_name;
    try {
      auto maintenance = open_maintenance(*t);
      if (auto st = sessions_on(*maintenance, live); !st.ok()) return st;
      const std::string stamp = compact_utc();
      const std::string suffix = "_replaced_" + stamp;
      std::string replaced = live.substr(0, k_max_name - suffix.size()) + suffix;
      maintenance->exec_script("BEGIN");
      try {
        maintenance->exec_script(
            ("ALTER DATABASE " + quoted_ident(live) + " RENAME TO " + quoted_ident(replaced))
                .c_str());
        maintenance->exec_script(
            ("ALTER DATABASE " + quoted_ident(copy->scratch()) + " RENAME TO " + quoted_ident(live))
                .c_str());
        maintenance->exec_script("COMMIT");
      } catch (const sql::db_error& e) {
        maintenance->rollback();
        if (e.code() == k_object_in_use) return in_use(live, 0, "");
        throw;
      }
      copy->adopt();
      common::log(common::log_level::info, "backup",
                  "restored; the replaced database is kept: drop it once satisfied",
                  {{"database", live}, {"replaced", replaced}});
      return {};
    } catch (const sql::db_error& e) {
      return backup_error(std::string("swapping the restored database in: ") + e.what());
    }
  }

  common::result<std::unique_ptr<jobs::backup_copy>> open_live() override {
    try {
      auto copy = std::make_unique<pg_copy>(std::string(), std::string());
      copy->attach(open_connection(uri_));
      return std::unique_ptr<jobs::backup_copy>(std::move(copy));
    } catch (const sql::db_error& e) {
      return backup_error(std::string("opening the PostgreSQL database: ") + e.what());
    }
  }

 private:
  common::result<schema_text> schema_of(const pg_target& t, const std::string& db,
                                        const work_dir& work) {
    const fs::path out = work.path() / (db + ".sql");
    auto dumped = run_tool(bin_dir_ / "pg_dump",
                           {"--schema-only", "--no-owner", "--no-privileges", "--no-password",
                            "--file=" + out.string(), "--dbname=" + conninfo(t, db, false)},
                           t.password, work);
    if (!dumped.ok()) return dumped.error();
    if (!dumped->empty()) return backup_error("reading a schema: " + *dumped);
    std::ifstream in(out, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return cut_schema(text);
  }

  // A connection to a database other than the live one, for the renames.
  std::unique_ptr<sql::connection> open_maintenance(const pg_target& t) {
    try {
      return open_connection(conninfo(t, "postgres", true));
    } catch (const sql::db_error&) {
      return open_connection(conninfo(t, "template1", true));
    }
  }

  // Refuses while client sessions (other than the caller's, which is on another database) use
  // database `live`. Autovacuum workers do not count: a rename stops them.
  static common::status sessions_on(sql::connection& maintenance, const std::string& live) {
    auto q = maintenance.prepare(
        "SELECT count(*), coalesce(string_agg(DISTINCT coalesce(nullif(application_name, ''), "
        "'unnamed'), ', '), '') FROM pg_stat_activity "
        "WHERE datname = ? AND backend_type = 'client backend'");
    q.bind(live);
    q.step();
    if (q.i64(0) > 0) return in_use(live, q.i64(0), q.text(1));
    return {};
  }

  static common::status in_use(const std::string& live, std::int64_t sessions,
                               const std::string& names) {
    std::string who = sessions > 0 ? std::to_string(sessions) + " other session(s) (" + names + ")"
                                   : "other sessions";
    return common::status::error("restore_refused",
                                 who + " use database " + printable(live) +
                                     ": stop every aterm-cloud instance on it, then restore again "
                                     "(nothing was changed)");
  }

  static std::string compact_utc() {
    std::string s = common::format_utc(common::system_clock::instance().now());
    std::string out;
    for (char c : s) {
      if (c >= '0' && c <= '9') out += c;
    }
    return out.substr(0, 14);
  }

  std::string uri_;
  fs::path bin_dir_;
};

}  // namespace

std::unique_ptr<jobs::backup_engine> make_backup_engine(const std::string& uri,
                                                        const fs::path& bin_dir) {
  return std::make_unique<pg_backup_engine>(uri, bin_dir);
}

}  // namespace aterm::cloud::postgres
