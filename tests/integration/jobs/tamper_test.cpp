// Attacks on the access log and the backups through real files and the real aterm-cloud CLI:
// an insider who can write the database file or the backup folder, but cannot read the key
// files kept outside them.
#include <doctest/doctest.h>

#include "aterm/cloud/jobs/backup_sidecar.h"
#include "aterm/cloud/security/audit_chain.h"
#include "aterm/cloud/security/key_file.h"
#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/store.h"
#include "aterm/common/crypto.h"
#include "jobs_env.h"

namespace aterm::test::jobs {

namespace {

namespace security = cloud::security;

fs::path sidecar_of(const fs::path& backup) {
  return backup.string() + ".json";
}

fs::path only_backup(const jobs_env& env) {
  for (const auto& e : fs::directory_iterator(env.backups())) {
    if (e.path().extension() == ".db") return e.path();
  }
  throw std::runtime_error("no backup");
}

std::string sqlite3(const fs::path& db, const std::string& sql) {
  auto r = run({"sqlite3", db.string(), sql});
  if (r.exit_code != 0) throw std::runtime_error("sqlite3: " + r.err);
  return r.out;
}

// Makes the sidecar match the (changed) backup again and signs it with `key`: the sidecar is
// right in every field, so only the other checks can refuse the file.
void resign_sidecar(const fs::path& backup, const cloud::secret_key& key) {
  std::string bytes = read_file(backup);
  const std::string sum = common::crypto::to_hex(common::crypto::sha256(bytes));
  const std::string text = read_file(sidecar_of(backup));
  auto side = cloud::jobs::parse_backup_sidecar(text);
  if (!side.ok()) {
    // A program before the signed sidecar: its unsigned sidecar only records the checksum.
    auto old = common::parse_json(text);
    REQUIRE(old.ok());
    cJSON_ReplaceItemInObjectCaseSensitive(old->get(), "sha256", cJSON_CreateString(sum.c_str()));
    write_file(sidecar_of(backup), common::print_json(old->get()));
    return;
  }
  side->sha256 = sum;
  side->bytes = static_cast<std::int64_t>(bytes.size());
  cloud::jobs::sign_sidecar(*side, key);
  write_file(sidecar_of(backup), cloud::jobs::format_backup_sidecar(*side));
}

cloud::secret_key some_other_key();

// The key in use of a key file; a program without key files gets some key (its checks ignore it).
cloud::secret_key key_in(const fs::path& file) {
  if (!fs::exists(file)) return some_other_key();
  auto ring = security::load_keyring(file);
  REQUIRE_MESSAGE(ring.ok(), ring.error().message());
  return ring->back();
}

cloud::secret_key some_other_key() {
  auto b = common::crypto::random_bytes(32);
  cloud::secret_key k;
  k.secret.assign(b.begin(), b.end());
  k.id = security::key_id_of(k.secret);
  return k;
}

std::vector<cloud::audit_record> read_chain(const fs::path& db) {
  cloud::store_options o;
  o.rules = aterm::cloud::security::rules_for_store();
  o.db = db.string();
  auto s = cloud::open_store(o, common::system_clock::instance());
  REQUIRE(s.ok());
  auto records = (*s)->read_audit_chain(0, 100000);
  REQUIRE(records.ok());
  return *records;
}

// The first thing a database writer does: drop every trigger (those that refuse changes to the
// access log among them).
void drop_triggers(const fs::path& db) {
  std::string drop;
  std::string names = sqlite3(db, "SELECT name FROM sqlite_master WHERE type = 'trigger'");
  std::size_t start = 0;
  while (start < names.size()) {
    auto end = names.find('\n', start);
    std::string name = names.substr(start, end == std::string::npos ? end : end - start);
    if (!name.empty()) drop += "DROP TRIGGER \"" + name + "\";";
    start = end == std::string::npos ? names.size() : end + 1;
  }
  REQUIRE(exec_sql(db, drop) == "");
}

// Then: change record `edit_seq` and seal the chain again from `from_seq` on under `key` (null:
// plain SHA-256), head included.
void rewrite_chain(const fs::path& db, std::int64_t edit_seq, std::int64_t from_seq,
                   const cloud::secret_key* key) {
  drop_triggers(db);
  REQUIRE(exec_sql(db, "UPDATE audit_log SET detail = 'nothing happened' WHERE seq = " +
                           std::to_string(edit_seq)) == "");
  auto chain = read_chain(db);
  std::string running(security::k_genesis_hash);
  std::string sql = "BEGIN;";
  for (auto& r : chain) {
    if (r.seq >= from_seq) {
      r.prev_hash = running;
      r.hash = security::chain_mac(key, running, r);
      sql += "UPDATE audit_log SET prev_hash = '" + r.prev_hash + "', hash = '" + r.hash +
             "' WHERE seq = " + std::to_string(r.seq) + ";";
    }
    running = r.hash;
  }
  sql += "UPDATE audit_head SET hash = '" + running + "' WHERE id = 1; COMMIT;";
  REQUIRE(exec_sql(db, sql) == "");
}

common::json_ptr verify_report(const run_result& r) {
  auto parsed = common::parse_json(r.out);
  REQUIRE_MESSAGE(parsed.ok(), (r.out + r.err));
  return std::move(parsed).value();
}

}  // namespace

TEST_CASE("hostile_backup_with_foreign_trigger_is_refused") {
  jobs_env env;
  env.configure();
  env.seed_acme();
  REQUIRE(env.cli({"backup"}).exit_code == 0);
  fs::path backup = only_backup(env);
  // Two triggers planted in the backup: one drops every later access-log record, the other puts
  // a password hash the attacker knows on the administrator at its next update.
  sqlite3(backup,
          "CREATE TRIGGER zz_drop_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(IGNORE); "
          "END; CREATE TRIGGER zz_plant_password AFTER UPDATE ON accounts BEGIN UPDATE accounts "
          "SET password_hash = 'attacker' WHERE login_id = 'admin'; END;");
  // The attacker is even given the backup key: the sidecar is right in every field.
  resign_sidecar(backup, key_in(env.db().string() + ".backup-key"));
  const auto records = env.scalar("SELECT count(*) FROM audit_log");

  auto r = env.cli({"restore", backup.string()});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(r.err.find("foreign trigger zz_drop_audit") != std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find("foreign trigger zz_plant_password") != std::string::npos, r.err);
  CHECK(env.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE "
                   "'zz_%'") == 0);
  // Nothing changed, and the access log still takes records.
  env.must({"admin", "company", "create", "--id", "globex", "--name", "Globex"});
  CHECK(env.scalar("SELECT count(*) FROM audit_log") > records);
  CHECK(env.cli({"audit", "verify"}).exit_code == 0);
}

TEST_CASE("backup_without_sidecar_or_signed_with_another_key_is_refused") {
  jobs_env env;
  env.configure();
  env.seed_acme();
  REQUIRE(env.cli({"backup"}).exit_code == 0);
  fs::path backup = only_backup(env);
  env.must({"admin", "company", "create", "--id", "globex", "--name", "Globex"});

  SUBCASE("no sidecar") {
    fs::remove(sidecar_of(backup));
    auto r = env.cli({"restore", backup.string()});
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.find("no sidecar") != std::string::npos, r.err);
  }
  SUBCASE("a sidecar signed with another key") {
    resign_sidecar(backup, some_other_key());
    auto r = env.cli({"restore", backup.string()});
    CHECK(r.exit_code == 1);
    CHECK_MESSAGE(r.err.find("not signed with the backup key") != std::string::npos, r.err);
  }
  SUBCASE("the untouched backup restores") {
    auto r = env.cli({"restore", backup.string()});
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(env.scalar("SELECT count(*) FROM companies WHERE id = 'globex'") == 0);
    CHECK(env.cli({"audit", "verify"}).exit_code == 0);
    return;
  }
  CHECK(env.scalar("SELECT count(*) FROM companies WHERE id = 'globex'") == 1);
}

TEST_CASE("access_log_rewritten_without_the_key_fails_audit_verify_naming_the_record") {
  jobs_env env;
  env.configure();
  env.seed_acme();
  for (const char* id : {"globex", "initech", "umbrella"}) {
    env.must({"admin", "company", "create", "--id", id, "--name", id});
  }
  const std::int64_t last = env.scalar("SELECT max(seq) FROM audit_log");
  const std::int64_t middle = last / 2 + 1;
  REQUIRE(middle > 2);
  const auto other = some_other_key();

  struct attack {
    const char* name;
    std::int64_t from_seq;
    const cloud::secret_key* key;
    std::int64_t named_seq;
    const char* result;
  };
  for (const auto& a : {
           attack{"plain SHA-256 from the edited record on", middle, nullptr, middle, "edited"},
           attack{"plain SHA-256 over the whole chain", 1, nullptr, 1, "not_keyed"},
           attack{"another key from the edited record on", middle, &other, middle, "edited"},
           attack{"another key over the whole chain", 1, &other, 1, "edited"},
       }) {
    CAPTURE(a.name);
    jobs_env copy;
    copy.configure();
    fs::copy_file(env.db(), copy.db());
    if (fs::exists(env.db().string() + ".audit-key")) {
      fs::copy_file(env.db().string() + ".audit-key", copy.db().string() + ".audit-key");
    }
    rewrite_chain(copy.db(), middle, a.from_seq, a.key);
    auto v = copy.cli({"audit", "verify"});
    CHECK(v.exit_code == 1);
    auto report = verify_report(v);
    CHECK(common::json_int(report.get(), "first_bad_seq") == a.named_seq);
    CHECK(common::json_string(report.get(), "result") == a.result);
    CHECK_MESSAGE(v.err.find("seq " + std::to_string(a.named_seq)) != std::string::npos, v.err);
  }
}

TEST_CASE("cut_tail_or_rewrite_after_an_anchor_is_reported") {
  jobs_env env;
  env.configure();
  env.seed_acme();
  // The backup anchors the head it copies.
  const std::int64_t anchor_seq = env.scalar("SELECT max(seq) FROM audit_log");
  auto anchored = env.cli({"backup"});
  REQUIRE_MESSAGE(anchored.exit_code == 0, anchored.err);
  for (const char* id : {"globex", "initech"}) {
    env.must({"admin", "company", "create", "--id", id, "--name", id});
  }
  REQUIRE(env.cli({"audit", "verify"}).exit_code == 0);

  SUBCASE("the records from the anchored one on are deleted and the head moved back") {
    // The chain that remains is consistent under the key and ends at the moved head: only the
    // anchor can tell.
    drop_triggers(env.db());
    const std::string keep = std::to_string(anchor_seq - 1);
    REQUIRE(exec_sql(env.db(), "DELETE FROM audit_log WHERE seq > " + keep +
                                   "; UPDATE audit_head SET seq = " + keep +
                                   ", hash = (SELECT hash FROM audit_log WHERE seq = " + keep +
                                   ") WHERE id = 1") == "");
    auto v = env.cli({"audit", "verify"});
    CHECK(v.exit_code == 1);
    auto report = verify_report(v);
    CHECK(common::json_string(report.get(), "result") == std::string("cut_tail"));
    CHECK_MESSAGE(v.err.find("seq " + std::to_string(anchor_seq)) != std::string::npos, v.err);
  }
  SUBCASE("a consistent rewrite under the key itself is found at the anchor") {
    auto key = key_in(env.db().string() + ".audit-key");
    rewrite_chain(env.db(), 2, 2, &key);
    auto v = env.cli({"audit", "verify"});
    CHECK(v.exit_code == 1);
    auto report = verify_report(v);
    CHECK(common::json_string(report.get(), "result") == std::string("rewritten"));
    CHECK(common::json_int(report.get(), "first_bad_seq") == anchor_seq);
  }
}

TEST_CASE("audit rotate-key continues the chain under a new key that verify follows") {
  jobs_env env;
  env.configure();
  env.seed_acme();
  auto r = env.cli({"audit", "rotate-key"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  env.must({"admin", "company", "create", "--id", "globex", "--name", "Globex"});
  auto ring = cloud::security::load_keyring(env.db().string() + ".audit-key");
  REQUIRE(ring.ok());
  CHECK(ring->size() == 2);
  CHECK(env.scalar("SELECT count(*) FROM audit_log WHERE action = 'audit.key_rotation'") == 1);
  CHECK(env.cli({"audit", "verify"}).exit_code == 0);
  auto anchored = env.cli({"audit", "anchor"});
  CHECK_MESSAGE(anchored.exit_code == 0, anchored.err);
  CHECK(env.cli({"audit", "verify"}).exit_code == 0);
  // Without the old key the records before the rotation no longer verify.
  write_file(env.db().string() + ".audit-key",
             read_file(env.db().string() + ".audit-key").substr(82));
  CHECK(env.cli({"audit", "verify"}).exit_code == 1);
}

}  // namespace aterm::test::jobs
