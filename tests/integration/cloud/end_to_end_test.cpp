// Issue 4 end to end: real Mosquitto, real aterm-cloud and aterm-agent processes, an HTTPS
// client. Every wait is a condition with a deadline.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <set>
#include <sstream>

#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/store.h"
#include "cloud_stack.h"

namespace {

using namespace aterm;
using namespace aterm::test;

const cJSON* member(const cJSON* obj, const char* key) {
  return obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : nullptr;
}

std::string str_of(const cJSON* obj, const char* key) {
  return common::json_string(obj, key).value_or("");
}

// POSTs a command; returns its id ("" when refused).
std::string post_command(https_client& c, const std::string& device, const std::string& op,
                         const std::string& args = "{}", int timeout_s = 60) {
  auto a = c.request("POST", "devices/" + device + "/commands",
                     R"({"op":")" + op + R"(","args":)" + args + R"(,"timeout_s":)" +
                         std::to_string(timeout_s) + "}");
  INFO(a.body);
  CHECK(a.status == 202);
  return a.str("id");
}

std::string command_status(https_client& c, const std::string& id) {
  return c.request("GET", "commands/" + id).str("status");
}

bool is_final(const std::string& s) {
  return s == "succeeded" || s == "failed" || s == "timed_out" || s == "expired";
}

// Waits until the command is final; returns its answer.
http_answer wait_final(cloud_stack& s, https_client& c, const std::string& id,
                       std::chrono::milliseconds timeout = 20s) {
  http_answer last;
  s.wait_for(
      c, "commands/" + id,
      [&](const http_answer& a) {
        bool done = is_final(a.str("status"));
        if (done) last.body = a.body;
        return done;
      },
      timeout);
  auto a = c.request("GET", "commands/" + id);
  return a;
}

bool online(cloud_stack& s, https_client& c, const std::string& device, bool want = true,
            std::chrono::milliseconds timeout = 20s) {
  return s.wait_for(
      c, "devices/" + device,
      [&](const http_answer& a) {
        return a.status == 200 && a.str("presence") == (want ? "online" : "offline");
      },
      timeout);
}

run_result publish_as(cloud_stack& s, const std::string& device, const std::string& topic,
                      const std::string& payload_file) {
  auto cert = s.pki().dir() / "devices" / (device + ".pem");
  auto key = s.pki().dir() / "devices" / (device + ".key");
  return run({"mosquitto_pub", "--cafile", s.pki().ca().string(), "--cert", cert.string(), "--key",
              key.string(), "-h", "127.0.0.1", "-p", std::to_string(s.mqtt().port()), "-i", device,
              "-q", "1", "-t", topic, "-f", payload_file});
}

// Lines of the agent's command journal that record the start of `id` (no result yet).
std::map<std::string, int> journal_begins(const fs::path& journal) {
  std::map<std::string, int> begins;
  std::ifstream in(journal);
  std::string line;
  while (std::getline(in, line)) {
    auto at = line.find("\"id\":\"");
    if (at == std::string::npos || line.find("\"r\":") != std::string::npos) continue;
    auto start = at + 6;
    begins[line.substr(start, line.find('"', start) - start)]++;
  }
  return begins;
}

}  // namespace

TEST_CASE("a registered router appears with its state and presence") {
  cloud_stack s;
  s.register_device("acme", "acme-r1");
  s.start_agent("acme-r1");
  auto c = s.client("acme");
  REQUIRE(online(s, c, "acme-r1"));
  REQUIRE(s.wait_for(c, "devices/acme-r1", [](const http_answer& a) {
    return member(member(a.json.get(), "state"), "model") != nullptr;
  }));
  auto list = c.request("GET", "devices");
  REQUIRE(list.status == 200);
  const cJSON* devices = member(list.json.get(), "devices");
  REQUIRE(cJSON_GetArraySize(devices) == 1);
  CHECK(str_of(cJSON_GetArrayItem(devices, 0), "id") == "acme-r1");

  s.stop_agent("acme-r1");
  CHECK(online(s, c, "acme-r1", false));
}

TEST_CASE("every op round-trips through the API") {
  cloud_stack s;
  s.register_device("acme", "acme-r1");
  s.start_agent("acme-r1");
  auto c = s.client("acme");
  REQUIRE(online(s, c, "acme-r1"));

  struct row {
    const char* op;
    const char* args;
    const char* result_field;  // a field the result must carry ("" = none)
  };
  const std::vector<row> table = {
      {"ping", "{}", "pong"},
      {"state.refresh", "{}", ""},
      {"config.get", "{}", "rev"},
      {"diag.ping", R"({"host":"127.0.0.1","count":2})", "received"},
  };
  for (const auto& t : table) {
    CAPTURE(t.op);
    auto id = post_command(c, "acme-r1", t.op, t.args);
    REQUIRE(!id.empty());
    auto a = wait_final(s, c, id);
    INFO(a.body);
    CHECK(a.str("status") == "succeeded");
    if (*t.result_field) CHECK(member(member(a.json.get(), "result"), t.result_field) != nullptr);
  }

  // config.set with the current rev, then a stale one.
  auto get = wait_final(s, c, post_command(c, "acme-r1", "config.get"));
  auto rev = common::json_int(member(get.json.get(), "result"), "rev");
  REQUIRE(rev.has_value());
  auto set = wait_final(
      s, c,
      post_command(c, "acme-r1", "config.set",
                   R"({"rev":)" + std::to_string(*rev) + R"(,"values":{"wifi.ssid":"e2e"}})"));
  INFO(set.body);
  CHECK(set.str("status") == "succeeded");
  CHECK(common::json_int(member(set.json.get(), "result"), "rev") == *rev + 1);
  auto stale = wait_final(
      s, c,
      post_command(c, "acme-r1", "config.set",
                   R"({"rev":)" + std::to_string(*rev) + R"(,"values":{"wifi.ssid":"again"}})"));
  CHECK(stale.str("status") == "failed");
  CHECK(stale.str("result_status") == "rejected");

  // Bad input is refused by the API and stores nothing.
  CHECK(c.request("POST", "devices/acme-r1/commands", R"({"op":"format.disk","args":{}})").status ==
        400);

  // Reboot answers before it starts; the router comes back.
  auto reboot = wait_final(s, c, post_command(c, "acme-r1", "reboot", R"({"delay_s":0})"));
  CHECK(reboot.str("status") == "succeeded");
  CHECK(online(s, c, "acme-r1"));
}

TEST_CASE("a command to an offline router is delivered when it returns") {
  cloud_stack s;
  s.register_device("acme", "acme-r1");
  s.start_agent("acme-r1");
  auto c = s.client("acme");
  REQUIRE(online(s, c, "acme-r1"));
  s.stop_agent("acme-r1");
  REQUIRE(online(s, c, "acme-r1", false));

  auto id = post_command(c, "acme-r1", "ping", "{}", 120);
  // Nothing can deliver it while the router is away.
  CHECK_FALSE(s.wait_for(
      c, "commands/" + id, [](const http_answer& a) { return a.str("status") != "queued"; },
      1500ms));
  s.start_agent("acme-r1");
  auto a = wait_final(s, c, id);
  INFO(a.body);
  CHECK(a.str("status") == "succeeded");
  CHECK(common::json_int(a.json.get(), "attempts").value_or(0) >= 1);
}

TEST_CASE("deadlines: never sent -> expired, sent without an answer -> timed_out") {
  cloud_stack s;
  s.register_device("acme", "acme-r1");
  s.register_device("acme", "acme-r2");
  s.start_agent("acme-r1");
  s.start_agent("acme-r2");
  auto c = s.client("acme");
  REQUIRE(online(s, c, "acme-r1"));
  REQUIRE(online(s, c, "acme-r2"));

  SUBCASE("offline router: expired") {
    s.stop_agent("acme-r1");
    REQUIRE(online(s, c, "acme-r1", false));
    auto id = post_command(c, "acme-r1", "ping", "{}", 1);
    auto a = wait_final(s, c, id, 10s);
    CHECK(a.str("status") == "expired");
    CHECK(common::json_int(a.json.get(), "attempts") == 0);
  }
  SUBCASE("router hung with its connection open (the broker still thinks it is there)") {
    // SIGSTOP, not kill -9: a killed process's socket is closed by the kernel, the broker sends
    // the Last Will at once and the command, rightly, is never sent (expired).
    s.signal_agent("acme-r2", SIGSTOP);
    auto id = post_command(c, "acme-r2", "ping", "{}", 2);
    auto a = wait_final(s, c, id, 15s);
    INFO(a.body);
    CHECK(a.str("status") == "timed_out");
    CHECK(common::json_int(a.json.get(), "attempts").value_or(0) >= 1);
    s.stop_agent("acme-r2", SIGKILL);
  }
}

TEST_CASE("kill -9 of aterm-cloud with 200 commands in flight: each ends once, none ran twice") {
  constexpr int k_commands = 200;
  cloud_stack s;
  s.register_device("acme", "acme-r1");
  s.start_agent("acme-r1");
  auto c = s.client("acme");
  REQUIRE(online(s, c, "acme-r1"));

  std::vector<std::string> ids;
  for (int i = 0; i < k_commands; ++i) {
    ids.push_back(post_command(c, "acme-r1", "ping", "{}", 300));
    REQUIRE(!ids.back().empty());
  }
  s.stop_cloud(SIGKILL);
  s.start_cloud();
  c = s.client("acme");

  std::map<std::string, int> statuses;
  for (const auto& id : ids) {
    auto a = wait_final(s, c, id, 60s);
    statuses[a.str("status")]++;
  }
  CHECK(statuses["succeeded"] == k_commands);

  // Exactly one final state: the store refuses a second one, and the router started each
  // command once (its journal records a start before running).
  auto begins = journal_begins(s.agent_dir("acme-r1") / "data" / "commands.journal");
  int ran = 0;
  for (const auto& id : ids) {
    CAPTURE(id);
    CHECK(begins[id] == 1);
    ran += begins[id];
  }
  CHECK(ran == k_commands);
  cloud::store_options o;
  o.rules = aterm::cloud::security::rules_for_store();
  o.db = s.db_path().string();
  common::system_clock& clock = common::system_clock::instance();
  auto db = cloud::open_store(o, clock);
  REQUIRE(db.ok());
  for (const auto& id : ids) {
    auto cmd = (*db)->get_command("acme", id);
    REQUIRE(cmd.ok());
    CHECK(cmd->status == cloud::command_status::succeeded);
  }
}

TEST_CASE("a technician login issued over the API is accepted once through the agent") {
  cloud_stack s;
  s.register_device("acme", "acme-r1");
  s.start_agent("acme-r1");
  auto c = s.client("acme");
  REQUIRE(online(s, c, "acme-r1"));

  auto issued = c.request("POST", "devices/acme-r1/technician-logins", "{}");
  INFO(issued.body);
  REQUIRE(issued.status == 201);
  std::string login_id = issued.str("login_id");
  std::string password = issued.str("password");
  REQUIRE(login_id.size() == 10);
  REQUIRE(password.size() == 12);
  auto install = wait_final(s, c, issued.str("install_command_id"));
  REQUIRE(install.str("status") == "succeeded");
  // The plaintext never reached the store.
  for (const auto& file : {s.db_path(), fs::path(s.db_path().string() + "-wal")}) {
    std::ifstream db(file, std::ios::binary);
    std::stringstream all;
    all << db.rdbuf();
    CHECK(all.str().find(password) == std::string::npos);
  }

  auto check = [&](const std::string& pw) {
    return run({binary("agent/aterm-agent").string(), "login-check", "--config",
                s.agent_config("acme-r1").string(), "--login-id", login_id},
               pw + "\n")
        .exit_code;
  };
  CHECK(check("wrong-password") == 1);
  CHECK(check(password) == 0);
  CHECK(check(password) == 1);  // single use

  cloud::store_options o;
  o.rules = aterm::cloud::security::rules_for_store();
  o.db = s.db_path().string();
  auto db = cloud::open_store(o, common::system_clock::instance());
  REQUIRE(db.ok());
  CHECK(wait_until([&] {
    auto l = (*db)->get_technician_login("acme", login_id);
    return l.ok() && l->status == cloud::technician_login_status::used;
  }));
  cloud::audit_query used;
  used.action = "technician_login.used";
  auto log = (*db)->list_audit("acme", used);
  REQUIRE(log.ok());
  CHECK(log->size() == 1);
  CHECK((*db)->get_technician_login("acme", login_id)->failed_count == 1);
}

TEST_CASE("an unregistered router lands in unassigned and no company sees it") {
  cloud_stack s;
  s.register_device("acme", "acme-r1");
  s.start_agent("stray-01");
  cloud::store_options o;
  o.rules = aterm::cloud::security::rules_for_store();
  o.db = s.db_path().string();
  auto db = cloud::open_store(o, common::system_clock::instance());
  REQUIRE(db.ok());
  REQUIRE(wait_until(
      [&] {
        auto un = (*db)->list_unassigned_devices(10);
        return un.ok() && un->size() == 1 && (*un)[0].id == "stray-01" &&
               !(*un)[0].state_json.empty();
      },
      20s));
  for (const std::string company : {"acme", "globex"}) {
    CAPTURE(company);
    auto c = s.client(company);
    CHECK(c.request("GET", "devices/stray-01").status == 404);
    CHECK(c.request("GET", "devices?q=stray").body.find("stray-01") == std::string::npos);
    CHECK(c.request("POST", "devices/stray-01/commands", R"({"op":"ping","args":{}})").status ==
          404);
  }
}

TEST_CASE("malformed and hostile device payloads change nothing") {
  cloud_stack s;
  s.register_device("acme", "acme-h1");
  s.register_device("acme", "acme-h2");
  s.pki().device("acme-h1");
  s.pki().device("acme-h2");
  auto c = s.client("acme");
  auto queued = post_command(c, "acme-h1", "ping", "{}", 600);

  auto file = [&](const std::string& name, const std::string& text) {
    fs::path p = s.dir() / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  };
  auto good_a = file("a.json", R"({"v":1,"ts":1800000000,"seq":1,"model":"A"})");
  REQUIRE(publish_as(s, "acme-h1", "aterm/v1/acme-h1/state", good_a).exit_code == 0);
  REQUIRE(s.wait_for(c, "devices/acme-h1", [](const http_answer& a) {
    return str_of(member(a.json.get(), "state"), "model") == "A";
  }));

  struct row {
    const char* name;
    const char* device;  // the certificate used
    const char* topic;
    std::string payload;
  };
  const std::vector<row> hostile = {
      {"not json", "acme-h1", "aterm/v1/acme-h1/state", "{{{{"},
      {"wrong version", "acme-h1", "aterm/v1/acme-h1/state",
       R"({"v":2,"ts":1,"seq":9,"model":"X"})"},
      {"wrong type", "acme-h1", "aterm/v1/acme-h1/state", R"({"v":1,"ts":"now","seq":9})"},
      {"deep nesting", "acme-h1", "aterm/v1/acme-h1/state",
       std::string(200, '[') + std::string(200, ']')},
      {"id mismatch", "acme-h1", "aterm/v1/acme-h1/state",
       R"({"v":1,"ts":1,"seq":9,"model":"X","device_id":"acme-h2"})"},
      {"result for the queued command with a bad status", "acme-h1", "aterm/v1/acme-h1/result",
       R"({"v":1,"id":")" + queued + R"(","status":"done"})"},
      {"result from another router", "acme-h2", "aterm/v1/acme-h2/result",
       R"({"v":1,"id":")" + queued + R"(","status":"ok","result":{}})"},
      {"result for an unknown command", "acme-h1", "aterm/v1/acme-h1/result",
       R"({"v":1,"id":"c-nope","status":"ok","result":{}})"},
      {"forged state on another router's topic", "acme-h2", "aterm/v1/acme-h1/state",
       R"({"v":1,"ts":1,"seq":9,"model":"FORGED"})"},
      {"forged presence on another router's topic", "acme-h2", "aterm/v1/acme-h1/presence",
       R"({"v":1,"online":true,"agent":"x","ts":1})"},
      {"presence with wrong types", "acme-h1", "aterm/v1/acme-h1/presence",
       R"({"v":1,"online":"yes","agent":7,"ts":1})"},
      {"over 64 KiB", "acme-h1", "aterm/v1/acme-h1/state",
       R"({"v":1,"ts":1,"seq":9,"model":")" + std::string(70000, 'x') + "\"}"},
      {"invalid UTF-8", "acme-h1", "aterm/v1/acme-h1/state",
       "{\"v\":1,\"ts\":1,\"seq\":9,\"model\":\"\xff\xfe\"}"},
  };
  int i = 0;
  for (const auto& h : hostile) {
    CAPTURE(h.name);
    // Each is published (or refused by the broker); the bridge must not store any of it.
    (void)publish_as(s, h.device, h.topic, file("h" + std::to_string(i++) + ".json", h.payload));
  }
  auto good_b = file("b.json", R"({"v":1,"ts":1800000001,"seq":2,"model":"B"})");
  REQUIRE(publish_as(s, "acme-h1", "aterm/v1/acme-h1/state", good_b).exit_code == 0);
  REQUIRE(s.wait_for(c, "devices/acme-h1", [](const http_answer& a) {
    return str_of(member(a.json.get(), "state"), "model") == "B";
  }));

  CHECK(s.cloud_running());
  auto d = c.request("GET", "devices/acme-h1");
  CHECK(d.str("presence") == "unknown");
  CHECK(command_status(c, queued) == "queued");
  cloud::store_options o;
  o.rules = aterm::cloud::security::rules_for_store();
  o.db = s.db_path().string();
  auto db = cloud::open_store(o, common::system_clock::instance());
  REQUIRE(db.ok());
  auto history = (*db)->state_history("acme", "acme-h1", 100);
  REQUIRE(history.ok());
  CHECK(history->size() == 2);
  auto h2 = (*db)->get_device("acme", "acme-h2");
  REQUIRE(h2.ok());
  CHECK(h2->state_json.empty());
  CHECK(s.metrics().find("aterm_bridge_dropped_total") != std::string::npos);
}

TEST_CASE("another company's device and command answer 404") {
  cloud_stack s;
  s.register_device("acme", "acme-r1");
  s.register_device("globex", "globex-r1");
  auto acme = s.client("acme");
  auto globex = s.client("globex");
  auto id = post_command(acme, "acme-r1", "ping", "{}", 600);

  struct row {
    const char* method;
    std::string path;
    std::string body;
  };
  const std::vector<row> table = {
      {"GET", "devices/acme-r1", ""},
      {"POST", "devices/acme-r1/commands", R"({"op":"ping","args":{}})"},
      {"GET", "commands/" + id, ""},
      {"POST", "devices/acme-r1/technician-logins", "{}"},
      {"GET", "devices/acme-r1/technician-logins", ""},
  };
  for (const auto& t : table) {
    CAPTURE(t.path);
    auto a = globex.request(t.method, t.path, t.body);
    CHECK(a.status == 404);
    CHECK(!a.str("error").empty());
    CHECK(a.body.find("presence") == std::string::npos);
    CHECK(a.body.find("password") == std::string::npos);
  }
  CHECK(globex.request("GET", "devices").body.find("acme-r1") == std::string::npos);
  CHECK(acme.request("GET", "devices/globex-r1").status == 404);
  CHECK(command_status(acme, id) == "queued");
}
