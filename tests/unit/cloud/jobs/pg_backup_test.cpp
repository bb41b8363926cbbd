// Backups and restore on the PostgreSQL engine (store/postgres/pg_backup.h), against a real
// throwaway PostgreSQL 15 (aterm/test/pg_cluster.h): pg_dump, a checked restore through a
// scratch database, refusals, retention, and where the URI's password goes.
#include <doctest/doctest.h>

#include <fstream>
#include <set>

#include "aterm/cloud/jobs/backup.h"
#include "aterm/cloud/jobs/backup_sidecar.h"
#include "aterm/cloud/security/audit_chain.h"
#include "aterm/common/crypto.h"
#include "aterm/test/pg_cluster.h"
#include "aterm/test/support.h"
#include "audit_rows.h"
#include "postgres/pg_connection.h"
#include "postgres/pg_migrations.h"

namespace aterm::cloud::jobs::test {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t k_t0 = 1'780'000'000;  // 2026-05-28

common::wall_time day(int d) {
  return common::from_unix_s(k_t0 + d * 86400);
}

// A migrated database of the shared cluster with a keyed access log, and the backup engine on it.
struct pg_fixture {
  aterm::test::temp_dir dir{"unit-pg-backup"};
  std::string uri = aterm::test::shared_pg_cluster().create_database("backup");
  backup_keys keys;
  std::unique_ptr<backup_engine> engine;
  audit_head head{0, std::string(security::k_genesis_hash)};

  pg_fixture() {
    keys.backup_key = {"00112233445566aa", std::string(32, 'b')};
    keys.audit_ring = {{"00112233445566cc", std::string(32, 'a')}};
    keys.anchor_file = dir / "anchors";
    {
      auto db = postgres::open_connection(uri);
      postgres::migrate(*db);
    }
    backup_engine_options o;
    o.db = uri;
    auto e = open_backup_engine(o);
    REQUIRE(e.ok());
    engine = std::move(e).value();
    append(security::make_key_start(keys.audit_ring.back().id, k_t0 * 1000));
  }

  fs::path backups() const { return dir / "backups"; }

  // Seals `r` after the head under the audit key and stores it with the head, as the store does.
  void append(audit_record r) {
    auto next = security::seal_record(r, head, &keys.audit_ring.back());
    auto db = postgres::open_connection(uri);
    db->begin(true, sql::durability::durable);
    store_sql::insert_audit_record(*db, r);
    db->prepare(
          "INSERT INTO audit_head(id, seq, hash) VALUES(1, ?, ?) "
          "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash")
        .bind(next.seq)
        .bind(next.hash)
        .exec();
    db->commit();
    head = next;
  }

  void login(const std::string& company, const std::string& actor) {
    audit_record r;
    r.ts_ms = k_t0 * 1000;
    r.company_id = company;
    r.actor = actor;
    r.action = "login";
    r.target = actor;
    r.result = "success";
    append(r);
  }

  void exec(const std::string& sql) const {
    postgres::open_connection(uri)->exec_script(sql.c_str());
  }

  std::int64_t scalar(const std::string& sql) const {
    auto db = postgres::open_connection(uri);
    auto q = db->prepare(sql);
    return q.step() ? q.i64(0) : -1;
  }

  // A single integer from the cluster's maintenance database.
  static std::int64_t cluster_scalar(const std::string& sql) {
    auto& c = aterm::test::shared_pg_cluster();
    auto db = postgres::open_connection(c.uri("postgres"));
    auto q = db->prepare(sql);
    return q.step() ? q.i64(0) : -1;
  }
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Signs `file`'s sidecar again for its current bytes, as an insider holding the backup key could.
void resign(const fs::path& file, const secret_key& key) {
  const fs::path side_path = file.string() + ".json";
  auto side = parse_backup_sidecar(read_all(side_path));
  REQUIRE(side.ok());
  std::string bytes = read_all(file);
  side->sha256 = common::crypto::to_hex(common::crypto::sha256(bytes));
  side->bytes = static_cast<std::int64_t>(bytes.size());
  sign_sidecar(*side, key);
  std::ofstream(side_path, std::ios::binary | std::ios::trunc) << format_backup_sidecar(*side);
}

std::int64_t scratch_databases() {
  return pg_fixture::cluster_scalar(
      "SELECT count(*) FROM pg_database WHERE datname LIKE 'aterm\\_restore\\_%' OR "
      "datname LIKE 'aterm\\_schema\\_%'");
}

}  // namespace

TEST_CASE("postgres: backup, then a restore checked in a scratch database and swapped in") {
  pg_fixture f;
  f.exec("INSERT INTO companies(id, name, created_at_s) VALUES('acme', 'Acme', 1)");
  f.login("acme", "alice");
  auto b = make_backup(*f.engine, f.backups(), day(1), f.keys);
  REQUIRE_MESSAGE(b.ok(), b.error().to_string());
  CHECK(b->file.filename().string() == "aterm-cloud-2026-05-29.dump");
  CHECK(fs::exists(b->file.string() + ".json"));
  CHECK(b->head.seq == f.head.seq);
  CHECK(b->head.hash == f.head.hash);
  CHECK(read_all(b->file).substr(0, 5) == "PGDMP");  // pg_dump's custom format

  // Later changes, which the restore takes back.
  f.exec("INSERT INTO companies(id, name, created_at_s) VALUES('globex', 'Globex', 2)");
  f.login("globex", "bob");
  const std::string live = f.uri.substr(f.uri.rfind('/') + 1);
  auto r = restore_backup(*f.engine, b->file, f.keys);
  REQUIRE_MESSAGE(r.ok(), r.error().to_string());
  CHECK(r->head.seq == b->head.seq);
  CHECK(f.scalar("SELECT count(*) FROM companies WHERE id = 'acme'") == 1);
  CHECK(f.scalar("SELECT count(*) FROM companies WHERE id = 'globex'") == 0);
  CHECK(f.scalar("SELECT seq FROM audit_head") == b->head.seq);
  CHECK(scratch_databases() == 0);
  // The replaced database is kept, with the later changes, for the operator to drop.
  CHECK(pg_fixture::cluster_scalar("SELECT count(*) FROM pg_database WHERE datname LIKE '" + live +
                                   "\\_replaced\\_%'") == 1);
  auto report = verify_audit_file(f.uri, f.keys.audit_ring);
  REQUIRE(report.ok());
  CHECK(report->intact());
  // The restore anchored its head.
  CHECK(read_all(f.keys.anchor_file).find("restored seq=" + std::to_string(b->head.seq)) !=
        std::string::npos);
}

TEST_CASE("postgres: restore refused while another session holds the database") {
  pg_fixture f;
  f.login("acme", "alice");
  auto b = make_backup(*f.engine, f.backups(), day(1), f.keys);
  REQUIRE_MESSAGE(b.ok(), b.error().to_string());
  f.login("acme", "carol");
  auto instance = postgres::open_connection(f.uri);  // a running aterm-cloud's pool
  auto r = restore_backup(*f.engine, b->file, f.keys);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == "restore_refused");
  CHECK(r.error().message().find("stop every aterm-cloud instance") != std::string::npos);
  CHECK(f.scalar("SELECT seq FROM audit_head") == f.head.seq);
  CHECK(scratch_databases() == 0);
  instance.reset();
  auto again = restore_backup(*f.engine, b->file, f.keys);
  REQUIRE_MESSAGE(again.ok(), again.error().to_string());
  CHECK(f.scalar("SELECT seq FROM audit_head") == b->head.seq);
}

TEST_CASE("postgres: tampered dumps are refused and the database is untouched") {
  pg_fixture f;
  f.exec("INSERT INTO companies(id, name, created_at_s) VALUES('acme', 'Acme', 1)");
  f.login("acme", "alice");
  f.login("acme", "bob");

  SUBCASE("a flipped byte") {
    auto b = make_backup(*f.engine, f.backups(), day(1), f.keys);
    REQUIRE(b.ok());
    auto size = fs::file_size(b->file);
    {
      std::fstream io(b->file, std::ios::in | std::ios::out | std::ios::binary);
      io.seekp(static_cast<std::streamoff>(size / 2));
      io.put('\x5a');
    }
    auto r = restore_backup(*f.engine, b->file, f.keys);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == "bad_backup");
    CHECK(r.error().message().find("SHA-256") != std::string::npos);
  }

  SUBCASE("not a dump, re-signed") {
    auto b = make_backup(*f.engine, f.backups(), day(1), f.keys);
    REQUIRE(b.ok());
    std::ofstream(b->file, std::ios::binary | std::ios::trunc) << "DROP TABLE companies;\n";
    resign(b->file, f.keys.backup_key);
    auto r = restore_backup(*f.engine, b->file, f.keys);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == "bad_backup");
    CHECK(r.error().message().find("not a dump pg_restore reads") != std::string::npos);
  }

  SUBCASE("a planted function and trigger, signed by the backup job") {
    f.exec(
        "CREATE FUNCTION planted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE accounts SET role = 'administrator'; RETURN new; END $$; "
        "CREATE TRIGGER planted_on_login AFTER INSERT ON audit_log FOR EACH ROW "
        "EXECUTE FUNCTION planted()");
    auto b = make_backup(*f.engine, f.backups(), day(1), f.keys);
    REQUIRE_MESSAGE(b.ok(), b.error().to_string());
    auto r = restore_backup(*f.engine, b->file, f.keys);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == "bad_backup");
    MESSAGE(r.error().message());
    CHECK(r.error().message().find("foreign planted(); Type: FUNCTION") != std::string::npos);
    CHECK(r.error().message().find("foreign audit_log planted_on_login; Type: TRIGGER") !=
          std::string::npos);
  }

  SUBCASE("an edited access log, re-signed") {
    f.exec(
        "ALTER TABLE audit_log DISABLE TRIGGER USER; "
        "UPDATE audit_log SET detail = 'forged' WHERE actor = 'alice'; "
        "ALTER TABLE audit_log ENABLE TRIGGER USER");
    auto b = make_backup(*f.engine, f.backups(), day(1), f.keys);
    REQUIRE(b.ok());
    auto r = restore_backup(*f.engine, b->file, f.keys);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("access log broken") != std::string::npos);
  }

  CHECK(f.scalar("SELECT seq FROM audit_head") == f.head.seq);
  CHECK(f.scalar("SELECT count(*) FROM companies") == 1);
  CHECK(scratch_databases() == 0);
}

TEST_CASE("postgres: daily backups over 8 days leave exactly 7") {
  pg_fixture f;
  for (int d = 0; d < 8; ++d) {
    f.login("acme", "day" + std::to_string(d));
    auto b = make_backup(*f.engine, f.backups(), day(d), f.keys);
    REQUIRE_MESSAGE(b.ok(), b.error().to_string());
    REQUIRE(prune_backups(f.backups(), day(d), 7).ok());
  }
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(f.backups())) names.insert(e.path().filename());
  CHECK(names.size() == 14);  // 7 dumps and their sidecars
  CHECK(names.count(backup_file_name(*f.engine, day(1))) == 1);
  CHECK(names.count(backup_file_name(*f.engine, day(7)) + ".json") == 1);
  CHECK(names.count(backup_file_name(*f.engine, day(0))) == 0);
  CHECK(names.count(backup_file_name(*f.engine, day(0)) + ".json") == 0);
}

TEST_CASE("postgres: the URI's password reaches pg_dump in its environment only") {
  // A pg_dump stand-in that records its arguments and its PGPASSWORD.
  aterm::test::temp_dir bin("unit-pg-bin");
  const fs::path seen = bin / "seen";
  {
    std::ofstream script(bin / "pg_dump");
    script << "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" << seen.string()
           << "'\nprintf 'env %s\\n' \"$PGPASSWORD\" >> '" << seen.string()
           << "'\necho 'pg_dump: error: refused for the test' >&2\nexit 1\n";
  }
  fs::permissions(bin / "pg_dump", fs::perms::owner_all);
  auto& cluster = aterm::test::shared_pg_cluster();
  const std::string password = "s3cret-Pa55";
  std::string uri = cluster.create_database("pw");
  postgres::migrate(*postgres::open_connection(uri));
  uri.replace(uri.find("postgres@"), 9, "postgres:" + password + "@");
  backup_engine_options o;
  o.db = uri;
  o.pg_bin_dir = bin.path();
  auto engine = open_backup_engine(o);
  REQUIRE(engine.ok());
  aterm::test::temp_dir out("unit-pg-out");
  backup_keys keys;
  keys.backup_key = {"00112233445566aa", std::string(32, 'b')};
  auto b = make_backup(**engine, out.path(), day(1), keys);
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().message().find("refused for the test") != std::string::npos);
  CHECK(b.error().message().find(password) == std::string::npos);
  const std::string args = read_all(seen);
  CHECK(args.find("--format=custom") != std::string::npos);
  CHECK(args.find("env " + password) != std::string::npos);
  CHECK(args.substr(0, args.find("env ")).find(password) == std::string::npos);
}

}  // namespace aterm::cloud::jobs::test
