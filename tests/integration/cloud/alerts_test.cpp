// Alerts against the real daemon, broker, router and SQLite: a router stopped longer than the
// (shortened) offline rule raises exactly one alarm, which a real HTTPS webhook receiver gets
// signed, again after it answered 500; the alarm is acknowledged with a comment, clears itself
// when the router reconnects; a CPU rule raises one alarm for the router whose load stays above
// it and none for the idle one; the "send test event" button reaches the receiver. One stack for
// all of it. Every wait is a condition with a deadline.
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include "aterm/common/crypto.h"
#include "cloud_stack.h"

namespace {

using namespace aterm;
using namespace aterm::test;

struct received {
  std::int64_t status = 0;
  std::string signature;
  std::string body;
  std::string type;  // the event's "type"
};

// The receiver's log (webhook_receiver.py): one JSON line per POST.
std::vector<received> deliveries(const fs::path& log) {
  std::vector<received> out;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    auto j = common::parse_json(line);
    if (!j.ok()) continue;
    received r;
    r.status = common::json_int(j->get(), "status").value_or(0);
    r.signature = common::json_string(j->get(), "signature").value_or("");
    r.body = common::json_string(j->get(), "body").value_or("");
    if (auto event = common::parse_json(r.body); event.ok()) {
      r.type = common::json_string(event->get(), "type").value_or("");
    }
    out.push_back(std::move(r));
  }
  return out;
}

// What a receiver computes with the secret it was given (docs/alerts.md).
std::string expected_signature(const std::string& secret, const std::string& body) {
  return "sha256=" + common::crypto::to_hex(common::crypto::hmac_sha256(secret, body));
}

// The alarms of a GET /alarms answer.
std::vector<const cJSON*> alarms_of(const http_answer& a) {
  std::vector<const cJSON*> out;
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(a.json.get(), "alarms")) {
    out.push_back(item);
  }
  return out;
}

std::string field(const cJSON* o, const char* key) {
  return common::json_string(o, key).value_or("");
}

}  // namespace

TEST_CASE("router_offline_past_the_rule_raises_one_alarm_signed_to_a_webhook_retried_after_500") {
  temp_dir files("integration-alerts-hook");
  const fs::path receiver_ca = files / "receiver-ca.pem";
  cloud_stack_options o;
  o.name = "integration-alerts";
  o.extra = R"("alerts": {"offline_after_s": 2, "interval_ms": 100, "webhook_ca": ")" +
            receiver_ca.string() + R"(", "webhook_retry_initial_s": 1, "webhook_retry_max_s": 1})";
  cloud_stack s(o);
  // The receiver shows the dev server certificate; the cloud reads its CA file at each POST.
  fs::copy_file(s.pki().ca(), receiver_ca);
  const int port = free_port();
  const fs::path log = files / "received.jsonl";
  process receiver(
      {"/usr/bin/python3", (source_dir() / "tests/integration/cloud/webhook_receiver.py").string(),
       std::to_string(port), s.pki().server_cert().string(), s.pki().server_key().string(),
       log.string(), "1"},
      files / "receiver.log");
  REQUIRE(wait_until([&] { return receiver.log().find("listening") != std::string::npos; }, 20s));

  s.register_device("acme", "acme-a1");
  s.start_agent("acme-a1");
  auto c = s.client("acme");
  REQUIRE(s.wait_for(c, "devices/acme-a1",
                     [](const http_answer& a) { return a.str("presence") == "online"; }));

  auto hook = c.request(
      "POST", "notification-channels",
      R"({"kind":"webhook","url":"https://localhost:)" + std::to_string(port) + R"(/hook"})");
  REQUIRE_MESSAGE(hook.status == 201, hook.body);
  const std::string secret = hook.str("secret");
  REQUIRE(secret.size() == 64);
  // Shown once: neither the channel list nor the access log holds it.
  CHECK(c.request("GET", "notification-channels").body.find(secret) == std::string::npos);
  CHECK(c.request("GET", "audit?action=channel.create").body.find(secret) == std::string::npos);

  s.stop_agent("acme-a1");
  REQUIRE(s.wait_for(c, "alarms?state=open&kind=offline",
                     [](const http_answer& a) { return alarms_of(a).size() == 1; }));
  // The first POST answered 500, the retry 204: the same event, signed with the secret.
  REQUIRE(wait_until([&] { return deliveries(log).size() >= 2; }, 20s));
  auto got = deliveries(log);
  CHECK(got[0].status == 500);
  CHECK(got[1].status == 204);
  CHECK(got[0].body == got[1].body);
  CHECK(got[1].type == "alarm.raised");
  CHECK(got[1].body.find(R"("device_id":"acme-a1")") != std::string::npos);
  CHECK(got[1].signature == expected_signature(secret, got[1].body));
  // A receiver holding another secret refuses the event.
  std::string wrong = secret;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  CHECK(got[1].signature != expected_signature(wrong, got[1].body));

  // The evaluator judged the router many times over (every 100 ms while the retry waited 1 s):
  // still one alarm.
  auto all = c.request("GET", "alarms?kind=offline&device=acme-a1");
  REQUIRE(all.status == 200);
  REQUIRE(alarms_of(all).size() == 1);
  CHECK(all.num("open_count") == 1);
  const std::int64_t id = common::json_int(alarms_of(all)[0], "id").value_or(-1);

  // Another company neither sees nor acknowledges it.
  auto globex = s.client("globex");
  CHECK(alarms_of(globex.request("GET", "alarms")).empty());
  CHECK(globex.request("POST", "alarms/" + std::to_string(id) + "/acknowledge", "{}").status ==
        404);

  auto ack = c.request("POST", "alarms/" + std::to_string(id) + "/acknowledge",
                       R"({"comment":"技術者が向かっています"})");
  REQUIRE_MESSAGE(ack.status == 200, ack.body);
  CHECK(ack.str("state") == "acknowledged");
  CHECK(ack.str("acknowledged_by") == "admin");
  CHECK(ack.str("comment") == "技術者が向かっています");
  CHECK(c.request("GET", "alarms").num("open_count") == 0);
  CHECK(c.request("POST", "alarms/" + std::to_string(id) + "/acknowledge", "{}").status == 409);

  s.start_agent("acme-a1");
  REQUIRE(s.wait_for(c, "alarms?state=cleared&kind=offline",
                     [](const http_answer& a) { return alarms_of(a).size() == 1; }));
  CHECK(alarms_of(c.request("GET", "alarms?kind=offline")).size() == 1);
  REQUIRE(wait_until(
      [&] {
        auto d = deliveries(log);
        return d.size() >= 3 && d.back().type == "alarm.cleared";
      },
      20s));

  // A CPU rule (load above 50 for 2 s): a router whose load stays at about 100 raises one
  // cpu_load alarm; the idle router (load 0.05) none.
  auto rules = c.request("PUT", "alert-rules",
                         R"({"rules":[{"kind":"cpu_load","enabled":true,"threshold":5000,)"
                         R"("window_s":2}]})");
  REQUIRE_MESSAGE(rules.status == 200, rules.body);
  CHECK(
      c.request("PUT", "alert-rules", R"({"rules":[{"kind":"cpu_load","threshold":-1}]})").status ==
      400);
  fs::create_directories(s.agent_dir("acme-c1"));
  std::ofstream(s.agent_dir("acme-c1") / "router.json")
      << R"({"model":"Aterm-SIM","fw":"1.0.0","wan":{"ip":"198.51.100.11","up":true},)"
         R"("lan_clients":3,"load1":100,"mem_total_kb":262144,"mem_free_kb":131072,)"
         R"("config_rev":0,"config":{"wifi.ssid":"aterm-c1","wifi.channel":6}})";
  s.register_device("acme", "acme-c1");
  s.start_agent("acme-c1");
  REQUIRE(s.wait_for(c, "alarms?state=open&kind=cpu_load",
                     [](const http_answer& a) { return alarms_of(a).size() == 1; }));
  REQUIRE(wait_until(
      [&] {
        auto d = deliveries(log);
        return !d.empty() && d.back().body.find(R"("kind":"cpu_load")") != std::string::npos;
      },
      20s));
  auto cpu = c.request("GET", "alarms?kind=cpu_load");
  REQUIRE(alarms_of(cpu).size() == 1);
  CHECK(field(alarms_of(cpu)[0], "device_id") == "acme-c1");

  auto channels = c.request("GET", "notification-channels");
  REQUIRE(channels.status == 200);
  const cJSON* first =
      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(channels.json.get(), "channels"), 0);
  REQUIRE(first != nullptr);
  CHECK(field(first, "kind") == "webhook");
  const auto channel_id = common::json_int(first, "id").value_or(-1);
  auto test = c.request("POST", "notification-channels/" + std::to_string(channel_id) + "/test");
  CHECK(test.status == 202);
  REQUIRE(wait_until(
      [&] {
        auto d = deliveries(log);
        return !d.empty() && d.back().type == "test" &&
               d.back().signature == expected_signature(secret, d.back().body);
      },
      20s));
}
