// The store against a real database of the engine ATERM_TEST_ENGINE names (a SQLite file in a
// temporary folder, or a fresh PostgreSQL database; aterm/test/pg_cluster.h): migrations, tenant
// scoping, apply_batch semantics (exactly one final state per command), command delivery
// bookkeeping, technician-login events, account locks, and the access log's triggers and chain.
// What only one engine has (SQLite's file, pragmas, query plans and disk syncs) is checked on
// that engine.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/audit_chain.h"
#include "aterm/cloud/security/built_in_roles.h"
#include "aterm/cloud/security/lockout_policy.h"
#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/security/technician_login_policy.h"
#include "aterm/cloud/store.h"
#include "aterm/common/protocol.h"
#include "aterm/test/pg_cluster.h"
#include "aterm/test/sql.h"
#include "aterm/test/support.h"
#include "device_rows.h"
#include "engine.h"
#include "rows.h"
#include "sql/sql.h"
#include "sql/transactions.h"

namespace {

using namespace aterm;
using namespace std::chrono_literals;
using cloud::store;
namespace protocol = common::protocol;

constexpr std::int64_t k_t0 = 1'800'000'000;  // 2027-01-15, a fixed start for the manual clock

bool on_postgres() {
  return test::test_engine() == test::db_engine::postgres;
}

struct fixture {
  std::string path = test::test_db("store");  // a file path or a postgresql:// URI
  common::manual_clock clock{common::from_unix_s(k_t0)};
  std::unique_ptr<store> db;
  // Which routers get their technician secret (none unless a case sets it and reopens).
  cloud::technician_secret_rule secret_rule;

  fixture() { db = open(); }

  std::unique_ptr<store> open(std::size_t history = 0) {
    cloud::store_options o;
    o.rules = aterm::cloud::security::rules_for_store();
    o.db = path;
    o.state_history_per_device = history;
    // The service's technician-login rule with its default record limits.
    o.technician_events = cloud::security::technician_event_rule_of({});
    o.technician_secret = secret_rule;
    auto s = cloud::open_store(o, clock);
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    return std::move(s).value();
  }

  // Company `id` with destination "default" and the devices given.
  void company_with(const std::string& id, std::vector<std::string> devices) {
    REQUIRE(db->create_company(id, "Company " + id).ok());
    auto dest = db->ensure_destination(id, "default");
    REQUIRE(dest.ok());
    for (const auto& d : devices) REQUIRE(db->register_device(id, d, dest->id).ok());
  }

  cloud::command_record command(const std::string& company, const std::string& device,
                                std::int64_t timeout_s = 60, const std::string& op = "ping") {
    cloud::new_command c{device, op, "{}", clock.now_s() + timeout_s, "alice"};
    auto r = db->create_command(company, c);
    REQUIRE_MESSAGE(r.ok(), r.error().to_string());
    return *r;
  }

  // Raw SQL on the same database, as an attacker with access to it would run it. True when it
  // ran; `error` receives the engine's error text.
  bool raw_exec(const std::string& sql, std::string* error = nullptr) {
    std::string err = test::exec_sql(path, sql);
    if (error) *error = err;
    return err.empty();
  }
};

// A device list query of the search, presence filter, page size and cursor alone.
cloud::device_query query_of(std::string q, std::optional<cloud::presence_state> presence,
                             std::size_t limit, std::string cursor) {
  cloud::device_query out;
  out.q = std::move(q);
  out.presence = presence;
  out.limit = limit;
  out.cursor = std::move(cursor);
  return out;
}

bridge::device_message presence(const std::string& device, bool online, std::int64_t ms) {
  protocol::presence p{online, "1.0.0", ms / 1000};
  return {device, protocol::topic_kind::presence, ms, protocol::encode(p), p};
}

bridge::device_message state(const std::string& device, std::int64_t seq, std::int64_t ms) {
  protocol::state_snapshot s;
  s.ts = ms / 1000;
  s.seq = seq;
  s.model = "WX3600HP";
  return {device, protocol::topic_kind::state, ms, protocol::encode(s), s};
}

bridge::device_message result_of(const std::string& device, const std::string& id,
                                 protocol::result_status st, std::int64_t ms) {
  protocol::command_result r{id, st, st == protocol::result_status::ok ? "{\"pong\":true}" : "{}",
                             st == protocol::result_status::error ? "boom" : ""};
  return {device, protocol::topic_kind::result, ms, protocol::encode(r), r};
}

bridge::device_message event_of(const std::string& device, const std::string& type,
                                const std::string& login_id, std::int64_t ms) {
  protocol::event e{ms / 1000, type, "{\"login_id\":\"" + login_id + "\"}"};
  return {device, protocol::topic_kind::event, ms, protocol::encode(e), e};
}

// The technician login T-ABCD2345 of acme's acme-r1, issued at k_t0, and its install command.
std::pair<cloud::technician_login, cloud::new_command> login_of_acme_r1() {
  cloud::technician_login l;
  l.login_id = "T-ABCD2345";
  l.company_id = "acme";
  l.device_id = "acme-r1";
  l.salt_hex = std::string(32, 'a');
  l.hash_hex = std::string(64, 'b');
  l.issued_at_s = k_t0;
  l.expires_at_s = k_t0 + 3600;
  l.created_by = "alice";
  cloud::new_command install{"acme-r1", "technician_login.install", "{\"login_id\":\"T-ABCD2345\"}",
                             k_t0 + 3600, "alice"};
  return {l, install};
}

bridge::batch_outcome apply(store& s, std::vector<bridge::device_message> batch) {
  auto r = s.apply_batch(batch);
  REQUIRE_MESSAGE(r.ok(), r.error().to_string());
  return *r;
}

}  // namespace

TEST_CASE("migrations: a new file gets the latest schema, a reopen keeps the data") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  f.db.reset();
  f.db = f.open();
  CHECK(f.db->get_company("acme").ok());
  if (on_postgres()) {
    CHECK(test::query_int(f.path, "SELECT max(version) FROM schema_migrations") ==
          cloud::sqlite_schema_version());
    return;
  }
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(f.path.c_str(), &h) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) == cloud::sqlite_schema_version());
  sqlite3_finalize(st);
  REQUIRE(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "wal");
  sqlite3_finalize(st);
  sqlite3_close(h);
}

TEST_CASE("migrations: a database newer than the program is refused") {
  fixture f;
  f.db.reset();
  REQUIRE(f.raw_exec(on_postgres() ? "INSERT INTO schema_migrations(version, description) "
                                     "VALUES(999, 'a later program')"
                                   : "PRAGMA user_version = 999"));
  cloud::store_options o;
  o.rules = aterm::cloud::security::rules_for_store();
  o.db = f.path;
  auto s = cloud::open_store(o, f.clock);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().code() == cloud::k_store);
  CHECK(s.error().message().find("newer") != std::string::npos);
}

// The store without the schemas after 9 (10: the fleet's filter columns and profile state; 11:
// the alerts' tables and alarm columns; 12: the notices; 13: the technician's name; 14: the
// fleet jobs and tags; 15: the technician secrets' key ids and the logins' tombstones; 16: the
// jobs' progress counters and their triggers; 17: the sweep's index of presence, which
// PostgreSQL's 18 replaces by its index of online routers; SQLite's 18 changes nothing), for a test
// that rewinds the schema further.
std::string undo_schemas_after_9() {
  return std::string(on_postgres() ? "DROP FUNCTION fleet_job_commands_count() CASCADE;"
                                     "DROP FUNCTION fleet_jobs_uncount() CASCADE;"
                                     "DROP FUNCTION fleet_job_devices_count() CASCADE;"
                                     "DROP FUNCTION fleet_job_count(bigint, text, bigint);"
                                     "DROP FUNCTION fleet_job_status(text, text);"
                                   : "DROP TRIGGER fleet_job_commands_recounted;"
                                     "DROP TRIGGER fleet_job_commands_uncounted;"
                                     "DROP TRIGGER fleet_jobs_uncounted;"
                                     "DROP TRIGGER fleet_job_devices_counted;"
                                     "DROP TRIGGER fleet_job_devices_uncounted;"
                                     "DROP TRIGGER fleet_job_devices_recounted;") +
         std::string(
             "DROP INDEX IF EXISTS devices_claim_check;"
             "DROP INDEX IF EXISTS devices_online;"
             "DROP TABLE fleet_job_counts;"
             "DROP TABLE technician_login_tombstones;"
             "ALTER TABLE devices DROP COLUMN technician_secret_key_id;"
             "DROP TABLE device_tags;"
             "DROP TABLE fleet_job_devices;"
             "DROP TABLE fleet_jobs;"
             "DROP TABLE notice_updates;"
             "DROP TABLE notices;"
             "DROP TABLE webhook_outbox;"
             "DROP TABLE notification_channels;"
             "DROP TABLE alert_rules;"
             "DROP INDEX alarms_active_router;"
             "DROP INDEX alarms_company;"
             "ALTER TABLE alarms DROP COLUMN device_id;"
             "ALTER TABLE alarms DROP COLUMN acknowledged_by;"
             "ALTER TABLE alarms DROP COLUMN ack_comment;"
             "ALTER TABLE alarms DROP COLUMN cleared_at_s;"
             "DROP INDEX devices_company_destination;"
             "DROP INDEX devices_company_model;"
             "DROP INDEX devices_company_firmware;"
             "ALTER TABLE devices DROP COLUMN model;"
             "ALTER TABLE devices DROP COLUMN firmware;"
             "ALTER TABLE devices DROP COLUMN wan_ip;"
             "ALTER TABLE devices DROP COLUMN profile_command_id;"
             "ALTER TABLE devices DROP COLUMN profile_hash;"
             "ALTER TABLE devices DROP COLUMN profile_rev;"
             "ALTER TABLE destinations DROP COLUMN profile_hash;"
             "ALTER TABLE technician_logins DROP COLUMN technician_name;") +
         (on_postgres() ? "DELETE FROM schema_migrations WHERE version > 9;" : "");
}

// The store as schema 8 left it: no forced-change column, no case-folded index.
std::string back_to_schema_8() {
  return undo_schemas_after_9() +
         std::string(
             "DROP INDEX accounts_login_id_folded;"
             "ALTER TABLE accounts DROP COLUMN password_change_required;") +
         (on_postgres() ? "DELETE FROM schema_migrations WHERE version = 9;"
                        : "PRAGMA user_version = 8;");
}

TEST_CASE("migrations: schema 9 trims login ids and refuses ids differing only in case") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  auto made = f.db->create_account({"acme", "op1", "op1@acme.example", "viewer", "h"});
  REQUIRE(made.ok());
  const std::string copy =
      "INSERT INTO accounts(company_id, login_id, email, role_id, password_hash, created_at_s) "
      "SELECT company_id, '%', email, role_id, password_hash, created_at_s FROM accounts "
      "WHERE login_id = 'op1';";
  auto with = [&](const std::string& id) {
    auto sql = copy;
    sql.replace(sql.find('%'), 1, id);
    return sql;
  };
  f.db.reset();
  std::string error;
  SUBCASE("spaces are trimmed") {
    REQUIRE_MESSAGE(f.raw_exec(back_to_schema_8() + with(" op2 "), &error), error);
    f.db = f.open();
    CHECK(f.db->find_account("acme", "OP2").ok());
    CHECK(f.db->find_account("acme", "op2")->login_id == "op2");
    // The index holds from now on: another case of a taken id is refused.
    auto again = f.db->create_account({"acme", "Op1", "x@acme.example", "viewer", "h"});
    CHECK(again.error().code() == cloud::k_conflict);
  }
  SUBCASE("two ids that differ only in case are named, and nothing changes") {
    REQUIRE_MESSAGE(f.raw_exec(back_to_schema_8() + with("OP1"), &error), error);
    cloud::store_options o;
    o.rules = aterm::cloud::security::rules_for_store();
    o.db = f.path;
    auto refused = cloud::open_store(o, f.clock);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message().find("acme/op1") != std::string::npos);
    CHECK(refused.error().message().find("differ only in case") != std::string::npos);
  }
}

TEST_CASE("built-in roles are present and read-only") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  auto roles = f.db->list_roles("acme");
  REQUIRE(roles.ok());
  REQUIRE(roles->size() == 3);
  for (const auto& r : *roles) {
    CHECK(r.built_in);
    CHECK(r.permissions == cloud::security::built_in_permissions(r.name));
    CHECK(f.db->update_role("acme", r.id, "x", std::nullopt).error().code() == cloud::k_conflict);
    CHECK(f.db->delete_role("acme", r.id).code() == cloud::k_conflict);
  }
  auto admin = f.db->find_role("acme", "administrator");
  REQUIRE(admin.ok());
  CHECK(admin->permissions.size() == cloud::k_permissions.size());
  CHECK(f.db->create_role("acme", "auditor", {"audit.read", "no.such"}).error().code() ==
        cloud::k_invalid);
  auto custom = f.db->create_role("acme", "auditor", {"audit.read"});
  REQUIRE(custom.ok());
  CHECK(f.db->create_role("acme", "viewer", {}).error().code() == cloud::k_conflict);
}

TEST_CASE("tenant scoping: another company's rows answer not_found") {
  fixture f;
  f.company_with("acme", {"acme-r1"});
  f.company_with("globex", {"globex-r1"});
  auto cmd = f.command("acme", "acme-r1");
  auto role = f.db->create_role("acme", "ops", {"device.read"});
  REQUIRE(role.ok());
  auto acct = f.db->create_account({"acme", "alice", "a@example.com", "ops", "pbkdf2$x"});
  REQUIRE(acct.ok());
  auto dest = f.db->ensure_destination("acme", "default");
  REQUIRE(dest.ok());

  auto nf = [](const cloud::status& s) { return s.code() == cloud::k_not_found; };
  CHECK(nf(f.db->get_device("globex", "acme-r1").error()));
  CHECK(nf(f.db->get_command("globex", cmd.id).error()));
  CHECK(nf(f.db->create_command("globex", {"acme-r1", "ping", "{}", k_t0 + 60, "x"}).error()));
  CHECK(nf(f.db->state_history("globex", "acme-r1", 10).error()));
  CHECK(nf(f.db->get_account("globex", acct->id).error()));
  CHECK(nf(f.db->find_account("globex", "alice").error()));
  CHECK(nf(f.db->delete_account("globex", acct->id, {})));
  CHECK(nf(f.db->set_password("globex", acct->id, "h", false, {})));
  CHECK(nf(f.db->get_role("globex", role->id).error()));
  CHECK(nf(f.db->delete_role("globex", role->id)));
  CHECK(nf(f.db->get_destination("globex", dest->id).error()));
  CHECK(nf(f.db->delete_destination("globex", dest->id)));
  CHECK(nf(f.db->register_device("globex", "acme-r1", dest->id).error()));
  CHECK(f.db->list_commands("globex", "acme-r1", 10)->empty());
  auto page = f.db->list_devices("globex", {});
  REQUIRE(page.ok());
  REQUIRE(page->devices.size() == 1);
  CHECK(page->devices[0].id == "globex-r1");
  // A device registered elsewhere cannot be taken over by registering it again.
  auto gdest = f.db->ensure_destination("globex", "default");
  CHECK(f.db->register_device("globex", "acme-r1", gdest->id).error().code() == cloud::k_conflict);
  CHECK(f.db->get_device("acme", "acme-r1").ok());
}

TEST_CASE("apply_batch: presence, latest state and bounded history") {
  fixture f;
  f.db = f.open(3);
  f.company_with("acme", {"acme-r1"});
  auto out =
      apply(*f.db, {presence("acme-r1", true, k_t0 * 1000), state("acme-r1", 1, k_t0 * 1000)});
  CHECK(out.came_online == std::vector<std::string>{"acme-r1"});
  CHECK(out.unassigned == 0);
  auto d = f.db->get_device("acme", "acme-r1");
  REQUIRE(d.ok());
  CHECK(d->presence == cloud::presence_state::online);
  CHECK(d->agent_version == "1.0.0");
  CHECK(d->state_json.find("\"seq\":1") != std::string::npos);
  for (int i = 2; i <= 6; ++i) apply(*f.db, {state("acme-r1", i, k_t0 * 1000 + i)});
  auto h = f.db->state_history("acme", "acme-r1", 100);
  REQUIRE(h.ok());
  REQUIRE(h->size() == 3);
  CHECK((*h)[0].state_json.find("\"seq\":6") != std::string::npos);
  CHECK((*h)[2].state_json.find("\"seq\":4") != std::string::npos);
  apply(*f.db, {presence("acme-r1", false, k_t0 * 1000 + 10)});
  CHECK(f.db->get_device("acme", "acme-r1")->presence == cloud::presence_state::offline);
  auto online = f.db->list_devices("acme", query_of("", cloud::presence_state::online, 50, ""));
  CHECK(online->devices.empty());
}

TEST_CASE("apply_batch: an unregistered device is kept unassigned and visible to no company") {
  fixture f;
  f.company_with("acme", {"acme-r1"});
  auto out =
      apply(*f.db, {presence("stray-1", true, k_t0 * 1000), state("stray-1", 1, k_t0 * 1000)});
  CHECK(out.unassigned == 1);
  CHECK(f.db->get_device("acme", "stray-1").error().code() == cloud::k_not_found);
  CHECK(f.db->list_devices("acme", {})->devices.size() == 1);
  auto un = f.db->list_unassigned_devices(10);
  REQUIRE(un.ok());
  REQUIRE(un->size() == 1);
  CHECK((*un)[0].id == "stray-1");
  CHECK((*un)[0].company_id.empty());
  // Registering it later brings its data into the company.
  auto dest = f.db->ensure_destination("acme", "default");
  auto reg = f.db->register_device("acme", "stray-1", dest->id);
  REQUIRE(reg.ok());
  CHECK(reg->presence == cloud::presence_state::online);
  CHECK(!reg->state_json.empty());
  CHECK(f.db->list_unassigned_devices(10)->empty());
}

TEST_CASE("apply_batch: a command reaches exactly one final state") {
  using rs = protocol::result_status;
  struct row {
    const char* name;
    std::vector<rs> results;  // in arrival order
    cloud::command_status want;
    std::size_t dropped;
  };
  const std::vector<row> table = {
      {"ok", {rs::ok}, cloud::command_status::succeeded, 0},
      {"error", {rs::error}, cloud::command_status::failed, 0},
      {"rejected", {rs::rejected}, cloud::command_status::failed, 0},
      {"unsupported", {rs::unsupported}, cloud::command_status::failed, 0},
      {"expired on the device", {rs::expired}, cloud::command_status::expired, 0},
      {"progress keeps it open", {rs::progress}, cloud::command_status::sent, 0},
      {"progress then ok", {rs::progress, rs::ok}, cloud::command_status::succeeded, 0},
      {"second final result dropped", {rs::ok, rs::error}, cloud::command_status::succeeded, 1},
      {"duplicate delivery of ok", {rs::ok, rs::ok}, cloud::command_status::succeeded, 1},
  };
  for (const auto& t : table) {
    CAPTURE(t.name);
    fixture f;
    f.company_with("acme", {"acme-r1"});
    auto cmd = f.command("acme", "acme-r1");
    apply(*f.db, {presence("acme-r1", true, k_t0 * 1000)});
    bridge::claim_request claim;
    claim.instance = "i-a";
    claim.now_ms = k_t0 * 1000;
    REQUIRE(f.db->claim_due("acme-r1", claim, 100)->size() == 1);
    std::size_t dropped = 0;
    for (auto st : t.results) {
      dropped += apply(*f.db, {result_of("acme-r1", cmd.id, st, k_t0 * 1000 + 5)})
                     .dropped_result_devices.size();
    }
    auto got = f.db->get_command("acme", cmd.id);
    REQUIRE(got.ok());
    CHECK(got->status == t.want);
    CHECK(dropped == t.dropped);
    CHECK(got->attempts == 1);
    // A later expiry sweep never moves a final command.
    auto n = f.db->expire_overdue(k_t0 + 3600);
    REQUIRE(n.ok());
    if (cloud::is_final(t.want)) {
      CHECK(*n == 0);
      CHECK(f.db->get_command("acme", cmd.id)->status == t.want);
    }
  }
}

TEST_CASE("apply_batch: results for unknown or another device's commands are dropped") {
  fixture f;
  f.company_with("acme", {"acme-r1", "acme-r2"});
  auto cmd = f.command("acme", "acme-r1");
  auto out =
      apply(*f.db, {result_of("acme-r2", cmd.id, protocol::result_status::ok, k_t0 * 1000),
                    result_of("acme-r1", "c-nope", protocol::result_status::ok, k_t0 * 1000)});
  CHECK(out.dropped_result_devices == std::vector<std::string>{"acme-r2", "acme-r1"});
  CHECK(f.db->get_command("acme", cmd.id)->status == cloud::command_status::queued);
}

TEST_CASE("apply_batch: a result for a command never marked sent still ends it") {
  // A result ends a command whatever its state before (a router answers every id it gets).
  fixture f;
  f.company_with("acme", {"acme-r1"});
  auto cmd = f.command("acme", "acme-r1");
  apply(*f.db, {result_of("acme-r1", cmd.id, protocol::result_status::ok, k_t0 * 1000)});
  auto got = f.db->get_command("acme", cmd.id);
  CHECK(got->status == cloud::command_status::succeeded);
  CHECK(got->result_json == "{\"pong\":true}");
  CHECK(got->finished_at_s == k_t0);
}

namespace {
bridge::claim_request claim_by(const char* instance, std::int64_t now_s) {
  bridge::claim_request r;
  r.instance = instance;
  r.now_ms = now_s * 1000;
  return r;
}
}  // namespace

TEST_CASE("claims: one instance per publish, again per device connection, when overdue or own") {
  fixture f;
  f.company_with("acme", {"acme-r1", "acme-r2"});
  auto a = f.command("acme", "acme-r1", 60);
  auto b = f.command("acme", "acme-r1", 600);
  auto c = f.command("acme", "acme-r2", 60);
  auto status_of = [&](const cloud::command_record& r) {
    return f.db->get_command("acme", r.id)->status;
  };

  // Nobody is online yet.
  CHECK(f.db->claim_for_online(claim_by("i-a", k_t0), 100)->empty());
  CHECK(f.db->claim_due("acme-r1", claim_by("i-a", k_t0), 100)->empty());
  apply(*f.db, {presence("acme-r1", true, k_t0 * 1000)});
  auto q = f.db->claim_for_online(claim_by("i-a", k_t0), 1);
  REQUIRE(q->size() == 1);
  CHECK((*q)[0].id == a.id);
  auto decoded = protocol::decode_command((*q)[0].payload);
  REQUIRE(decoded.ok());
  CHECK(decoded->id == a.id);
  CHECK(decoded->op == "ping");
  CHECK(decoded->deadline == k_t0 + 60);
  CHECK(status_of(a) == cloud::command_status::sent);  // claimed before it is published
  // Another instance gets the next one; a claimed one goes to nobody else.
  auto q2 = f.db->claim_for_online(claim_by("i-b", k_t0), 100);
  REQUIRE(q2->size() == 1);
  CHECK((*q2)[0].id == b.id);
  CHECK(f.db->claim_for_online(claim_by("i-a", k_t0), 100)->empty());
  CHECK(f.db->claim_due("acme-r1", claim_by("i-b", k_t0), 100)->empty());
  // The claim counts the publish attempt: nothing is committed after the publish.
  CHECK(f.db->get_command("acme", a.id)->attempts == 1);
  CHECK(f.db->get_command("acme", a.id)->sent_at_s == k_t0);

  // After its own reconnect an instance takes back what it claimed, not the other's.
  auto own = claim_by("i-a", k_t0 + 1);
  own.own = true;
  auto mine = f.db->claim_for_online(own, 100);
  REQUIRE(mine->size() == 1);
  CHECK((*mine)[0].id == a.id);

  // Overdue: claimed at or before stale_before_ms, re-claimed by the first to ask only.
  auto stale = claim_by("i-b", k_t0 + 30);
  stale.stale_before_ms = (k_t0 + 1) * 1000;
  auto overdue = f.db->claim_for_online(stale, 100);
  REQUIRE(overdue->size() == 2);
  CHECK((*overdue)[0].id == a.id);
  CHECK(f.db->claim_for_online(stale, 100)->empty());

  // A new connection of the device: both are due again, once, though every instance applies
  // the same presence.
  apply(*f.db, {presence("acme-r1", false, (k_t0 + 31) * 1000)});
  apply(*f.db, {presence("acme-r1", true, (k_t0 + 31) * 1000)});
  apply(*f.db, {presence("acme-r1", true, (k_t0 + 31) * 1000)});
  auto due = f.db->claim_due("acme-r1", claim_by("i-a", k_t0 + 31), 100);
  REQUIRE(due->size() == 2);
  CHECK((*due)[0].id == a.id);
  CHECK(f.db->claim_due("acme-r1", claim_by("i-b", k_t0 + 31), 100)->empty());
  CHECK(f.db->claim_for_online(claim_by("i-b", k_t0 + 31), 100)->empty());

  // A publish the broker refused: only the claimer gives the claim up and its attempt is no
  // longer counted; one never published is queued again, and both go to the next claim.
  auto d = f.command("acme", "acme-r1", 600);
  REQUIRE(f.db->claim_due("acme-r1", claim_by("i-a", k_t0 + 31), 100)->size() == 1);
  const auto a_attempts = f.db->get_command("acme", a.id)->attempts;
  std::vector<std::string> refused{a.id, d.id};
  REQUIRE(f.db->release_claims(refused, "i-b").ok());
  CHECK(status_of(d) == cloud::command_status::sent);
  CHECK(f.db->claim_for_online(claim_by("i-b", k_t0 + 32), 100)->empty());
  REQUIRE(f.db->release_claims(refused, "i-a").ok());
  CHECK(status_of(a) == cloud::command_status::sent);
  CHECK(f.db->get_command("acme", a.id)->attempts == a_attempts - 1);
  CHECK(status_of(d) == cloud::command_status::queued);
  CHECK(f.db->get_command("acme", d.id)->attempts == 0);
  CHECK_FALSE(f.db->get_command("acme", d.id)->sent_at_s.has_value());
  CHECK(f.db->claim_for_online(claim_by("i-b", k_t0 + 32), 100)->size() == 2);

  // After 60 s: a (sent) timed out, c (never sent) expired, b still open.
  auto n = f.db->expire_overdue(k_t0 + 60);
  REQUIRE(n.ok());
  CHECK(*n == 2);
  CHECK(status_of(a) == cloud::command_status::timed_out);
  CHECK(status_of(c) == cloud::command_status::expired);
  CHECK(status_of(b) == cloud::command_status::sent);
  // A late result for the timed-out command is dropped.
  auto out =
      apply(*f.db, {result_of("acme-r1", a.id, protocol::result_status::ok, k_t0 * 1000 + 61000)});
  CHECK(out.dropped_result_devices.size() == 1);
  CHECK(status_of(a) == cloud::command_status::timed_out);
}

TEST_CASE("bad commands are refused and store nothing") {
  fixture f;
  f.company_with("acme", {"acme-r1"});
  const std::vector<cloud::new_command> bad = {
      {"acme-r1", "Bad Op", "{}", k_t0 + 60, "x"},
      {"acme-r1", "ping", "[1]", k_t0 + 60, "x"},
      {"acme-r1", "ping", "{", k_t0 + 60, "x"},
      {"a/b", "ping", "{}", k_t0 + 60, "x"},
  };
  for (const auto& c : bad) {
    auto r = f.db->create_command("acme", c);
    CHECK_FALSE(r.ok());
  }
  CHECK(f.db->list_commands("acme", "acme-r1", 10)->empty());
}

TEST_CASE("technician logins: install queued with the login, events update it and the log") {
  fixture f;
  f.company_with("acme", {"acme-r1"});
  f.company_with("globex", {"globex-r1"});
  auto [l, install] = login_of_acme_r1();
  auto made = f.db->create_technician_login(l, install);
  REQUIRE_MESSAGE(made.ok(), made.error().to_string());
  CHECK(made->status == cloud::technician_login_status::active);
  auto cmd = f.db->get_command("acme", made->install_command_id);
  REQUIRE(cmd.ok());
  CHECK(cmd->op == "technician_login.install");
  CHECK(f.db->create_technician_login(l, install).error().code() == cloud::k_conflict);
  CHECK(f.db->get_technician_login("globex", "T-ABCD2345").error().code() == cloud::k_not_found);
  CHECK(f.db->list_technician_logins("acme", "acme-r1", k_t0)->size() == 1);
  CHECK(f.db->list_technician_logins("acme", "acme-r1", k_t0 + 3600)->empty());

  // A foreign device reporting the login changes nothing.
  apply(*f.db, {event_of("globex-r1", "technician_login.used", "T-ABCD2345", k_t0 * 1000)});
  CHECK(f.db->get_technician_login("acme", "T-ABCD2345")->status ==
        cloud::technician_login_status::active);

  apply(*f.db, {event_of("acme-r1", "technician_login.failed", "T-ABCD2345", k_t0 * 1000),
                event_of("acme-r1", "technician_login.used", "T-ABCD2345", k_t0 * 1000 + 1)});
  auto got = f.db->get_technician_login("acme", "T-ABCD2345");
  CHECK(got->status == cloud::technician_login_status::used);
  CHECK(got->failed_count == 1);
  auto log = f.db->list_audit("acme", {});
  REQUIRE(log.ok());
  REQUIRE(log->size() == 2);
  CHECK((*log)[0].action == "technician_login.failed");
  CHECK((*log)[1].action == "technician_login.used");
  CHECK((*log)[1].actor == "device:acme-r1");
  CHECK((*log)[1].target == "T-ABCD2345");

  cloud::new_command revoke{"acme-r1", "technician_login.revoke", "{}", k_t0 + 3600, "alice"};
  CHECK(f.db->revoke_technician_login("acme", "acme-r1", "T-ABCD2345", revoke).error().code() ==
        cloud::k_conflict);
  CHECK(f.db->purge_technician_logins(k_t0).value() == 1);
  CHECK(f.db->get_technician_login("acme", "T-ABCD2345").error().code() == cloud::k_not_found);
}

TEST_CASE(
    "technician-login events: a login the device does not hold, or past its rate, is not "
    "recorded") {
  fixture f;
  f.company_with("acme", {"acme-r1", "acme-r2"});
  auto [l, install] = login_of_acme_r1();
  REQUIRE(f.db->create_technician_login(l, install).ok());
  const std::int64_t ms = k_t0 * 1000;
  // Unknown ids, and acme-r1's login reported by acme-r2: no record, reported as unrecorded.
  auto out =
      apply(*f.db, {event_of("acme-r1", "technician_login.failed", std::string(60'000, 'F'), ms),
                    event_of("acme-r1", "technician_login.used", "T-NOTISSUED", ms),
                    event_of("acme-r2", "technician_login.used", "T-ABCD2345", ms)});
  CHECK(out.unrecorded_event_devices == std::vector<std::string>{"acme-r1", "acme-r1", "acme-r2"});
  CHECK(f.db->list_audit("acme", {})->empty());
  CHECK(f.db->get_technician_login("acme", "T-ABCD2345")->status ==
        cloud::technician_login_status::active);

  // A burst on the held login: 30 records per device in a minute (the default), every failure
  // still counted on the login.
  std::vector<bridge::device_message> burst;
  for (int i = 0; i < 40; ++i) {
    burst.push_back(event_of("acme-r1", "technician_login.failed", "T-ABCD2345", ms + i));
  }
  out = apply(*f.db, burst);
  CHECK(out.unrecorded_event_devices.size() == 10);
  CHECK(f.db->list_audit("acme", {})->size() == 30);
  CHECK(f.db->get_technician_login("acme", "T-ABCD2345")->failed_count == 40);
  // A minute later the device may report again.
  apply(*f.db, {event_of("acme-r1", "technician_login.used", "T-ABCD2345", ms + 61'000)});
  CHECK(f.db->list_audit("acme", {})->size() == 31);
}

TEST_CASE("accounts: lock after the threshold, success resets, password history of 3") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  auto a = f.db->create_account({"acme", "alice", "a@example.com", "operator", "h0"});
  REQUIRE(a.ok());
  CHECK(a->role_name == "operator");
  CHECK_FALSE(a->is_administrator());
  CHECK(f.db->create_account({"acme", "alice", "", "operator", "h"}).error().code() ==
        cloud::k_conflict);
  CHECK(f.db->create_account({"acme", "bob", "", "nope", "h"}).error().code() == cloud::k_invalid);

  // The lock rule the API applies: 5 failures lock for 1800 s.
  cloud::security::lockout_policy policy({5, std::chrono::seconds{1800}}, f.clock);
  auto after_failure = [&](const cloud::account_lock_state& s) {
    return policy.after_failure(s).state;
  };
  auto after_success = [&](const cloud::account_lock_state& s) { return policy.after_success(s); };
  REQUIRE(f.db->create_session({"tok", "csrf", a->id, "acme", k_t0, k_t0, "127.0.0.1"}).ok());
  for (int i = 1; i <= 4; ++i) {
    auto r = f.db->record_login_failure("acme", a->id, k_t0, after_failure, std::nullopt);
    REQUIRE(r.ok());
    CHECK(r->failed_count == i);
    CHECK(r->locked == cloud::lock_reason::none);
  }
  auto r = f.db->record_login_failure("acme", a->id, k_t0, after_failure, std::nullopt);
  CHECK(r->locked == cloud::lock_reason::failed_logins);
  CHECK(r->locked_until_s == k_t0 + 1800);
  CHECK(f.db->find_session("tok").error().code() == cloud::k_not_found);
  // A success after the lock ran out clears it.
  f.clock.advance(std::chrono::seconds{1800});
  REQUIRE(f.db->record_login_success("acme", a->id, k_t0 + 1800, after_success, std::nullopt).ok());
  auto after = f.db->get_account("acme", a->id);
  CHECK(after->failed_count == 0);
  CHECK(after->locked == cloud::lock_reason::none);
  CHECK(after->last_login_at_s == k_t0 + 1800);

  for (int i = 1; i <= 4; ++i)
    REQUIRE(f.db->set_password("acme", a->id, "h" + std::to_string(i), false, {}).ok());
  auto hist = f.db->get_account("acme", a->id);
  CHECK(hist->password_hash == "h4");
  CHECK(hist->password_history == std::vector<std::string>{"h3", "h2", "h1"});

  REQUIRE(
      f.db->lock_account("acme", a->id, cloud::lock_reason::inactivity, std::nullopt, k_t0).ok());
  CHECK(f.db->get_account("acme", a->id)->locked == cloud::lock_reason::inactivity);
  REQUIRE(f.db->record_login_success("acme", a->id, k_t0 + 10, after_success, std::nullopt).ok());
  CHECK(f.db->get_account("acme", a->id)->locked == cloud::lock_reason::inactivity);
  REQUIRE(f.db->unlock_account("acme", a->id).ok());
  CHECK(f.db->get_account("acme", a->id)->locked == cloud::lock_reason::none);
}

TEST_CASE(
    "accounts: a change's check sees the facts of its transaction and a refusal changes nothing") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  REQUIRE(f.db->create_company("globex", "Globex").ok());
  auto adam = f.db->create_account({"acme", "adam", "adam@example.com", "administrator", "h"});
  auto ada = f.db->create_account({"acme", "ada", "ada@example.com", "administrator", "h"});
  auto gina = f.db->create_account({"acme", "gina", "gina@example.com", "operator", "h"});
  REQUIRE(f.db->create_account({"globex", "gadmin", "g@example.com", "administrator", "h"}).ok());
  REQUIRE((adam.ok() && ada.ok() && gina.ok()));
  std::optional<cloud::account_facts> seen;
  auto refuse = [&](const cloud::account_facts& facts) {
    seen = facts;
    return cloud::status::error("refused", "no");
  };
  cloud::account_update demote;
  demote.role_name = "viewer";
  demote.locked = true;
  auto u = f.db->update_account("acme", adam->id, demote, refuse);
  CHECK(u.error().code() == "refused");
  REQUIRE(seen);
  CHECK(seen->target.login_id == "adam");
  CHECK(seen->target_permissions.size() == cloud::k_permissions.size());
  REQUIRE(seen->new_role);
  CHECK(seen->new_role->name == "viewer");
  // Only acme's other administrators.
  REQUIRE(seen->other_administrators.size() == 1);
  CHECK(seen->other_administrators[0].login_id == "ada");
  auto after = f.db->get_account("acme", adam->id);
  CHECK(after->role_name == "administrator");
  CHECK(after->locked == cloud::lock_reason::none);

  seen.reset();
  CHECK(f.db->delete_account("acme", gina->id, refuse).code() == "refused");
  REQUIRE(seen);
  CHECK(seen->target_permissions == cloud::security::built_in_permissions("operator"));
  CHECK_FALSE(seen->new_role);
  CHECK(seen->other_administrators.size() == 2);
  CHECK(f.db->get_account("acme", gina->id).ok());
  CHECK(f.db->set_password("acme", gina->id, "h2", false, refuse).code() == "refused");
  CHECK(f.db->get_account("acme", gina->id)->password_hash == "h");

  // Allowed: the lock applies with the role change, in the same transaction.
  auto allow = [](const cloud::account_facts&) { return cloud::status{}; };
  auto locked = f.db->update_account("acme", gina->id, demote, allow);
  REQUIRE(locked.ok());
  CHECK(locked->role_name == "viewer");
  CHECK(locked->locked == cloud::lock_reason::administrator);
  cloud::account_update unlock;
  unlock.locked = false;
  CHECK(f.db->update_account("acme", gina->id, unlock, allow)->locked == cloud::lock_reason::none);
}

TEST_CASE("sessions: lookup by token hash, touch and purge") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  auto a = f.db->create_account({"acme", "alice", "", "viewer", "h"});
  REQUIRE(f.db->create_session({"t1", "c1", a->id, "acme", k_t0, k_t0, "::1"}).ok());
  REQUIRE(f.db->create_session({"t2", "c2", a->id, "acme", k_t0, k_t0, "::1"}).ok());
  REQUIRE(f.db->touch_session("t2", k_t0 + 100).ok());
  auto s = f.db->find_session("t2");
  REQUIRE(s.ok());
  CHECK(s->last_seen_at_s == k_t0 + 100);
  CHECK(s->csrf_token == "c2");
  CHECK(f.db->purge_sessions(k_t0 + 50, k_t0 - 1).value() == 1);
  CHECK_FALSE(f.db->find_session("t1").ok());
  REQUIRE(f.db->delete_account_sessions("acme", a->id).ok());
  CHECK_FALSE(f.db->find_session("t2").ok());
}

TEST_CASE("access log: gap-free chained records, UPDATE and DELETE refused by SQL") {
  fixture f;
  for (int i = 0; i < 5; ++i) {
    auto r = f.db->append_audit({i % 2 ? "acme" : "globex", "alice", "login", "alice",
                                 i == 4 ? "failure" : "success", "line\nbreak \"quoted\"", "::1"});
    REQUIRE(r.ok());
    CHECK(r->seq == i + 1);
  }
  auto chain = f.db->read_audit_chain(0, 100);
  REQUIRE(chain.ok());
  REQUIRE(chain->size() == 5);
  auto head = f.db->get_audit_head();
  REQUIRE(head.ok());
  CHECK(head->seq == 5);
  CHECK(head->hash == chain->back().hash);
  CHECK(cloud::security::verify_chain(*chain, *head).intact());
  CHECK(f.db->list_audit("acme", {})->size() == 2);
  CHECK(f.db->count_failed_logins("", 0).value() == 1);
  CHECK(f.db->count_failed_logins("acme", 0).value() == 0);
  f.clock.advance(1s);
  CHECK(f.db->count_failed_logins("", f.clock.now_ms()).value() == 0);

  std::string err;
  CHECK_FALSE(f.raw_exec("UPDATE audit_log SET result = 'success' WHERE seq = 5", &err));
  CHECK(err.find("cannot be changed") != std::string::npos);
  CHECK_FALSE(f.raw_exec("DELETE FROM audit_log WHERE seq = 3", &err));
  CHECK(err.find("cannot be deleted") != std::string::npos);
  CHECK(f.db->read_audit_chain(0, 100)->size() == 5);
}

TEST_CASE("destinations: names unique per company, delete refused while devices remain") {
  fixture f;
  f.company_with("acme", {"acme-r1"});
  REQUIRE(f.db->create_company("globex", "Globex").ok());
  auto g = f.db->create_destination("globex", "default", "{}");
  REQUIRE(g.ok());  // the same name in another company is fine
  auto d = f.db->ensure_destination("acme", "default");
  CHECK(d->device_count == 1);
  CHECK(f.db->create_destination("acme", "default", "{}").error().code() == cloud::k_conflict);
  CHECK(f.db->create_destination("acme", "x", "[]").error().code() == cloud::k_invalid);
  CHECK(f.db->delete_destination("acme", d->id).code() == cloud::k_conflict);
  auto e = f.db->create_destination("acme", "east", "{\"region\":\"east\"}");
  REQUIRE(e.ok());
  REQUIRE(f.db->register_device("acme", "acme-r1", e->id).ok());
  CHECK(f.db->get_device("acme", "acme-r1")->destination_name == "east");
  CHECK(f.db->delete_destination("acme", d->id).ok());
  auto renamed = f.db->update_destination("acme", e->id, "west", std::nullopt);
  REQUIRE(renamed.ok());
  CHECK(renamed->settings_json == "{\"region\":\"east\"}");
}

TEST_CASE("list_devices pages with a cursor and filters") {
  fixture f;
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) ids.push_back("acme-r" + std::to_string(i));
  f.company_with("acme", ids);
  std::vector<std::string> seen;
  std::string cursor;
  do {
    auto page = f.db->list_devices("acme", query_of("", std::nullopt, 3, cursor));
    REQUIRE(page.ok());
    CHECK(page->devices.size() <= 3);
    for (const auto& d : page->devices) seen.push_back(d.id);
    cursor = page->next_cursor;
  } while (!cursor.empty());
  CHECK(seen == ids);
  CHECK(f.db->list_devices("acme", query_of("R3", std::nullopt, 50, ""))->devices.size() == 1);
}

TEST_CASE("list_devices filters on presence: online and offline and never known") {
  fixture f;
  f.company_with("acme", {"acme-on", "acme-off", "acme-new", "acme-back"});
  f.company_with("globex", {"globex-on"});
  const std::int64_t ms = k_t0 * 1000;
  apply(*f.db, {presence("acme-on", true, ms), presence("acme-off", false, ms),
                presence("acme-back", false, ms), presence("acme-back", true, ms + 1),
                presence("globex-on", true, ms)});
  struct row {
    std::optional<cloud::presence_state> filter;
    std::vector<std::string> ids;
  };
  const row rows[] = {
      {std::nullopt, {"acme-back", "acme-new", "acme-off", "acme-on"}},
      {cloud::presence_state::online, {"acme-back", "acme-on"}},
      {cloud::presence_state::offline, {"acme-off"}},
      {cloud::presence_state::unknown, {"acme-new"}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.filter ? std::string(to_string(*r.filter)) : std::string("any"));
    auto page = f.db->list_devices("acme", query_of("", r.filter, 50, ""));
    REQUIRE(page.ok());
    std::vector<std::string> ids;
    for (const auto& d : page->devices) ids.push_back(d.id);
    CHECK(ids == r.ids);
    CHECK(page->next_cursor.empty());
  }
  // Filter, search and cursor together.
  auto p1 = f.db->list_devices("acme", query_of("ON", cloud::presence_state::online, 1, ""));
  REQUIRE(p1.ok());
  REQUIRE(p1->devices.size() == 1);
  CHECK(p1->devices[0].id == "acme-on");
  CHECK(p1->next_cursor.empty());
}

namespace {

constexpr int k_fleet = 100'000;

std::string fleet_id(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "dev-%06d", i);
  return buf;
}

// The fleet's presence by number: a tenth online, three tenths offline, the rest never known.
const char* fleet_presence(int i) {
  int r = i % 10;
  return r == 0 ? "online" : r <= 3 ? "offline" : "unknown";
}

// Walks every page of `q` from the first; checks each page's bound and that ids only grow.
std::vector<std::string> walk(store& s, cloud::device_query q, std::size_t* pages) {
  std::vector<std::string> out;
  q.cursor.clear();
  *pages = 0;
  do {
    auto page = s.list_devices("acme", q);
    REQUIRE_MESSAGE(page.ok(), page.error().to_string());
    REQUIRE(++*pages <= 2 * k_fleet / q.limit + 20);
    CHECK(page->devices.size() <= q.limit);
    for (const auto& d : page->devices) {
      if (!out.empty() && !(out.back() < d.id)) FAIL("out of order or repeated: " << d.id);
      out.push_back(d.id);
    }
    if (!page->next_cursor.empty()) CHECK(page->next_cursor > q.cursor);
    q.cursor = page->next_cursor;
  } while (!q.cursor.empty());
  return out;
}

// EXPLAIN QUERY PLAN of `sql` on the store's file: one line per plan step.
std::vector<std::string> query_plan(const std::string& path, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &h) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  auto text = "EXPLAIN QUERY PLAN " + sql;
  REQUIRE_MESSAGE(sqlite3_prepare_v2(h, text.c_str(), -1, &st, nullptr) == SQLITE_OK,
                  sqlite3_errmsg(h));
  std::vector<std::string> steps;
  while (sqlite3_step(st) == SQLITE_ROW) {
    steps.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 3)));
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return steps;
}

std::string joined(const std::vector<std::string>& steps) {
  std::string out;
  for (const auto& s : steps) out += s + " | ";
  return out;
}

bool plan_has(const std::vector<std::string>& steps, const std::string& what) {
  return std::any_of(steps.begin(), steps.end(),
                     [&](const std::string& s) { return s.find(what) != std::string::npos; });
}

// A step that reads every row of the devices table or sorts the result is a full scan per page.
bool plan_scans(const std::vector<std::string>& steps) {
  return std::any_of(steps.begin(), steps.end(), [](const std::string& s) {
    return s.rfind("SCAN d", 0) == 0 || s.find("TEMP B-TREE") != std::string::npos;
  });
}

}  // namespace

TEST_CASE("list_devices at 100k devices: cursor pages by index with no duplicate and no gap") {
  fixture f;
  f.company_with("acme", {});
  f.company_with("globex", {});
  auto dest = f.db->ensure_destination("acme", "default");
  REQUIRE(dest.ok());
  // One transaction on the store's database. Another company's devices sort between acme's.
  const std::string presence_of_i =
      "CASE WHEN i % 10 = 0 THEN 'online' WHEN i % 10 <= 3 THEN 'offline' ELSE 'unknown' END";
  std::string sql =
      on_postgres()
          ? "BEGIN;"
            "INSERT INTO devices(id, company_id, destination_id, presence, registered_at_s) "
            "SELECT 'dev-' || lpad(i::text, 6, '0'), 'acme', " +
                std::to_string(dest->id) + ", " + presence_of_i + ", 0 FROM generate_series(0, " +
                std::to_string(k_fleet - 1) +
                ") AS i;"
                "INSERT INTO devices(id, company_id, presence) "
                "SELECT 'dev-' || lpad(i::text, 6, '0') || '-g', 'globex', 'online' "
                "FROM generate_series(0, " +
                std::to_string(k_fleet - 1) +
                ", 7) AS i;"
                "COMMIT;"
          : "BEGIN;"
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < " +
                std::to_string(k_fleet - 1) +
                ") INSERT INTO devices(id, company_id, destination_id, presence, registered_at_s) "
                "SELECT printf('dev-%06d', i), 'acme', " +
                std::to_string(dest->id) + ", " + presence_of_i +
                ", 0 FROM n;"
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 7 FROM n WHERE i < " +
                std::to_string(k_fleet - 7) +
                ") INSERT INTO devices(id, company_id, presence) "
                "SELECT printf('dev-%06d-g', i), 'globex', 'online' FROM n;"
                "COMMIT;";
  std::string err;
  REQUIRE_MESSAGE(f.raw_exec(sql, &err), err);

  struct row {
    const char* name;
    std::string q;
    std::optional<cloud::presence_state> presence;
    std::size_t limit;
    bool (*member)(int i, const std::string& id);
  };
  const row rows[] = {
      {"all", "", std::nullopt, 500, [](int, const std::string&) { return true; }},
      {"online", "", cloud::presence_state::online, 500,
       [](int i, const std::string&) { return std::string(fleet_presence(i)) == "online"; }},
      {"offline", "", cloud::presence_state::offline, 333,
       [](int i, const std::string&) { return std::string(fleet_presence(i)) == "offline"; }},
      {"unknown", "", cloud::presence_state::unknown, 500,
       [](int i, const std::string&) { return std::string(fleet_presence(i)) == "unknown"; }},
      {"search 77", "77", std::nullopt, 100,
       [](int, const std::string& id) { return id.find("77") != std::string::npos; }},
      {"search DEV-0999 online", "DEV-0999", cloud::presence_state::online, 7,
       [](int i, const std::string& id) {
         return id.find("dev-0999") == 0 && std::string(fleet_presence(i)) == "online";
       }},
      {"search with no match", "zz", std::nullopt, 50,
       [](int, const std::string&) { return false; }},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    std::vector<std::string> expected;
    for (int i = 0; i < k_fleet; ++i) {
      auto id = fleet_id(i);
      if (r.member(i, id)) expected.push_back(id);
    }
    std::size_t pages = 0;
    auto start = std::chrono::steady_clock::now();
    auto seen = walk(*f.db, query_of(r.q, r.presence, r.limit, ""), &pages);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    MESSAGE(std::string(r.name) << ": " << seen.size() << " devices in " << pages << " pages, "
                                << ms << " ms");
    CHECK(seen.size() == expected.size());
    CHECK(seen == expected);
    if (r.q.empty()) {
      CHECK(pages == std::max<std::size_t>(1, (expected.size() + r.limit - 1) / r.limit));
    } else {
      // A search page stops after k_max_device_scan devices; the walk still ends.
      CHECK(pages <= k_fleet / cloud::limits::k_max_device_scan + expected.size() / r.limit + 2);
    }
  }

  // The plans of the very statements the store runs, on its file.
  if (on_postgres()) return;
  const std::string& path = f.path;
  auto filter = [](bool by_presence, bool search) {
    cloud::device_query q;
    if (by_presence) q.presence = cloud::presence_state::online;
    if (search) q.q = "r1";
    return q;
  };
  auto all = query_plan(
      path,
      cloud::store_sql::list_devices_sql(cloud::sql::dialect::sqlite, filter(false, false)).page);
  CAPTURE(joined(all));
  CHECK(plan_has(all, "USING INDEX devices_company (company_id=? AND id>?)"));
  CHECK_FALSE(plan_scans(all));
  auto online = query_plan(
      path,
      cloud::store_sql::list_devices_sql(cloud::sql::dialect::sqlite, filter(true, false)).page);
  CAPTURE(joined(online));
  CHECK(plan_has(online,
                 "USING INDEX devices_company_presence (company_id=? AND presence=? AND "
                 "id>?)"));
  CHECK_FALSE(plan_scans(online));
  for (bool by_presence : {false, true}) {
    auto sql =
        cloud::store_sql::list_devices_sql(cloud::sql::dialect::sqlite, filter(by_presence, true));
    auto end = query_plan(path, sql.scan_end);
    auto page = query_plan(path, sql.page);
    CAPTURE(joined(end));
    CAPTURE(joined(page));
    CHECK(plan_has(end, by_presence ? "COVERING INDEX devices_company_presence"
                                    : "COVERING INDEX devices_company"));
    CHECK_FALSE(plan_scans(end));
    CHECK(plan_has(page, by_presence ? "USING INDEX devices_company_presence"
                                     : "USING INDEX devices_company"));
    CHECK_FALSE(plan_scans(page));
    // SQLite's id search walks the offset and the page statements (device_rows.h).
    CHECK(sql.id_window.empty());
  }
  // Each fleet filter walks its own index; the others are tested on the window's rows.
  struct indexed {
    cloud::device_query q;
    const char* index;
  };
  cloud::device_query by_model;
  by_model.model = "M";
  by_model.wan_prefix = "10.";
  cloud::device_query by_firmware;
  by_firmware.firmware = "1.0";
  by_firmware.model = "M";
  cloud::device_query by_destination;
  by_destination.destination_id = 1;
  by_destination.firmware = "1.0";
  by_destination.last_seen_after_ms = 1;
  for (const auto& [q, index] : {indexed{by_model, "devices_company_model"},
                                 indexed{by_firmware, "devices_company_firmware"},
                                 indexed{by_destination, "devices_company_destination"}}) {
    auto sql = cloud::store_sql::list_devices_sql(cloud::sql::dialect::sqlite, q);
    auto end = query_plan(path, sql.scan_end);
    auto page = query_plan(path, sql.page);
    CAPTURE(joined(end));
    CAPTURE(joined(page));
    CHECK(plan_has(end, std::string("COVERING INDEX ") + index));
    CHECK(plan_has(page, std::string("USING INDEX ") + index));
    CHECK_FALSE(plan_scans(end));
    CHECK_FALSE(plan_scans(page));
  }
}

namespace {

// A VFS over the default one that counts xSync calls on WAL files: what reaches the disk at a
// commit, observed from outside the store. Registered as the default for the lifetime of the
// object, so a store opened meanwhile goes through it.
class wal_sync_counter {
 public:
  wal_sync_counter() {
    real_ = sqlite3_vfs_find(nullptr);
    REQUIRE(real_ != nullptr);
    vfs_ = *real_;
    vfs_.pNext = nullptr;
    vfs_.zName = "aterm-wal-sync-counter";
    vfs_.szOsFile = static_cast<int>(sizeof(file)) + real_->szOsFile;
    vfs_.xOpen = &open;
    REQUIRE(sqlite3_vfs_register(&vfs_, 1) == SQLITE_OK);
    syncs_ = 0;
  }
  ~wal_sync_counter() { sqlite3_vfs_unregister(&vfs_); }
  wal_sync_counter(const wal_sync_counter&) = delete;
  wal_sync_counter& operator=(const wal_sync_counter&) = delete;

  // WAL syncs since the last call.
  int take() { return std::exchange(syncs_, 0); }

 private:
  struct file {
    sqlite3_file base;
    sqlite3_file* real;
    bool wal;
  };
  static sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<file*>(f)->real; }

  static int open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out) {
    auto* s = reinterpret_cast<file*>(f);
    s->real = reinterpret_cast<sqlite3_file*>(s + 1);
    s->wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = real_->xOpen(real_, name, s->real, flags, out);
    s->base.pMethods = rc == SQLITE_OK && s->real->pMethods != nullptr ? &methods_ : nullptr;
    return rc;
  }

  static inline sqlite3_vfs* real_ = nullptr;
  static inline int syncs_ = 0;
  sqlite3_vfs vfs_{};
  static inline const sqlite3_io_methods methods_ = {
      3,
      [](sqlite3_file* f) {
        int rc = real(f)->pMethods->xClose(real(f));
        f->pMethods = nullptr;
        return rc;
      },
      [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
        return real(f)->pMethods->xRead(real(f), b, n, o);
      },
      [](sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
        return real(f)->pMethods->xWrite(real(f), b, n, o);
      },
      [](sqlite3_file* f, sqlite3_int64 size) {
        return real(f)->pMethods->xTruncate(real(f), size);
      },
      [](sqlite3_file* f, int flags) {
        if (reinterpret_cast<file*>(f)->wal) ++syncs_;
        return real(f)->pMethods->xSync(real(f), flags);
      },
      [](sqlite3_file* f, sqlite3_int64* size) {
        return real(f)->pMethods->xFileSize(real(f), size);
      },
      [](sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); },
      [](sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); },
      [](sqlite3_file* f, int* out) { return real(f)->pMethods->xCheckReservedLock(real(f), out); },
      [](sqlite3_file* f, int op, void* arg) {
        return real(f)->pMethods->xFileControl(real(f), op, arg);
      },
      [](sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); },
      [](sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); },
      [](sqlite3_file* f, int pg, int sz, int extend, void volatile** p) {
        return real(f)->pMethods->xShmMap(real(f), pg, sz, extend, p);
      },
      [](sqlite3_file* f, int offset, int n, int flags) {
        return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
      },
      [](sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); },
      [](sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); },
      [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) {
        return real(f)->pMethods->xFetch(real(f), o, n, p);
      },
      [](sqlite3_file* f, sqlite3_int64 o, void* p) {
        return real(f)->pMethods->xUnfetch(real(f), o, p);
      },
  };
};

std::vector<std::int64_t> history_seqs(store& s, const std::string& company,
                                       const std::string& device) {
  auto h = s.state_history(company, device, 1000);
  REQUIRE_MESSAGE(h.ok(), h.error().to_string());
  std::vector<std::int64_t> out;
  for (const auto& e : *h) {
    auto st = protocol::decode_state(e.state_json);
    REQUIRE(st.ok());
    out.push_back(st->seq);
  }
  return out;
}

}  // namespace

// SQLite alone: PostgreSQL plans by its statistics (the sweep's hash join needs a fleet's; see
// bench_api's "dispatcher sweep").
TEST_CASE("the claims find a router by index and start a router's own claim from it [sqlite]") {
  REQUIRE_FALSE(on_postgres());
  fixture f;
  f.company_with("acme", {"acme-r1"});
  // A command's own claim: the router by its key first, then its own open commands; never a
  // walk of every open command (20,000 queued for offline routers in bench_api).
  auto due = query_plan(f.path, cloud::store_sql::k_claim_due_select);
  CAPTURE(joined(due));
  REQUIRE(due.size() >= 2);
  CHECK(due[0].rfind("SEARCH d USING ", 0) == 0);
  CHECK(due[0].find("(id=?") != std::string::npos);
  CHECK(due[1] == "SEARCH c USING INDEX commands_device (device_id=? AND status=?)");
  // The sweep: each open command's router by a covering index (its row holds the large state).
  for (const auto& sql : {cloud::store_sql::claim_candidates_sql(cloud::sql::dialect::sqlite),
                          cloud::store_sql::k_claim_recheck_select}) {
    auto sweep = query_plan(f.path, sql);
    CAPTURE(joined(sweep));
    CHECK(
        plan_has(sweep, "SEARCH d USING COVERING INDEX devices_claim_check (id=? AND presence=?)"));
    CHECK_FALSE(plan_has(sweep, "SCAN"));
  }
}

// synchronous_commit on PostgreSQL: the PostgreSQL engine's own tests.
TEST_CASE(
    "apply_batch: presence and states commit without a disk sync, results and events with one "
    "[sqlite]") {
  REQUIRE_FALSE(on_postgres());
  wal_sync_counter syncs;  // outlives the store below
  fixture f;
  f.company_with("acme", {"acme-r1", "acme-r2"});
  const std::int64_t ms = k_t0 * 1000;
  syncs.take();
  apply(*f.db, {presence("acme-r1", true, ms), state("acme-r1", 1, ms), state("acme-r2", 1, ms)});
  CHECK(syncs.take() == 0);
  auto cmd = f.command("acme", "acme-r1");
  CHECK(syncs.take() > 0);  // the connection is back to FULL after the relaxed batch
  apply(*f.db, {state("acme-r1", 2, ms + 1),
                result_of("acme-r1", cmd.id, protocol::result_status::ok, ms + 1)});
  CHECK(syncs.take() > 0);
  apply(*f.db, {event_of("acme-r2", "boot", "", ms + 2)});
  CHECK(syncs.take() > 0);
  apply(*f.db, {presence("acme-r2", false, ms + 3)});
  CHECK(syncs.take() == 0);
  REQUIRE(f.db->create_company("globex", "Globex").ok());
  CHECK(syncs.take() > 0);
  // What the relaxed batches stored is there.
  CHECK(f.db->get_device("acme", "acme-r2")->presence == cloud::presence_state::offline);
  CHECK(f.db->get_command("acme", cmd.id)->status == cloud::command_status::succeeded);
  CHECK(history_seqs(*f.db, "acme", "acme-r1") == std::vector<std::int64_t>{2, 1});
}

TEST_CASE("apply_batch: several messages of one device in one batch") {
  fixture f;
  f.db = f.open(3);
  f.company_with("acme", {"acme-r1"});
  const std::int64_t ms = k_t0 * 1000;
  // A new (unassigned) device: its row is created once with what the batch says last.
  auto out = apply(*f.db, {presence("stray-1", true, ms), state("stray-1", 1, ms + 1),
                           presence("stray-1", false, ms + 2), state("stray-1", 2, ms + 3),
                           presence("stray-1", true, ms + 4)});
  CHECK(out.unassigned == 1);
  CHECK(out.came_online == std::vector<std::string>{"stray-1"});
  auto dest = f.db->ensure_destination("acme", "default");
  auto stray = f.db->register_device("acme", "stray-1", dest->id);
  REQUIRE(stray.ok());
  CHECK(stray->presence == cloud::presence_state::online);
  CHECK(stray->state_json.find("\"seq\":2") != std::string::npos);
  CHECK(stray->first_seen_ms == ms);
  CHECK(stray->last_seen_ms == ms + 4);
  CHECK(history_seqs(*f.db, "acme", "stray-1") == std::vector<std::int64_t>{2, 1});

  // Five states in one batch with a bound of 3: the newest is the latest state, history
  // holds the last three in order; the ring keeps going across batches.
  std::vector<bridge::device_message> batch;
  for (int i = 1; i <= 5; ++i) batch.push_back(state("acme-r1", i, ms + i));
  batch.push_back(presence("acme-r1", false, ms + 6));
  out = apply(*f.db, batch);
  CHECK(out.came_online.empty());
  auto d = f.db->get_device("acme", "acme-r1");
  CHECK(d->state_json.find("\"seq\":5") != std::string::npos);
  CHECK(d->state_received_ms == ms + 5);
  CHECK(d->presence == cloud::presence_state::offline);
  CHECK(history_seqs(*f.db, "acme", "acme-r1") == std::vector<std::int64_t>{5, 4, 3});
  for (int i = 6; i <= 10; ++i) apply(*f.db, {state("acme-r1", i, ms + 10 + i)});
  CHECK(history_seqs(*f.db, "acme", "acme-r1") == std::vector<std::int64_t>{10, 9, 8});
  CHECK(test::query_int(f.path, "SELECT count(*) FROM state_history WHERE device_id = 'acme-r1'") ==
        3);
}

TEST_CASE("state history: a store reopened with another bound answers the newest states only") {
  fixture f;
  f.db = f.open(5);
  f.company_with("acme", {"acme-r1"});
  const std::int64_t ms = k_t0 * 1000;
  for (int i = 1; i <= 7; ++i) apply(*f.db, {state("acme-r1", i, ms + i)});
  CHECK(history_seqs(*f.db, "acme", "acme-r1") == std::vector<std::int64_t>{7, 6, 5, 4, 3});
  f.db = f.open(2);
  CHECK(history_seqs(*f.db, "acme", "acme-r1") == std::vector<std::int64_t>{7, 6});
  // A larger bound: every state since is kept, newest first; of the states before, the ring
  // of the old bound may have lost some (slots are reused by the new bound), never more than 8.
  f.db = f.open(8);
  for (int i = 8; i <= 12; ++i) apply(*f.db, {state("acme-r1", i, ms + i)});
  auto seqs = history_seqs(*f.db, "acme", "acme-r1");
  REQUIRE(seqs.size() >= 5);
  CHECK(seqs.size() <= 8);
  CHECK(std::vector<std::int64_t>(seqs.begin(), seqs.begin() + 5) ==
        std::vector<std::int64_t>{12, 11, 10, 9, 8});
  CHECK(std::is_sorted(seqs.rbegin(), seqs.rend()));
  CHECK(seqs.back() > 12 - 8);
}

// No PostgreSQL store predates the ring.
TEST_CASE("migrations: history stored before the ring (schema 3) keeps its order [sqlite]") {
  REQUIRE_FALSE(on_postgres());
  fixture f;
  f.db = f.open(4);
  f.company_with("acme", {"acme-r1", "acme-r2"});
  f.db.reset();
  // The schema 3 layout of state_history and devices, with rows as the old store left them.
  const std::int64_t ms = k_t0 * 1000;
  std::string sql = "BEGIN;" + undo_schemas_after_9() +
                    "DROP TABLE counter_events;"
                    "DROP TABLE leases;"
                    "DROP TABLE verification_leases;"
                    "ALTER TABLE commands DROP COLUMN claimed_by;"
                    "ALTER TABLE commands DROP COLUMN claimed_at_ms;"
                    "ALTER TABLE commands DROP COLUMN claim_epoch;"
                    "ALTER TABLE devices DROP COLUMN online_epoch;"
                    "DROP INDEX accounts_login_id_folded;"
                    "ALTER TABLE accounts DROP COLUMN password_change_required;"
                    "DROP TABLE device_claim_failures;"
                    "DROP TABLE state_history;"
                    "ALTER TABLE devices DROP COLUMN state_count;"
                    "CREATE TABLE state_history (id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, "
                    "received_ms INTEGER NOT NULL, state_json TEXT NOT NULL);"
                    "CREATE INDEX state_history_device ON state_history(device_id, id);";
  for (int i = 1; i <= 3; ++i) {
    for (const char* dev : {"acme-r1", "acme-r2"}) {
      if (i == 3 && std::string(dev) == "acme-r2") continue;
      protocol::state_snapshot s;
      s.ts = k_t0;
      s.seq = i;
      sql += "INSERT INTO state_history(device_id, received_ms, state_json) VALUES('" +
             std::string(dev) + "', " + std::to_string(ms + i) + ", '" + protocol::encode(s) +
             "');";
    }
  }
  sql += "PRAGMA user_version = 3; COMMIT;";
  std::string error;
  REQUIRE_MESSAGE(f.raw_exec(sql, &error), error);
  f.db = f.open(4);
  CHECK(history_seqs(*f.db, "acme", "acme-r1") == std::vector<std::int64_t>{3, 2, 1});
  CHECK(history_seqs(*f.db, "acme", "acme-r2") == std::vector<std::int64_t>{2, 1});
  for (int i = 4; i <= 6; ++i) apply(*f.db, {state("acme-r1", i, ms + i)});
  apply(*f.db, {state("acme-r2", 3, ms + 3)});
  CHECK(history_seqs(*f.db, "acme", "acme-r1") == std::vector<std::int64_t>{6, 5, 4, 3});
  CHECK(history_seqs(*f.db, "acme", "acme-r2") == std::vector<std::int64_t>{3, 2, 1});
}

// No PostgreSQL store predates commands.seq.
TEST_CASE("migrations: commands stored before schema 6 keep their rowid order [sqlite]") {
  REQUIRE_FALSE(on_postgres());
  fixture f;
  f.company_with("acme", {"acme-r1"});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(f.command("acme", "acme-r1").id);
  f.db.reset();
  // The schema 5 table (no seq), and none of the later schemas' tables: the rows' rowids
  // reversed, so only the rowid can give the order the migrated store answers.
  const std::string cols =
      "id, company_id, device_id, op, args_json, status, result_status, result_json, error, "
      "attempts, created_at_s, deadline_s, sent_at_s, finished_at_s, created_by";
  std::string error;
  REQUIRE_MESSAGE(
      f.raw_exec("BEGIN;" + undo_schemas_after_9() +
                     "DROP TABLE counter_events;"
                     "DROP TABLE leases;"
                     "DROP TABLE verification_leases;"
                     "ALTER TABLE devices DROP COLUMN online_epoch;"
                     "DROP INDEX accounts_login_id_folded;"
                     "ALTER TABLE accounts DROP COLUMN password_change_required;"
                     "CREATE TABLE commands_v5 (id TEXT PRIMARY KEY, company_id TEXT NOT NULL, "
                     "device_id TEXT NOT NULL, op TEXT NOT NULL, args_json TEXT NOT NULL, "
                     "status TEXT NOT NULL, result_status TEXT NOT NULL DEFAULT '', "
                     "result_json TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '', "
                     "attempts INTEGER NOT NULL DEFAULT 0, created_at_s INTEGER NOT NULL, "
                     "deadline_s INTEGER NOT NULL, sent_at_s INTEGER, finished_at_s INTEGER, "
                     "created_by TEXT NOT NULL DEFAULT '');"
                     "INSERT INTO commands_v5(rowid, " +
                     cols + ") SELECT 10 - seq, " + cols +
                     " FROM commands;"
                     "DROP TABLE commands;"
                     "ALTER TABLE commands_v5 RENAME TO commands;"
                     "PRAGMA user_version = 5; COMMIT;",
                 &error),
      error);
  f.db = f.open();
  auto listed = f.db->list_commands("acme", "acme-r1", 10);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 3);
  CHECK((*listed)[0].id == ids[0]);  // the largest rowid: the newest now
  CHECK((*listed)[2].id == ids[2]);
  // A command created after the migration comes after every migrated one.
  const auto later = f.command("acme", "acme-r1");
  listed = f.db->list_commands("acme", "acme-r1", 10);
  REQUIRE(listed.ok());
  CHECK(listed->front().id == later.id);
}

TEST_CASE("claim_devices: one transaction, every refusal the same and naming no device") {
  fixture f;
  f.company_with("acme", {"acme-r1"});
  f.company_with("globex", {"globex-r1"});
  auto dest = f.db->ensure_destination("acme", "default");
  REQUIRE(dest.ok());
  auto gdest = f.db->ensure_destination("globex", "default");
  apply(*f.db, {state("stray-1", 1, k_t0 * 1000)});
  auto foreign =
      f.db->claim_devices("acme", std::vector<std::string>{"new-1", "globex-r1"}, dest->id);
  auto no_dest = f.db->claim_devices("acme", std::vector<std::string>{"new-1"}, gdest->id);
  REQUIRE_FALSE(foreign.ok());
  REQUIRE_FALSE(no_dest.ok());
  CHECK(foreign.error().code() == cloud::k_not_found);
  CHECK(foreign.error().to_string() == no_dest.error().to_string());
  CHECK(foreign.error().message().find("globex") == std::string::npos);
  CHECK(f.db->get_device("acme", "new-1").error().code() == cloud::k_not_found);
  CHECK(f.db->claim_devices("acme", std::vector<std::string>{"a/b"}, dest->id).error().code() ==
        cloud::k_invalid);

  const std::vector<std::string> ids = {"new-1", "stray-1", "acme-r1"};
  auto ok = f.db->claim_devices("acme", ids, dest->id);
  REQUIRE_MESSAGE(ok.ok(), ok.error().to_string());
  REQUIRE(ok->size() == 3);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    CHECK((*ok)[i].id == ids[i]);
    CHECK((*ok)[i].company_id == "acme");
    CHECK((*ok)[i].destination_id == dest->id);
  }
  CHECK(!(*ok)[1].state_json.empty());  // what it sent while it had no company comes along
  CHECK(f.db->list_unassigned_devices(10)->empty());
}

TEST_CASE("unassign_device deletes the tenancy's state, history, commands and logins") {
  fixture f;
  f.company_with("acme", {"acme-r1"});
  f.company_with("globex", {});
  apply(*f.db, {state("acme-r1", 1, k_t0 * 1000), state("acme-r1", 2, k_t0 * 1000 + 1)});
  auto cmd = f.command("acme", "acme-r1");
  CHECK(f.db->unassign_device("acme-r1").value() == "acme");
  CHECK(f.db->unassign_device("acme-r1").error().code() == cloud::k_not_found);
  CHECK(f.db->unassign_device("nobody-1").error().code() == cloud::k_not_found);
  auto unassigned = f.db->list_unassigned_devices(10);
  REQUIRE(unassigned->size() == 1);
  CHECK(unassigned->front().state_json.empty());
  auto gdest = f.db->ensure_destination("globex", "default");
  REQUIRE(f.db->claim_devices("globex", std::vector<std::string>{"acme-r1"}, gdest->id).ok());
  auto d = f.db->get_device("globex", "acme-r1");
  CHECK(d->state_json.empty());
  CHECK(f.db->state_history("globex", "acme-r1", 100)->empty());
  CHECK(f.db->list_commands("globex", "acme-r1", 100)->empty());
  CHECK(f.db->get_command("acme", cmd.id).error().code() == cloud::k_not_found);
  // The ring starts again from its first slot.
  apply(*f.db, {state("acme-r1", 3, k_t0 * 1000 + 2)});
  CHECK(f.db->state_history("globex", "acme-r1", 100)->size() == 1);
}

TEST_CASE("claim failures are counted per company inside the window") {
  fixture f;
  REQUIRE(f.db->record_claim_failure("acme", 100, 0).ok());
  REQUIRE(f.db->record_claim_failure("acme", 200, 0).ok());
  REQUIRE(f.db->record_claim_failure("globex", 200, 0).ok());
  auto all = f.db->count_claim_failures("acme", 0);
  CHECK(all->count == 2);
  CHECK(all->oldest_at_s == 100);
  CHECK(f.db->count_claim_failures("acme", 150)->count == 1);
  CHECK(f.db->count_claim_failures("nobody", 0)->count == 0);
  CHECK_FALSE(f.db->count_claim_failures("nobody", 0)->oldest_at_s.has_value());
  // Recording forgets what left the window.
  REQUIRE(f.db->record_claim_failure("acme", 300, 150).ok());
  CHECK(f.db->count_claim_failures("acme", 0)->count == 2);
}

TEST_CASE("counter events: newest first, per counter, gone once expired") {
  fixture f;
  using times = std::vector<std::int64_t>;
  CHECK(*f.db->add_counter_event("a", 1000, 2000, 10) == times{1000});
  CHECK(*f.db->add_counter_event("a", 1500, 2500, 10) == times{1500, 1000});
  CHECK(*f.db->add_counter_event("b", 1600, 9000, 10) == times{1600});
  CHECK(*f.db->counter_events("a", 1999, 1) == times{1500});
  // An event whose expiry has come is not counted, and the next event deletes it.
  CHECK(*f.db->counter_events("a", 2000, 10) == times{1500});
  CHECK(*f.db->add_counter_event("a", 2600, 3000, 10) == times{2600});
  CHECK(*f.db->counter_events("b", 2600, 10) == times{1600});
  CHECK(f.db->counter_events("nobody", 0, 10)->empty());
}

TEST_CASE("leases: one holder until the end, which it may extend") {
  fixture f;
  CHECK(*f.db->take_lease("job:sweep", "a", 1000, 2000));
  CHECK_FALSE(*f.db->take_lease("job:sweep", "b", 1999, 3000));
  CHECK(*f.db->take_lease("job:sweep", "a", 1500, 2500));  // extended by its holder
  CHECK_FALSE(*f.db->take_lease("job:sweep", "b", 2499, 3500));
  CHECK(*f.db->take_lease("job:other", "b", 1000, 2000));  // another name
  CHECK(*f.db->take_lease("job:sweep", "b", 2500, 3500));  // ended: anyone takes it
  CHECK_FALSE(*f.db->take_lease("job:sweep", "a", 2600, 3600));
}

TEST_CASE("verification leases: counted per account, admitted by the caller, ended or expired") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  auto acct = f.db->create_account({"acme", "alice", "a@example.com", "viewer", "h"});
  REQUIRE(acct.ok());
  std::vector<std::int64_t> seen;
  auto at_most_two = [&](const cloud::account& a, std::int64_t in_flight) {
    CHECK(a.login_id == "alice");
    seen.push_back(in_flight);
    return in_flight < 2;
  };
  auto first = f.db->take_verification_lease("acme", acct->id, 1000, 5000, at_most_two);
  auto second = f.db->take_verification_lease("acme", acct->id, 1000, 2000, at_most_two);
  auto third = f.db->take_verification_lease("acme", acct->id, 1000, 5000, at_most_two);
  REQUIRE(first->has_value());
  REQUIRE(second->has_value());
  CHECK_FALSE(third->has_value());
  CHECK(seen == std::vector<std::int64_t>{0, 1, 2});
  REQUIRE(f.db->release_verification_lease(**first).ok());
  CHECK(f.db->release_verification_lease(**first).ok());  // gone already: nothing to do
  // The second lease expires at 2000: only the new one counts then.
  CHECK(f.db->take_verification_lease("acme", acct->id, 2000, 5000, at_most_two)->has_value());
  CHECK(seen.back() == 0);
  CHECK(f.db->take_verification_lease("globex", acct->id, 2000, 5000, at_most_two).error().code() ==
        cloud::k_not_found);
}

namespace {

bridge::device_message fleet_state(const std::string& device, std::int64_t ms,
                                   const std::string& model, const std::string& fw,
                                   const std::string& wan) {
  protocol::state_snapshot s;
  s.ts = ms / 1000;
  s.seq = 1;
  s.model = model;
  s.fw = fw;
  s.wan_ip = wan;
  return {device, protocol::topic_kind::state, ms, protocol::encode(s), s};
}

std::vector<std::string> ids_of(const cloud::device_page& page) {
  std::vector<std::string> ids;
  for (const auto& d : page.devices) ids.push_back(d.id);
  return ids;
}

}  // namespace

TEST_CASE("list_devices combines the fleet filters and never crosses companies") {
  fixture f;
  f.company_with("acme", {"acme-a", "acme-b", "acme-c", "acme-d"});
  f.company_with("globex", {"globex-a"});
  auto west = f.db->create_destination("acme", "west", "{}");
  REQUIRE(west.ok());
  REQUIRE(f.db->register_device("acme", "acme-d", west->id).ok());
  const std::int64_t ms = k_t0 * 1000;
  apply(*f.db, {fleet_state("acme-a", ms, "WX3600HP", "2.0.0", "203.0.113.5"),
                fleet_state("acme-b", ms + 10, "WX3600HP", "1.0.0", "203.0.113.6"),
                fleet_state("acme-c", ms + 20, "WG1200", "2.0.0", "198.51.100.7"),
                fleet_state("acme-d", ms + 30, "WX3600HP", "2.0.0", "203.0.113.8"),
                fleet_state("globex-a", ms, "WX3600HP", "2.0.0", "203.0.113.9"),
                presence("acme-a", true, ms + 40), presence("globex-a", true, ms)});
  auto list = [&](cloud::device_query q) {
    auto page = f.db->list_devices("acme", q);
    REQUIRE(page.ok());
    return ids_of(*page);
  };
  using ids = std::vector<std::string>;
  cloud::device_query q;
  q.firmware = "2.0.0";
  CHECK(list(q) == ids{"acme-a", "acme-c", "acme-d"});
  q.model = "WX3600HP";
  CHECK(list(q) == ids{"acme-a", "acme-d"});
  q.destination_id = west->id;
  CHECK(list(q) == ids{"acme-d"});
  q = {};
  q.wan_prefix = "203.0.113.";
  CHECK(list(q) == ids{"acme-a", "acme-b", "acme-d"});
  q.presence = cloud::presence_state::online;
  CHECK(list(q) == ids{"acme-a"});
  q = {};
  q.last_seen_after_ms = ms + 10;
  q.last_seen_before_ms = ms + 30;
  CHECK(list(q) == ids{"acme-b", "acme-c"});
  q = {};
  q.model = "WG1200";
  q.q = "C";
  CHECK(list(q) == ids{"acme-c"});
  q.wan_prefix = "203.";
  CHECK(list(q).empty());
  // A filter that matches only another company's router answers nothing.
  q = {};
  q.wan_prefix = "203.0.113.9";
  CHECK(list(q).empty());
  // Filters and the cursor: pages of one.
  q = {};
  q.firmware = "2.0.0";
  q.wan_prefix = "203";
  q.limit = 1;
  ids seen;
  do {
    auto page = f.db->list_devices("acme", q);
    REQUIRE(page.ok());
    for (const auto& d : page->devices) seen.push_back(d.id);
    q.cursor = page->next_cursor;
  } while (!q.cursor.empty());
  CHECK(seen == ids{"acme-a", "acme-d"});
  auto a = f.db->get_device("acme", "acme-a");
  CHECK(a->model == "WX3600HP");
  CHECK(a->firmware == "2.0.0");
  CHECK(a->wan_ip == "203.0.113.5");
}

TEST_CASE("remove_device deletes the tenancy's data and only for its company") {
  fixture f;
  f.company_with("acme", {"acme-r1"});
  f.company_with("globex", {"globex-r1"});
  apply(*f.db, {state("acme-r1", 1, k_t0 * 1000)});
  auto cmd = f.command("acme", "acme-r1");
  CHECK(f.db->remove_device("globex", "acme-r1").code() == cloud::k_not_found);
  CHECK(f.db->get_device("acme", "acme-r1").ok());
  REQUIRE(f.db->remove_device("acme", "acme-r1").ok());
  CHECK(f.db->get_device("acme", "acme-r1").error().code() == cloud::k_not_found);
  CHECK(f.db->get_command("acme", cmd.id).error().code() == cloud::k_not_found);
  CHECK(f.db->remove_device("acme", "acme-r1").code() == cloud::k_not_found);
  auto unassigned = f.db->list_unassigned_devices(10);
  REQUIRE(unassigned->size() == 1);
  CHECK(unassigned->front().state_json.empty());
}

TEST_CASE("summarize_fleet counts the company's devices by presence and firmware") {
  fixture f;
  f.company_with("acme", {"acme-a", "acme-b", "acme-c"});
  f.company_with("globex", {"globex-a"});
  const std::int64_t ms = k_t0 * 1000;
  apply(*f.db, {fleet_state("acme-a", ms, "M", "2.0.0", "1.2.3.4"),
                fleet_state("acme-b", ms, "M", "2.0.0", "1.2.3.5"), presence("acme-a", true, ms),
                presence("acme-b", false, ms), presence("globex-a", true, ms)});
  auto s = f.db->summarize_fleet("acme");
  REQUIRE(s.ok());
  CHECK(s->devices == 3);
  CHECK(s->online == 1);
  CHECK(s->offline == 1);
  CHECK(s->unknown == 1);
  REQUIRE(s->firmware.size() == 2);
  CHECK(s->firmware[0] == std::pair<std::string, std::int64_t>{"2.0.0", 2});
  CHECK(s->firmware[1] == std::pair<std::string, std::int64_t>{"", 1});
}

// ---- technician secrets and mailed logins ----

namespace {

// The technician_login.secret commands of a device, newest first.
std::vector<cloud::command_record> secret_commands(store& db, const std::string& company,
                                                   const std::string& device) {
  auto all = db.list_commands(company, device, 100);
  REQUIRE_MESSAGE(all.ok(), all.error().to_string());
  std::vector<cloud::command_record> out;
  for (const auto& c : *all)
    if (c.op == "technician_login.secret") out.push_back(c);
  return out;
}

}  // namespace

TEST_CASE("technician secrets: sent when a router is registered or connects, until it confirms") {
  fixture f;
  const std::vector<std::uint8_t> key(32, 7);
  f.secret_rule = cloud::security::technician_secret_rule_of(key, 600);
  f.db.reset();
  f.db = f.open();
  f.company_with("acme", {"acme-r1"});
  f.company_with("globex", {});
  // Registration queues one; connecting while it is pending queues no second.
  REQUIRE(secret_commands(*f.db, "acme", "acme-r1").size() == 1);
  const auto first = secret_commands(*f.db, "acme", "acme-r1")[0];
  CHECK(first.args_json.find(f.secret_rule.key_id) != std::string::npos);
  const std::int64_t ms = k_t0 * 1000;
  apply(*f.db, {presence("acme-r1", true, ms)});
  CHECK(secret_commands(*f.db, "acme", "acme-r1").size() == 1);
  CHECK(f.db->queue_technician_secret("acme", "acme-r1").value() == false);
  CHECK(f.db->technician_secret_key_id("acme", "acme-r1").value().empty());
  CHECK(f.db->queue_technician_secret("globex", "acme-r1").error().code() == cloud::k_not_found);
  CHECK(f.db->technician_secret_key_id("globex", "acme-r1").error().code() == cloud::k_not_found);

  // The router's success records the id of the key it got the secret under.
  apply(*f.db, {result_of("acme-r1", first.id, protocol::result_status::ok, ms + 1)});
  CHECK(f.db->technician_secret_key_id("acme", "acme-r1").value() == f.secret_rule.key_id);
  apply(*f.db, {presence("acme-r1", false, ms + 2), presence("acme-r1", true, ms + 3)});
  CHECK(secret_commands(*f.db, "acme", "acme-r1").size() == 1);
  CHECK(f.db->queue_technician_secret("acme", "acme-r1").value() == false);

  // Another key: the router gets the secret under it when it next connects.
  f.secret_rule = cloud::security::technician_secret_rule_of(std::vector<std::uint8_t>(32, 9), 600);
  f.db.reset();
  f.db = f.open();
  apply(*f.db, {presence("acme-r1", false, ms + 4), presence("acme-r1", true, ms + 5)});
  auto again = secret_commands(*f.db, "acme", "acme-r1");
  REQUIRE(again.size() == 2);
  CHECK(again[0].args_json.find(f.secret_rule.key_id) != std::string::npos);
  apply(*f.db, {result_of("acme-r1", again[0].id, protocol::result_status::error, ms + 6)});
  CHECK(f.db->technician_secret_key_id("acme", "acme-r1").value() != f.secret_rule.key_id);
  // Once that one ended undelivered, the next connection queues another.
  CHECK(f.db->queue_technician_secret("acme", "acme-r1").value() == true);

  // Without a key no secret is ever queued.
  f.secret_rule = {};
  f.db.reset();
  f.db = f.open();
  auto dest = f.db->ensure_destination("globex", "default");
  REQUIRE(f.db->register_device("globex", "globex-r1", dest->id).ok());
  apply(*f.db, {presence("globex-r1", true, ms + 7)});
  CHECK(secret_commands(*f.db, "globex", "globex-r1").empty());
  CHECK(f.db->queue_technician_secret("globex", "globex-r1").value() == false);
}

TEST_CASE("technician-login events: a late report on a purged login keeps its technician's name") {
  fixture f;
  f.company_with("acme", {"acme-r1", "acme-r2"});
  auto [l, install] = login_of_acme_r1();
  l.technician_name = "Sato Hanako";
  REQUIRE(f.db->create_technician_login(l, install).ok());
  REQUIRE(f.db->purge_technician_logins(k_t0).value() == 1);
  const std::int64_t ms = (k_t0 + 7200) * 1000;
  // The router that held it, late; the same id from another router and an id never issued.
  auto out = apply(*f.db, {event_of("acme-r2", "technician_login.used", "T-ABCD2345", ms),
                           event_of("acme-r1", "technician_login.used", "T-NOTISSUED", ms),
                           event_of("acme-r1", "technician_login.ended", "T-ABCD2345", ms + 1)});
  CHECK(out.unrecorded_event_devices == std::vector<std::string>{"acme-r2", "acme-r1"});
  auto log = f.db->list_audit("acme", {});
  REQUIRE(log.ok());
  REQUIRE(log->size() == 1);
  CHECK((*log)[0].action == "technician_login.ended");
  CHECK((*log)[0].target == "T-ABCD2345");
  CHECK((*log)[0].detail.find("technician=Sato Hanako") != std::string::npos);
  // It stays purged.
  CHECK(f.db->get_technician_login("acme", "T-ABCD2345").error().code() == cloud::k_not_found);
}

TEST_CASE("technician logins with mail: both stored, or neither when the mail fails") {
  fixture f;
  f.company_with("acme", {"acme-r1"});
  auto [l, install] = login_of_acme_r1();
  cloud::mail_message mail;
  mail.to = "tech@example.com";
  mail.subject = "login";
  mail.body = "sealed";
  auto mails = [&] { return test::query_int(f.path, "SELECT count(*) FROM mail_outbox"); };
  auto commands = [&] {
    auto all = f.db->list_commands("acme", "acme-r1", 100);
    REQUIRE_MESSAGE(all.ok(), all.error().to_string());
    return all->size();
  };

  // Bad input: a clear error and nothing stored.
  cloud::mail_message bad = mail;
  bad.to.clear();
  CHECK(f.db->create_technician_login_with_mail(l, install, bad).error().code() ==
        cloud::k_invalid);
  // A fault between the login and its mail (the outbox refuses the row) undoes the login too.
  const std::string fault =
      on_postgres()
          ? "CREATE FUNCTION mail_fault() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'fault'; "
            "END $$ LANGUAGE plpgsql; CREATE TRIGGER mail_fault BEFORE INSERT ON mail_outbox "
            "FOR EACH ROW EXECUTE FUNCTION mail_fault();"
          : "CREATE TRIGGER mail_fault BEFORE INSERT ON mail_outbox "
            "BEGIN SELECT RAISE(ABORT, 'fault'); END;";
  std::string error;
  REQUIRE_MESSAGE(f.raw_exec(fault, &error), error);
  CHECK_FALSE(f.db->create_technician_login_with_mail(l, install, mail).ok());
  CHECK(f.db->get_technician_login("acme", "T-ABCD2345").error().code() == cloud::k_not_found);
  CHECK(commands() == 0);
  CHECK(mails() == 0);

  REQUIRE_MESSAGE(
      f.raw_exec("DROP TRIGGER mail_fault" + std::string(on_postgres() ? " ON mail_outbox" : ""),
                 &error),
      error);
  auto made = f.db->create_technician_login_with_mail(l, install, mail);
  REQUIRE_MESSAGE(made.ok(), made.error().to_string());
  CHECK(made->login_id == "T-ABCD2345");
  CHECK(commands() == 1);
  CHECK(mails() == 1);
}

TEST_CASE(
    "a connection's full statement cache drops the statements no query uses, and one in use stays "
    "and runs") {
  cloud::store_options o;
  o.rules = aterm::cloud::security::rules_for_store();
  o.db = test::test_db("statement-cache");
  o.pool_size = 1;
  auto pool = cloud::store_sql::open_pool(o);
  REQUIRE_MESSAGE(pool.ok(), pool.error().to_string());
  cloud::sql::connection& db = *(*pool)->acquire().db;
  auto value = [&](const std::string& text) {
    auto q = db.prepare(text);
    REQUIRE(q.step());
    return q.i64(0);
  };
  // A query held across the cache's turnover, bound before it and run after it.
  auto held = db.prepare("SELECT CAST(? AS BIGINT) + 1");
  held.bind(std::int64_t{41});
  // Twice as many other texts as the cache holds, each run once: before, the text after the
  // cache's size failed with "statement cache full".
  const std::size_t texts = 2 * cloud::limits::k_max_cached_statements;
  for (std::size_t i = 0; i < texts; ++i) {
    CHECK(value("SELECT " + std::to_string(i) + " + 0") == static_cast<std::int64_t>(i));
  }
  REQUIRE(held.step());
  CHECK(held.i64(0) == 42);
  // Dropped texts are prepared again and give their own answers (on PostgreSQL a server-side
  // name is never given to a second statement).
  for (std::size_t i = 0; i < 10; ++i) {
    CHECK(value("SELECT " + std::to_string(i) + " + 0") == static_cast<std::int64_t>(i));
  }
  (*pool)->release();
}
