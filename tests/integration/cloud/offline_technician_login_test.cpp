// Offline technician credentials end to end (docs/security.md, "Offline technician logins"): the
// real daemon issues them under a technician key file, the real agent receives its per-device
// secret over MQTT, and with the broker stopped `aterm-agent login-check` accepts a credential
// issued afterwards, once, and `aterm-agent login-logout` ends the technician's local session;
// the reports reach the access log under the technician's name.
#include <doctest/doctest.h>

#include <cctype>
#include <fstream>

#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/store.h"
#include "aterm/common/crypto.h"
#include "aterm/test/sql.h"
#include "cloud_stack.h"

using namespace aterm;
using namespace aterm::test;

namespace {

cloud_stack_options with_technician_key(const temp_dir& keys) {
  cloud_stack_options o;
  o.name = "integration-offline-technician";
  o.security = R"("technician_key_file": ")" + (keys.path() / "technician-key").string() + "\"";
  return o;
}

// Starts `device` registered to acme and issues a login while it is online, which also gives the
// router its secret; the issue's answer.
http_answer issue_while_online(cloud_stack& s, https_client& c, const std::string& device) {
  s.register_device("acme", device);
  s.start_agent(device);
  REQUIRE(s.wait_for(c, "devices/" + device, [](const http_answer& a) {
    return a.status == 200 && a.str("presence") == "online";
  }));
  auto first = c.request("POST", "devices/" + device + "/technician-logins",
                         R"({"technician_name":"Sato Hanako"})");
  INFO(first.body);
  REQUIRE(first.status == 201);
  return first;
}

// The secret the router keeps (64 hex digits), once it has it.
std::string installed_secret(cloud_stack& s, const std::string& device) {
  const auto secret_file = s.agent_config(device).parent_path() / "data" / "technician-secret";
  REQUIRE(
      wait_until([&] { return fs::exists(secret_file) && fs::file_size(secret_file) > 0; }, 20s));
  std::string secret_hex;
  std::ifstream(secret_file) >> secret_hex;
  REQUIRE(secret_hex.size() == 64);
  return secret_hex;
}

}  // namespace

TEST_CASE("offline_technician_login_issued_while_the_broker_is_down_names_the_technician") {
  temp_dir keys("offline-technician-keys");
  cloud_stack s(with_technician_key(keys));
  auto c = s.client("acme");
  const auto first = issue_while_online(s, c, "acme-t1");
  const auto secret_hex = installed_secret(s, "acme-t1");
  // The secret is the router's alone: the API never shows the command's arguments.
  auto shown = c.request("GET", "devices/acme-t1");
  CHECK(shown.body.find("technician_login.secret") != std::string::npos);
  CHECK(shown.body.find(secret_hex) == std::string::npos);
  CHECK(c.request("POST", "devices/acme-t1/technician-logins", R"({"technician_name":7})").status ==
        400);

  s.mqtt().stop();
  auto issued = c.request("POST", "devices/acme-t1/technician-logins",
                          R"({"technician_name":"Sato Hanako"})");
  REQUIRE(issued.status == 201);
  const auto login_id = issued.str("login_id");
  const auto password = issued.str("password");
  auto check = [&](const std::string& pw) {
    return run({binary("agent/aterm-agent").string(), "login-check", "--config",
                s.agent_config("acme-t1").string(), "--login-id", login_id},
               pw + "\n")
        .exit_code;
  };
  CHECK(check("Wrong234pass") == 1);
  CHECK(check(password) == 0);
  CHECK(check(password) == 1);
  auto logout = [&] {
    return run({binary("agent/aterm-agent").string(), "login-logout", "--config",
                s.agent_config("acme-t1").string(), "--login-id", login_id})
        .exit_code;
  };
  CHECK(logout() == 0);
  CHECK(logout() == 1);  // the session ended once

  s.mqtt().start();
  cloud::store_options o;
  o.rules = aterm::cloud::security::rules_for_store();
  o.db = s.db_path().string();
  auto db = cloud::open_store(o, common::system_clock::instance());
  REQUIRE(db.ok());
  auto records = [&](const char* action) {
    cloud::audit_query q;
    q.action = action;
    auto log = (*db)->list_audit("acme", q);
    std::vector<cloud::audit_record> out;
    if (!log.ok()) return out;
    for (auto& r : *log)
      if (r.target == login_id) out.push_back(r);
    return out;
  };
  REQUIRE(wait_until([&] { return records("technician_login.used").size() == 1; }, 30s));
  CHECK(records("technician_login.used")[0].detail.find("technician=Sato Hanako") !=
        std::string::npos);
  REQUIRE(wait_until([&] { return records("technician_login.failed").size() == 2; }, 20s));
  // The end of the local session, with the configuration revisions at the use and at the end.
  REQUIRE(wait_until([&] { return records("technician_login.ended").size() == 1; }, 20s));
  const auto ended = records("technician_login.ended")[0];
  CHECK(ended.result == "ended");
  CHECK(ended.detail.find("technician=Sato Hanako") != std::string::npos);
  CHECK(ended.detail.find("reason=logout") != std::string::npos);
  CHECK(ended.detail.find("config_rev_before=") != std::string::npos);
  CHECK(ended.detail.find("config_rev_after=") != std::string::npos);
  CHECK(ended.detail.find(password) == std::string::npos);
  // The issue names the technician too.
  cloud::audit_query q;
  auto all = (*db)->list_audit("acme", q);
  REQUIRE(all.ok());
  bool issue_named = false;
  for (auto& r : *all)
    if (r.detail.find("login_id=" + login_id) != std::string::npos &&
        r.detail.find("technician=Sato Hanako") != std::string::npos)
      issue_named = true;
  CHECK(issue_named);

  // Revoking says until when an offline router could still accept it.
  auto revoked = c.request("DELETE", "devices/acme-t1/technician-logins/" + first.str("login_id"));
  CHECK(revoked.status == 200);
  CHECK(revoked.num("offline_usable_until") >= first.num("expires_at_s"));
}

// The secret travels to the router in a command; whoever reads the database (the file, its
// write-ahead log) after the router installed it finds it in no form: hex in either case,
// base64, base64url or raw bytes.
TEST_CASE("technician_secret_read_from_the_database_file") {
  temp_dir keys("offline-technician-db-keys");
  cloud_stack s(with_technician_key(keys));
  auto c = s.client("acme");
  const auto issued = issue_while_online(s, c, "acme-t3");
  const auto secret_hex = installed_secret(s, "acme-t3");
  const auto secret = common::crypto::from_hex(secret_hex);
  REQUIRE(secret.ok());
  // The command finished: its row stays like this until the retention purge.
  REQUIRE(wait_until(
      [&] {
        return query_int(s.db_path(),
                         "SELECT count(*) FROM commands WHERE op = 'technician_login.secret' "
                         "AND status = 'succeeded'") == 1;
      },
      20s));
  const std::string bytes = sqlite_file_bytes(s.db_path());
  REQUIRE(bytes.size() > 4096);
  std::string upper = secret_hex;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const std::string b64url = common::crypto::base64url_encode(*secret);
  std::string b64 = b64url;
  for (auto& ch : b64) ch = ch == '-' ? '+' : ch == '_' ? '/' : ch;
  INFO("secret ", secret_hex);
  CHECK(bytes.find(secret_hex) == std::string::npos);
  CHECK(bytes.find(upper) == std::string::npos);
  CHECK(bytes.find(b64url) == std::string::npos);
  CHECK(bytes.find(b64) == std::string::npos);
  CHECK(bytes.find(std::string(secret->begin(), secret->end())) == std::string::npos);
  // The router got it all the same: it accepts a credential issued under it.
  auto check = run({binary("agent/aterm-agent").string(), "login-check", "--config",
                    s.agent_config("acme-t3").string(), "--login-id", issued.str("login_id")},
                   issued.str("password") + "\n");
  CHECK(check.exit_code == 0);
}

// A router connected once and was never issued a login; then its broker went away. It got its
// secret when it was first seen, so a login issued now is accepted offline, once; and its
// reports, arriving after the cloud purged the login's record, are still recorded under the
// technician's name (and under no name the router could claim).
TEST_CASE("offline_login_for_a_router_never_issued_one_is_accepted_and_reported_after_purge") {
  temp_dir keys("offline-technician-seen-keys");
  auto o = with_technician_key(keys);
  o.extra = R"("retention": {"technician_login_retention_s": 1})";
  cloud_stack s(o);
  auto c = s.client("acme");
  s.register_device("acme", "acme-t5");
  s.start_agent("acme-t5");
  REQUIRE(s.wait_for(c, "devices/acme-t5", [](const http_answer& a) {
    return a.status == 200 && a.str("presence") == "online";
  }));
  (void)installed_secret(s, "acme-t5");
  REQUIRE(wait_until(
      [&] {
        return query_int(s.db_path(),
                         "SELECT count(*) FROM devices WHERE id = 'acme-t5' "
                         "AND technician_secret_key_id <> ''") == 1;
      },
      20s));
  CHECK(query_int(s.db_path(), "SELECT count(*) FROM technician_logins") == 0);
  CHECK(query_int(s.db_path(),
                  "SELECT count(*) FROM commands WHERE op = 'technician_login.secret'") == 1);

  s.mqtt().stop();
  auto issued = c.request("POST", "devices/acme-t5/technician-logins",
                          R"({"technician_name":"Suzuki Ichiro"})");
  INFO(issued.body);
  REQUIRE(issued.status == 201);
  const auto login_id = issued.str("login_id");
  const auto config = s.agent_config("acme-t5").string();
  auto check = [&] {
    return run({binary("agent/aterm-agent").string(), "login-check", "--config", config,
                "--login-id", login_id},
               issued.str("password") + "\n")
        .exit_code;
  };
  CHECK(check() == 0);
  CHECK(check() == 1);
  CHECK(run({binary("agent/aterm-agent").string(), "login-logout", "--config", config, "--login-id",
             login_id})
            .exit_code == 0);

  // The login runs out and the cloud purges its record before the router is back.
  CHECK(exec_sql(s.db_path(),
                 "UPDATE technician_logins SET issued_at_s = issued_at_s - 7200, "
                 "expires_at_s = issued_at_s - 3600 WHERE login_id = '" +
                     login_id + "'") == "");
  REQUIRE(wait_until(
      [&] { return query_int(s.db_path(), "SELECT count(*) FROM technician_logins") == 0; }, 20s));
  s.mqtt().start();
  auto named = [&](const std::string& action) {
    return query_int(s.db_path(), "SELECT count(*) FROM audit_log WHERE action = '" + action +
                                      "' AND target = '" + login_id +
                                      "' AND detail LIKE '%technician=Suzuki Ichiro%'");
  };
  REQUIRE(wait_until([&] { return named("technician_login.ended") == 1; }, 30s));
  CHECK(named("technician_login.used") == 1);
  // The record was deleted through the purge, which recorded it.
  CHECK(query_int(s.db_path(),
                  "SELECT count(*) FROM audit_log WHERE action = "
                  "'technician_login.delete' AND target = '" +
                      login_id + "'") == 1);
}

// A fault between storing a login and queueing its mail (the outbox refuses the row): the
// operator gets an error and no login exists, no install is queued, no mail waits.
TEST_CASE("technician_login_mail_fault_leaves_no_login") {
  temp_dir keys("offline-technician-mail-fault-keys");
  cloud_stack s(with_technician_key(keys));
  auto c = s.client("acme");
  s.register_device("acme", "acme-t6");
  REQUIRE(exec_sql(s.db_path(),
                   "CREATE TRIGGER mail_fault BEFORE INSERT ON mail_outbox "
                   "BEGIN SELECT RAISE(ABORT, 'fault'); END;") == "");
  auto issued = c.request("POST", "devices/acme-t6/technician-logins",
                          R"({"technician_name":"Sato Hanako","email":"sato@example.com"})");
  INFO(issued.body);
  CHECK(issued.status >= 500);
  CHECK(issued.body.find("password") == std::string::npos);
  CHECK(query_int(s.db_path(), "SELECT count(*) FROM technician_logins") == 0);
  CHECK(query_int(s.db_path(),
                  "SELECT count(*) FROM commands WHERE op = 'technician_login.install'") == 0);
  CHECK(query_int(s.db_path(), "SELECT count(*) FROM mail_outbox") == 0);
  auto listed = c.request("GET", "devices/acme-t6/technician-logins");
  CHECK(listed.body.find("T-") == std::string::npos);

  REQUIRE(exec_sql(s.db_path(), "DROP TRIGGER mail_fault") == "");
  auto again = c.request("POST", "devices/acme-t6/technician-logins",
                         R"({"technician_name":"Sato Hanako","email":"sato@example.com"})");
  CHECK(again.status == 201);
  CHECK(query_int(s.db_path(), "SELECT count(*) FROM technician_logins") == 1);
  CHECK(query_int(s.db_path(), "SELECT count(*) FROM mail_outbox") == 1);
}
