#include <doctest/doctest.h>

#include "aterm/cloud/jobs/backup.h"
#include "aterm/common/protocol.h"
#include "jobs_fixture.h"

namespace aterm::cloud::jobs::test {

namespace {

namespace protocol = common::protocol;

std::int64_t ms(common::wall_time t) {
  return common::to_unix_ms(t);
}

// The device reports presence and a state at `t` (as the bridge would store them).
void heard_from(store& db, const std::string& device, common::wall_time t, bool online = true) {
  protocol::presence p{online, "1.0.0", ms(t) / 1000};
  protocol::state_snapshot s;
  s.ts = ms(t) / 1000;
  s.seq = 1;
  s.model = "WX3600HP";
  std::vector<bridge::device_message> batch = {
      {device, protocol::topic_kind::presence, ms(t), protocol::encode(p), p},
      {device, protocol::topic_kind::state, ms(t), protocol::encode(s), s}};
  auto r = db.apply_batch(batch);
  REQUIRE_MESSAGE(r.ok(), r.error().to_string());
}

void register_device(store& db, const std::string& company, const std::string& device) {
  auto dest = db.ensure_destination(company, "default");
  REQUIRE(dest.ok());
  auto d = db.register_device(company, device, dest->id);
  REQUIRE_MESSAGE(d.ok(), d.error().to_string());
}

technician_login issue_login(fixture& f, const std::string& company, const std::string& device,
                             const std::string& login_id, common::wall_time at,
                             std::int64_t ttl_s = 3600) {
  f.clock.set(at);
  technician_login l;
  l.login_id = login_id;
  l.company_id = company;
  l.device_id = device;
  l.salt_hex = std::string(32, 'a');
  l.hash_hex = std::string(64, 'b');
  l.issued_at_s = common::to_unix_s(at);
  l.expires_at_s = l.issued_at_s + ttl_s;
  l.created_by = "alice";
  new_command install{device, "technician_login.install", "{\"login_id\":\"" + login_id + "\"}",
                      l.expires_at_s, "alice"};
  auto made = f.db->create_technician_login(l, install);
  REQUIRE_MESSAGE(made.ok(), made.error().to_string());
  return *made;
}

}  // namespace

TEST_CASE("device data goes after 90 days without a connection and the registration stays") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  register_device(*f.db, "acme", "acme-r1");
  register_device(*f.db, "acme", "acme-r2");
  heard_from(*f.db, "acme-r1", day(0), false);
  heard_from(*f.db, "acme-r2", day(2), false);
  heard_from(*f.db, "stray-r9", day(0), false);  // unassigned
  issue_login(f, "acme", "acme-r1", "T-ABCD2345", day(0.5), 200 * k_day_s);

  CHECK(f.sweep(day(89)).empty());
  auto lines = f.sweep(day(91));
  CHECK(lines == std::vector<std::string>{
                     "device.data_delete device=acme-r1 company=acme",
                     "device.data_delete device=stray-r9 company=-",
                 });
  CHECK(f.scalar("SELECT count(*) FROM state_history WHERE device_id = 'acme-r1'") == 0);
  CHECK(f.scalar("SELECT count(*) FROM commands WHERE device_id = 'acme-r1'") == 0);
  CHECK(f.scalar("SELECT count(*) FROM technician_logins WHERE device_id = 'acme-r1'") == 0);
  CHECK(f.scalar("SELECT count(*) FROM devices WHERE id = 'stray-r9'") == 0);
  auto kept = f.db->get_device("acme", "acme-r1");
  REQUIRE(kept.ok());
  CHECK(kept->state_json.empty());
  CHECK(kept->destination_name == "default");
  // acme-r2 was heard from 89 days ago: untouched.
  CHECK(f.scalar("SELECT count(*) FROM state_history WHERE device_id = 'acme-r2'") > 0);
  CHECK(f.sweep(day(91.5)).empty());

  // It comes back cleanly.
  heard_from(*f.db, "acme-r1", day(92));
  auto back = f.db->get_device("acme", "acme-r1");
  REQUIRE(back.ok());
  CHECK(back->presence == presence_state::online);
  CHECK_FALSE(back->state_json.empty());
  CHECK(f.scalar("SELECT count(*) FROM audit_log WHERE action = 'device.data_delete'") == 2);
}

TEST_CASE("technician login records are deleted 60 minutes after issue") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  register_device(*f.db, "acme", "acme-r1");
  heard_from(*f.db, "acme-r1", day(0));
  auto t = issue_login(f, "acme", "acme-r1", "T-ABCD2345", day(0));
  auto issued = common::from_unix_s(t.issued_at_s);
  CHECK(f.sweep(issued + std::chrono::minutes(59)).empty());
  CHECK(f.scalar("SELECT count(*) FROM technician_logins") == 1);
  auto lines = f.sweep(issued + std::chrono::minutes(60));
  CHECK(lines == std::vector<std::string>{
                     "technician_login.delete login=T-ABCD2345 device=acme-r1 company=acme"});
  CHECK(f.scalar("SELECT count(*) FROM technician_logins") == 0);
  CHECK(f.scalar("SELECT count(*) FROM audit_log WHERE action = 'technician_login.delete' "
                 "AND target = 'T-ABCD2345'") == 1);
}

TEST_CASE("the technician-login sweep alone deletes at 60 minutes, audited, and nothing else") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  register_device(*f.db, "acme", "acme-r1");
  heard_from(*f.db, "acme-r1", day(0));
  auto t = issue_login(f, "acme", "acme-r1", "T-ABCD2345", day(0));
  auto issued = common::from_unix_s(t.issued_at_s);
  auto run = [&](common::wall_time at) {
    f.clock.set(at);
    std::vector<std::string> lines;
    auto report = run_technician_login_sweep(*f.port, f.settings, at,
                                             [&](const std::string& l) { lines.push_back(l); });
    CHECK(report.failures == 0);
    CHECK(report.actions == lines.size());
    return lines;
  };
  CHECK(run(issued + std::chrono::minutes(59)).empty());
  CHECK(f.scalar("SELECT count(*) FROM technician_logins") == 1);
  CHECK(run(issued + std::chrono::minutes(60)) ==
        std::vector<std::string>{
            "technician_login.delete login=T-ABCD2345 device=acme-r1 company=acme"});
  CHECK(f.scalar("SELECT count(*) FROM technician_logins") == 0);
  CHECK(f.scalar("SELECT count(*) FROM audit_log WHERE action = 'technician_login.delete' "
                 "AND target = 'T-ABCD2345'") == 1);
  // The device's old data is the full sweep's business, not this one's.
  auto later = issued + std::chrono::hours(24 * 365);
  CHECK(run(later).empty());
  CHECK_FALSE(f.sweep(later).empty());
}

TEST_CASE("a technician login with a longer company ttl is kept until it expires") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  register_device(*f.db, "acme", "acme-r1");
  auto t = issue_login(f, "acme", "acme-r1", "T-ABCD2345", day(0), 120 * 60);
  auto issued = common::from_unix_s(t.issued_at_s);
  CHECK(f.sweep(issued + std::chrono::minutes(90)).empty());
  CHECK(f.sweep(issued + std::chrono::minutes(120)).size() == 1);
}

TEST_CASE("the access-log purge keeps the chain verifiable") {
  fixture f;
  for (int i = 0; i < 5; ++i) {
    f.clock.set(day(i));
    REQUIRE(f.db->append_audit({"acme", "alice", "login", "alice", "success", "", ""}).ok());
  }
  f.clock.set(day(200));
  REQUIRE(f.db->append_audit({"acme", "alice", "login", "alice", "success", "", ""}).ok());

  CHECK(f.raw_exec("DELETE FROM audit_log WHERE seq = 1") != "");
  CHECK(f.sweep(day(365)).empty());
  auto lines = f.sweep(day(367.5));
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "audit.purge records=3 start_seq=4 checkpoint_seq=7");
  CHECK(f.scalar("SELECT min(seq) FROM audit_log") == 4);
  CHECK(f.scalar("SELECT purge_before FROM audit_head") == 4);
  auto report = verify_audit_file(f.path());
  REQUIRE(report.ok());
  CHECK_MESSAGE(report->intact(), report->message);

  // Only the purge's rows could go; the kept ones and the head are still guarded.
  CHECK(f.raw_exec("DELETE FROM audit_log WHERE seq = 4") != "");
  CHECK(f.raw_exec("UPDATE audit_head SET purge_before = 1") != "");
  CHECK(f.raw_exec("UPDATE audit_log SET detail = 'x' WHERE seq = 5") != "");

  // Records appended afterwards chain on, and a later purge of everything still verifies.
  f.clock.set(day(368));
  REQUIRE(f.db->append_audit({"acme", "alice", "logout", "alice", "success", "", ""}).ok());
  auto later = f.sweep(day(2000));
  CHECK(f.has_line(later, "audit.purge records=5 start_seq=9 checkpoint_seq=9"));
  report = verify_audit_file(f.path());
  REQUIRE(report.ok());
  CHECK_MESSAGE(report->intact(), report->message);
}

TEST_CASE("contract end deletes exactly the data of that company and nothing of another") {
  fixture f;
  for (const std::string c : {"acme", "globex"}) {
    REQUIRE(f.db->create_company(c, c).ok());
    f.make_account(c, "admin", "administrator", "admin@" + c + ".example");
    f.make_account(c, "staff", "operator", "staff@" + c + ".example");
    REQUIRE(f.db->create_role(c, "auditor", {"audit.read"}).ok());
    register_device(*f.db, c, c + "-old");
    register_device(*f.db, c, c + "-live");
    // globex's old router is 52 days quiet at the contract end, acme's 102.
    heard_from(*f.db, c + "-old", c == "acme" ? day(0) : day(50), false);
    heard_from(*f.db, c + "-live", day(100));
    issue_login(f, c, c + "-live", c == "acme" ? "T-ACME2345" : "T-GLBX2345", day(100),
                300 * k_day_s);
    REQUIRE(f.db->create_session({"h-" + c, "csrf", f.get(c, "staff").id, c, 0, 0, ""}).ok());
  }
  auto acme = f.db->get_company("acme");
  REQUIRE(acme.ok());
  auto settings = acme->settings;
  settings.contract_end_s = common::to_unix_s(day(101));
  REQUIRE(f.db->update_company_settings("acme", settings).ok());

  // Before the end date only the device rule acts (on acme's old router).
  CHECK(f.sweep(day(100.5)) ==
        std::vector<std::string>{"device.data_delete device=acme-old company=acme"});
  auto dry = f.sweep(day(102), true);
  CHECK(f.has_line(dry, "dry-run company.contract_end company=acme"));
  CHECK(f.db->get_company("acme").ok());

  auto lines = f.sweep(day(102));
  CHECK(lines == std::vector<std::string>{
                     "company.contract_end company=acme",
                     "account.delete company=acme login=admin",
                     "account.delete company=acme login=staff",
                     "device.data_delete device=acme-old company=acme",
                     "device.unassign device=acme-live company=acme",
                 });
  CHECK_FALSE(f.db->get_company("acme").ok());
  auto count = [&](const std::string& table, const std::string& company) {
    return f.scalar("SELECT count(*) FROM " + table + " WHERE company_id = '" + company + "'");
  };
  for (const char* table : {"accounts", "sessions", "roles", "destinations", "devices", "commands",
                            "technician_logins"}) {
    CAPTURE(table);
    CHECK(count(table, "acme") == 0);
    CHECK(count(table, "globex") > 0);
  }
  CHECK(f.scalar("SELECT count(*) FROM devices WHERE id = 'acme-old'") == 0);
  CHECK(f.scalar("SELECT count(*) FROM devices WHERE id = 'acme-live' AND company_id IS NULL") ==
        1);
  // The connected router stays, without acme's state and history: the next company that
  // registers it reads nothing of acme's tenancy.
  CHECK(f.scalar("SELECT count(*) FROM devices WHERE id = 'acme-live' AND state_json IS NULL") ==
        1);
  CHECK(f.scalar("SELECT count(*) FROM state_history WHERE device_id = 'acme-live'") == 0);
  CHECK(f.scalar("SELECT count(*) FROM state_history WHERE device_id = 'globex-live'") > 0);
  CHECK(f.db->get_company("globex").ok());
  CHECK(f.db->find_account("globex", "staff").ok());
  CHECK(f.db->get_device("globex", "globex-old").ok());
  // The access log keeps the company's records and adds the contract end.
  CHECK(count("audit_log", "acme") > 0);
  auto report = verify_audit_file(f.path());
  REQUIRE(report.ok());
  CHECK(report->intact());
  // Done once: the next sweep has nothing of acme left to do.
  CHECK_FALSE(f.has_line(f.sweep(day(103)), "acme"));
}

}  // namespace aterm::cloud::jobs::test
