// Attacks on the access log and on the idle log-off, against the real daemon, broker and SQLite
// file: a huge command op, forged and repeated technician-login events from a device, retained
// device messages replayed at every subscribe, and a dashboard's background polls keeping a
// session alive. Every wait is a condition with a deadline.
#include <doctest/doctest.h>

#include <ctime>
#include <string>

#include "aterm/test/mqtt_client.h"
#include "aterm/test/sql.h"
#include "cloud_stack.h"

namespace {

using namespace aterm::test;

constexpr const char* k_password = "correct-horse-battery-9";
// security/limits.h k_max_audit_field: the bound of one text field of a record.
constexpr std::int64_t k_field_bound = 256;

std::int64_t sql(cloud_stack& s, const std::string& query) {
  return query_int(s.db_path(), query);
}

// The longest text field of any access-log record.
std::int64_t longest_audit_field(cloud_stack& s) {
  return sql(s,
             "SELECT max(max(length(CAST(company_id AS BLOB)), length(CAST(actor AS BLOB)), "
             "length(CAST(action AS BLOB)), length(CAST(target AS BLOB)), "
             "length(CAST(result AS BLOB)), length(CAST(detail AS BLOB)), "
             "length(CAST(source_ip AS BLOB)))) FROM audit_log");
}

// A router's own MQTT identity from the stack's PKI: what an attacker holding a router has.
std::unique_ptr<mqtt_client> device_client(cloud_stack& s, const std::string& device) {
  auto [cert, key] = s.pki().device(device);
  auto c =
      std::make_unique<mqtt_client>(s.mqtt().uri(), device, s.pki().ca(), mqtt_identity{cert, key});
  REQUIRE(c->connect());
  return c;
}

std::string event(const std::string& type, const std::string& login_id) {
  return R"({"v":1,"ts":)" + std::to_string(std::time(nullptr)) + R"(,"type":")" + type +
         R"(","login_id":")" + login_id + R"("})";
}

std::string technician_login(cloud_stack& s, const std::string& device) {
  auto admin = s.client("acme");
  auto issued = admin.request("POST", "devices/" + device + "/technician-logins", "{}");
  INFO(issued.body);
  REQUIRE(issued.status == 201);
  return issued.str("login_id");
}

std::int64_t login_records(cloud_stack& s, const std::string& device, const std::string& action) {
  return sql(s, "SELECT count(*) FROM audit_log WHERE actor = 'device:" + device +
                    "' AND action = '" + action + "'");
}

}  // namespace

TEST_CASE("oversized_command_op_does_not_inflate_access_log") {
  cloud_stack s;
  s.register_device("acme", "acme-r1");
  s.create_account("acme", "oper", "operator", k_password);
  auto op = s.make_client();
  REQUIRE(op.login("acme", "oper", k_password).status == 200);

  auto huge = op.request("POST", "devices/acme-r1/commands",
                         R"({"op":")" + std::string(900'000, 'x') + R"("})");
  CHECK(huge.status == 400);
  CHECK(huge.str("error") == "bad_command");
  // The refusal is recorded, with what was refused but not the request's text.
  CHECK(sql(s,
            "SELECT count(*) FROM audit_log WHERE actor = 'oper' AND action = 'command.create' "
            "AND result = 'failure'") == 1);
  // A huge path parameter is no operation's field either: whatever a route does with it, the
  // record keeps at most the bound, marked as cut.
  auto long_id = op.request("POST", "devices/" + std::string(5000, 'd') + "/commands",
                            R"({"op":"ping","args":{}})");
  CHECK(long_id.status == 404);
  CHECK(sql(s, "SELECT count(*) FROM audit_log WHERE actor = 'oper' AND target LIKE '%...[cut]'") ==
        1);
  auto longest = longest_audit_field(s);
  INFO("longest access-log field: " << longest << " bytes");
  CHECK(longest <= k_field_bound);
  // An op of the catalogue is still recorded as it was.
  CHECK(op.request("POST", "devices/acme-r1/commands", R"({"op":"ping","args":{}})").status == 202);
  CHECK(sql(s,
            "SELECT count(*) FROM audit_log WHERE actor = 'oper' AND action = 'command.create' "
            "AND result = 'success' AND detail LIKE 'op=ping command=%'") == 1);
}

TEST_CASE("forged_technician_login_events_do_not_reach_access_log") {
  cloud_stack_options o;
  // The rate under test, shortened so a burst of 40 shows it; a window of an hour, so the test
  // does not depend on how fast it runs.
  o.security = R"("device_event_records": 5, "device_event_window_s": 3600)";
  cloud_stack s(o);
  s.register_device("acme", "acme-r1");
  const std::string held = technician_login(s, "acme-r1");
  auto router = device_client(s, "acme-r1");

  // A login id the router never held, 60,000 characters long, then bursts on the login it does
  // hold, session ends first: QoS 1 from one client, so the bridge sees them in this order.
  const std::string forged(60'000, 'F');
  for (int i = 0; i < 20; ++i) {
    REQUIRE(router->publish("aterm/v1/acme-r1/event", event("technician_login.failed", forged)));
    REQUIRE(router->publish("aterm/v1/acme-r1/event", event("technician_login.ended", forged)));
  }
  for (int i = 0; i < 10; ++i) {
    REQUIRE(router->publish("aterm/v1/acme-r1/event", event("technician_login.ended", held)));
  }
  constexpr int k_burst = 40;
  for (int i = 0; i < k_burst; ++i) {
    REQUIRE(router->publish("aterm/v1/acme-r1/event", event("technician_login.failed", held)));
  }
  // The held login counts every failure the router reported; then every event was applied.
  REQUIRE(wait_until(
      [&] {
        return sql(s, "SELECT failed_count FROM technician_logins WHERE login_id = '" + held +
                          "'") == k_burst;
      },
      30s));
  const auto forged_records =
      sql(s, "SELECT count(*) FROM audit_log WHERE actor = 'device:acme-r1' AND target <> '" +
                 held + "'");
  const auto ended_records = login_records(s, "acme-r1", "technician_login.ended");
  const auto held_records = login_records(s, "acme-r1", "technician_login.failed");
  INFO("records for the forged login id: " << forged_records
                                           << ", records of the session ends: " << ended_records
                                           << ", records of the failures: " << held_records);
  CHECK(forged_records == 0);
  // One rate for every kind of report: the session ends filled it, the failures found it full.
  CHECK(ended_records == 5);
  CHECK(held_records == 0);
  CHECK(longest_audit_field(s) <= k_field_bound);
}

TEST_CASE("retained_device_result_is_not_replayed") {
  cloud_stack s;
  s.register_device("acme", "acme-r1");
  const std::string login = technician_login(s, "acme-r1");
  auto admin = s.client("acme");
  auto cmd = admin.request("POST", "devices/acme-r1/commands", R"({"op":"ping","args":{}})");
  REQUIRE(cmd.status == 202);
  const std::string id = cmd.str("id");
  auto router = device_client(s, "acme-r1");

  // Published with the retain flag: the broker would hand both to every later subscribe.
  REQUIRE(router->publish("aterm/v1/acme-r1/result",
                          R"({"v":1,"id":")" + id + R"(","status":"ok","result":{"pong":true}})",
                          true));
  REQUIRE(router->publish("aterm/v1/acme-r1/event", event("technician_login.failed", login), true));
  // Live, both arrive once (the broker clears the flag for a subscription that exists).
  REQUIRE(s.wait_for(admin, "commands/" + id,
                     [](const http_answer& a) { return a.str("status") == "succeeded"; }));
  REQUIRE(
      wait_until([&] { return login_records(s, "acme-r1", "technician_login.failed") == 1; }, 20s));

  // The daemon restarts: its bridge subscribes again and the broker replays what is retained.
  for (int restart = 0; restart < 2; ++restart) {
    CAPTURE(restart);
    s.stop_cloud();
    s.start_cloud();
    // A live event after the replay: once it is applied, everything before it was too.
    const std::string sentinel = restart == 0 ? "technician_login.used" : "technician_login.locked";
    REQUIRE(router->publish("aterm/v1/acme-r1/event", event(sentinel, login)));
    REQUIRE(wait_until([&] { return login_records(s, "acme-r1", sentinel) == 1; }, 20s));
    const auto failed = login_records(s, "acme-r1", "technician_login.failed");
    INFO("technician_login.failed records after the restart: " << failed);
    CHECK(failed == 1);
    CHECK(sql(s, "SELECT count(*) FROM audit_log WHERE action = 'command.result' AND target = '" +
                     id + "'") == 1);
    CHECK(sql(s, "SELECT failed_count FROM technician_logins WHERE login_id = '" + login + "'") ==
          1);
  }
}

TEST_CASE("background_polls_do_not_extend_session") {
  cloud_stack_options o;
  o.security = R"("session_idle_s": 2, "session_touch_s": 0)";
  cloud_stack s(o);
  s.create_account("acme", "poller", "viewer", k_password);
  // One tab that only polls in the background, one whose requests are the user's.
  auto background = s.make_client();
  REQUIRE(background.login("acme", "poller", k_password).status == 200);
  auto user = s.client("acme");
  const std::map<std::string, std::string> k_background{{"X-Aterm-Background", "1"}};

  bool user_alive = true;
  unsigned background_status = 0;
  // The deadline is far past the idle time: the server must end the polled session by itself.
  const bool ended = wait_until(
      [&] {
        background_status = background.request("GET", "devices", {}, k_background).status;
        user_alive = user_alive && user.request("GET", "devices").status == 200;
        return background_status == 401 || !user_alive;
      },
      15s, 250ms);
  CHECK(ended);
  CHECK(background_status == 401);
  CHECK(user_alive);
  CHECK(user.request("GET", "session").status == 200);
  // The polls are no operations of the access log; the user's reads are.
  CHECK(
      sql(s, "SELECT count(*) FROM audit_log WHERE actor = 'poller' AND action = 'device.list'") ==
      0);
  CHECK(sql(s,
            "SELECT count(*) FROM audit_log WHERE actor = 'admin' AND company_id = 'acme' AND "
            "action = 'device.list'") >= 1);
  // A state-changing request is never background: it is activity and it is recorded.
  auto again = s.make_client();
  REQUIRE(again.login("acme", "poller", k_password).status == 200);
  CHECK(again.request("DELETE", "session", {}, k_background).status == 204);
  CHECK(sql(s, "SELECT count(*) FROM audit_log WHERE actor = 'poller' AND action = 'logout'") == 1);
}
