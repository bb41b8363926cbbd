// Offline technician credentials end to end (docs/security.md, "Offline technician logins"): the
// real daemon issues them under a technician key file, the real agent receives its per-device
// secret over MQTT, and with the broker stopped `aterm-agent login-check` accepts a credential
// issued afterwards, once, and `aterm-agent login-logout` ends the technician's local session;
// the reports reach the access log under the technician's name.
#include <doctest/doctest.h>

#include <fstream>

#include "aterm/cloud/store.h"
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

}  // namespace

TEST_CASE("offline_technician_login_issued_while_the_broker_is_down_names_the_technician") {
  temp_dir keys("offline-technician-keys");
  cloud_stack s(with_technician_key(keys));
  s.register_device("acme", "acme-t1");
  s.start_agent("acme-t1");
  auto c = s.client("acme");
  REQUIRE(s.wait_for(c, "devices/acme-t1", [](const http_answer& a) {
    return a.status == 200 && a.str("presence") == "online";
  }));
  // The first issue, while online, also gives the router its secret.
  auto first = c.request("POST", "devices/acme-t1/technician-logins",
                         R"({"technician_name":"Sato Hanako"})");
  INFO(first.body);
  REQUIRE(first.status == 201);
  const auto secret_file = s.agent_config("acme-t1").parent_path() / "data" / "technician-secret";
  REQUIRE(
      wait_until([&] { return fs::exists(secret_file) && fs::file_size(secret_file) > 0; }, 20s));
  std::string secret_hex;
  std::ifstream(secret_file) >> secret_hex;
  REQUIRE(secret_hex.size() == 64);
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
