#include <doctest/doctest.h>

#include <fstream>

#include "aterm/cloud/jobs/backup.h"
#include "aterm/cloud/jobs/backup_sidecar.h"
#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/common/crypto.h"
#include "jobs_fixture.h"

namespace aterm::cloud::jobs::test {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> backup_names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    auto n = e.path().filename().string();
    if (n.size() > 3 && n.substr(n.size() - 3) == ".db") out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<backup_engine> engine_of(const std::string& db) {
  backup_engine_options o;
  o.db = db;
  auto e = open_backup_engine(o);
  REQUIRE(e.ok());
  return std::move(e).value();
}

// These check the SQLite engine's backup files (*.db copies); the PostgreSQL engine's backups
// have their own suite (pg_backup_test.cpp).
const bool k_sqlite_only = on_postgres();

}  // namespace

TEST_CASE("daily backups over 9 simulated days leave exactly 7" * doctest::skip(k_sqlite_only)) {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  f.settings.backup_minute_of_day = 3 * 60;  // 03:00 UTC
  // Day 0 starts at k_t0's midnight; each sweep runs at 02:00 (too early) and 04:00.
  auto midnight = common::from_unix_s(k_t0 - k_t0 % k_day_s);
  for (int d = 0; d < 9; ++d) {
    auto early = midnight + std::chrono::hours(24 * d + 2);
    CHECK_FALSE(f.has_line(f.sweep(early, false, true), "backup.create"));
    auto lines = f.sweep(early + std::chrono::hours(2), false, true);
    CHECK(f.has_line(lines, "backup.create file=aterm-cloud-"));
    // Once a day only.
    CHECK_FALSE(f.has_line(f.sweep(early + std::chrono::hours(3), false, true), "backup.create"));
  }
  auto names = backup_names(f.settings.backup_dir);
  REQUIRE(names.size() == 7);
  auto engine = engine_of(f.path());
  CHECK(names.front() == backup_file_name(*engine, midnight + std::chrono::hours(24 * 2)));
  CHECK(names.back() == backup_file_name(*engine, midnight + std::chrono::hours(24 * 8)));
  CHECK(fs::exists(fs::path(f.settings.backup_dir) / (names.front() + ".json")));
  CHECK_FALSE(fs::exists(fs::path(f.settings.backup_dir) /
                         (backup_file_name(*engine, midnight + std::chrono::hours(24)) + ".json")));
  CHECK(f.scalar("SELECT count(*) FROM audit_log WHERE action = 'backup.delete'") == 2);
}

TEST_CASE("restore round trip and refusal of a corrupt backup" * doctest::skip(k_sqlite_only)) {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  f.make_account("acme", "alice", "administrator", "alice@example.com");
  REQUIRE(f.db->append_audit({"acme", "alice", "login", "alice", "success", "", ""}).ok());
  auto engine = engine_of(f.path());
  auto b = make_backup(*engine, f.settings.backup_dir, day(1), f.settings.keys);
  REQUIRE_MESSAGE(b.ok(), b.error().to_string());
  CHECK(b->head.seq == f.scalar("SELECT seq FROM audit_head"));
  CHECK(b->sha256.size() == 64);

  // Later changes: a new company and more records.
  REQUIRE(f.db->create_company("globex", "Globex").ok());
  REQUIRE(f.db->append_audit({"globex", "bob", "login", "bob", "success", "", ""}).ok());
  f.db.reset();
  f.port.reset();

  SUBCASE("round trip") {
    auto r = restore_backup(*engine, b->file, f.settings.keys);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    store_options o;
    o.rules = aterm::cloud::security::rules_for_store();
    o.db = f.path();
    auto db = open_store(o, f.clock);
    REQUIRE(db.ok());
    CHECK((*db)->get_company("acme").ok());
    CHECK_FALSE((*db)->get_company("globex").ok());
    CHECK((*db)->find_account("acme", "alice").ok());
    auto head = (*db)->get_audit_head();
    REQUIRE(head.ok());
    CHECK(head->seq == b->head.seq);
    CHECK(head->hash == b->head.hash);
    auto report = verify_audit_file(f.path());
    REQUIRE(report.ok());
    CHECK(report->intact());
  }

  SUBCASE("a flipped byte is refused and the database is untouched") {
    auto size = fs::file_size(b->file);
    {
      std::fstream io(b->file, std::ios::in | std::ios::out | std::ios::binary);
      io.seekp(static_cast<std::streamoff>(size - 100));
      io.put('\x5a');
    }
    auto r = restore_backup(*engine, b->file, f.settings.keys);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == "bad_backup");
    CHECK(f.scalar("SELECT count(*) FROM companies WHERE id = 'globex'") == 1);
  }

  SUBCASE("a damaged file without its record is refused by SQLite's own checks") {
    fs::remove(fs::path(b->file.string() + ".json"));
    {
      std::fstream io(b->file, std::ios::in | std::ios::out | std::ios::binary);
      io.seekp(0);
      io.write("garbage garbage!", 16);  // the header
    }
    auto r = restore_backup(*engine, b->file, f.settings.keys);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == "bad_backup");
  }

  SUBCASE("a backup whose access log was edited is refused") {
    REQUIRE(fs::exists(b->file));
    REQUIRE(aterm::test::exec_sql(
                b->file,
                "DROP TRIGGER audit_log_no_update; "
                "UPDATE audit_log SET detail = 'forged' WHERE action = 'login'") == "");
    // Put the trigger back and sign the sidecar for the changed file, so only the chain tells.
    REQUIRE(aterm::test::exec_sql(
                b->file,
                "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log\n"
                "BEGIN SELECT RAISE(ABORT, 'access log records cannot be changed'); END") == "");
    const fs::path side_path = b->file.string() + ".json";
    std::ifstream in(side_path, std::ios::binary);
    auto side = parse_backup_sidecar(
        std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
    REQUIRE(side.ok());
    std::ifstream file(b->file, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    side->sha256 = common::crypto::to_hex(common::crypto::sha256(bytes));
    side->bytes = static_cast<std::int64_t>(bytes.size());
    sign_sidecar(*side, f.settings.keys.backup_key);
    std::ofstream(side_path, std::ios::binary | std::ios::trunc) << format_backup_sidecar(*side);
    auto r = check_backup(*engine, b->file, f.settings.keys);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("access log broken") != std::string::npos);
  }
}

}  // namespace aterm::cloud::jobs::test
