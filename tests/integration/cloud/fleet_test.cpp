// The fleet routes against the real daemon, broker and agents: the device list's filters, the
// inventory export (GET /devices?format=csv), device removal (DELETE /devices/{id}) and a
// destination's configuration profile reaching a router. Every wait is a condition with a
// deadline.
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include "cloud_stack.h"

namespace {

using namespace aterm;
using namespace aterm::test;

std::vector<std::string> ids_of(const http_answer& a) {
  std::vector<std::string> ids;
  const cJSON* d = nullptr;
  cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(a.json.get(), "devices")) {
    ids.push_back(common::json_string(d, "id").value_or(""));
  }
  return ids;
}

// The simulated router's own data (the sim backend's file) before its first start.
void write_router(cloud_stack& s, const std::string& id, const std::string& model,
                  const std::string& fw, const std::string& wan) {
  fs::create_directories(s.agent_dir(id));
  std::ofstream(s.agent_dir(id) / "router.json")
      << R"({"model":")" << model << R"(","fw":")" << fw << R"(","wan":{"ip":")" << wan
      << R"(","up":true},"config_rev":0,"config":{"wifi.channel":6}})";
}

// The profile status of one device.
std::string profile_status(const http_answer& a) {
  return common::json_string(cJSON_GetObjectItemCaseSensitive(a.json.get(), "profile"), "status")
      .value_or("");
}

// The config.set commands among a device's recent ones.
int config_sets(const http_answer& a) {
  int n = 0;
  const cJSON* c = nullptr;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(a.json.get(), "recent_commands")) {
    if (common::json_string(c, "op") == "config.set") ++n;
  }
  return n;
}

}  // namespace

TEST_CASE(
    "fleet filters, the export and removal never reach another company's routers, and a "
    "router's formula in its model is not run by the export") {
  cloud_stack s;
  // acme-f1 reports a spreadsheet formula as its model: text a router controls.
  write_router(s, "acme-f1", "=cmd|' /C calc'!A0", "2.0.0", "203.0.113.5");
  write_router(s, "acme-f2", "WX3600HP", "1.0.0", "198.51.100.10");
  write_router(s, "globex-f3", "WX3600HP", "2.0.0", "203.0.113.9");
  s.register_device("acme", "acme-f1");
  s.register_device("acme", "acme-f2");
  s.register_device("globex", "globex-f3");
  for (const char* id : {"acme-f1", "acme-f2", "globex-f3"}) s.start_agent(id);
  auto acme = s.client("acme");
  auto globex = s.client("globex");
  REQUIRE(s.wait_for(acme, "devices?wan_prefix=203.0.113.5", [](const http_answer& a) {
    return ids_of(a) == std::vector<std::string>{"acme-f1"};
  }));
  REQUIRE(s.wait_for(acme, "devices?model=WX3600HP", [](const http_answer& a) {
    return ids_of(a) == std::vector<std::string>{"acme-f2"};
  }));
  REQUIRE(s.wait_for(globex, "devices?firmware=2.0.0", [](const http_answer& a) {
    return ids_of(a) == std::vector<std::string>{"globex-f3"};
  }));

  using ids = std::vector<std::string>;
  // globex-f3 matches these filters, but is not acme's.
  CHECK(ids_of(acme.request("GET", "devices?firmware=2.0.0")) == ids{"acme-f1"});
  CHECK(ids_of(acme.request("GET", "devices?wan_prefix=203.0.113.")) == ids{"acme-f1"});
  CHECK(ids_of(acme.request("GET", "devices?wan_prefix=203.0.113.9")).empty());
  CHECK(ids_of(acme.request("GET", "devices?model=WX3600HP&online=true&firmware=1.0.0")) ==
        ids{"acme-f2"});
  CHECK(ids_of(acme.request("GET", "devices?firmware=2.0.0&wan_prefix=198.")).empty());
  CHECK(ids_of(acme.request("GET", "devices?last_seen_after=2000-01-01T00:00:00Z&online=true")) ==
        ids{"acme-f1", "acme-f2"});
  CHECK(ids_of(acme.request("GET", "devices?last_seen_before=2000-01-01T00:00:00Z")).empty());
  struct refused {
    const char* path;
    const char* code;
    const char* field;
  };
  for (const auto& r :
       {refused{"devices?wan_prefix=zz", "invalid_value", "wan_prefix"},
        refused{"devices?last_seen_before=yesterday", "invalid_time", "last_seen_before"},
        refused{"devices?destination=abc", "invalid_value", "destination"},
        refused{"devices?online=maybe", "invalid_value", "online"},
        refused{"devices?model=%01", "invalid_name", "model"}}) {
    CAPTURE(r.path);
    auto a = acme.request("GET", r.path);
    CHECK(a.status == 400);
    CHECK(a.str("error") == r.code);
    CHECK(a.str("field") == r.field);
  }

  // The export: every matching device, formulas neutralised, nothing of globex.
  auto csv = acme.request("GET", "devices?format=csv&wan_prefix=203.");
  REQUIRE(csv.status == 200);
  CHECK(csv.header("content-type").rfind("text/csv", 0) == 0);
  CHECK(csv.body.rfind("\xEF\xBB\xBF"
                       "device_id,",
                       0) == 0);
  CHECK(csv.body.find("acme-f1") != std::string::npos);
  CHECK(csv.body.find("acme-f2") == std::string::npos);
  CHECK(csv.body.find("globex") == std::string::npos);
  CHECK(csv.body.find(",'=cmd|' /C calc'!A0,") != std::string::npos);
  CHECK(csv.body.find(",=cmd") == std::string::npos);
  CHECK(csv.body.find("+09:00") != std::string::npos);
  auto all = acme.request("GET", "devices?format=csv");
  CHECK(all.body.find("acme-f2") != std::string::npos);

  // Removal: globex cannot remove acme's router; acme removes it with its tenancy's data.
  auto cmd = acme.request("POST", "devices/acme-f1/commands", R"({"op":"state.refresh"})");
  REQUIRE(cmd.status == 202);
  CHECK(globex.request("DELETE", "devices/acme-f1").status == 404);
  CHECK(acme.request("GET", "devices/acme-f1").status == 200);
  CHECK(acme.request("DELETE", "devices/acme-f1").status == 204);
  CHECK(acme.request("GET", "devices/acme-f1").status == 404);
  CHECK(acme.request("GET", "commands/" + cmd.str("id")).status == 404);
  CHECK(acme.request("DELETE", "devices/acme-f1").status == 404);
  s.register_device("globex", "acme-f1");
  auto taken = globex.request("GET", "devices/acme-f1");
  REQUIRE(taken.status == 200);
  CHECK(config_sets(taken) == 0);
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(taken.json.get(), "recent_commands")) ==
        0);
  auto log = acme.request("GET", "audit?action=device.remove");
  REQUIRE(log.status == 200);
  CHECK(log.body.find("acme-f1") != std::string::npos);

  auto summary = acme.request("GET", "fleet/summary");
  REQUIRE(summary.status == 200);
  CHECK(summary.num("devices") == 1);
}

TEST_CASE("a profile change reaches a router that was offline when it changed, exactly once") {
  cloud_stack s;
  s.register_device("acme", "acme-p1");
  s.start_agent("acme-p1");
  auto acme = s.client("acme");
  REQUIRE(s.wait_for(acme, "devices/acme-p1", [](const http_answer& a) {
    return a.status == 200 &&
           cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(a.json.get(), "state"));
  }));
  s.stop_agent("acme-p1");
  REQUIRE(s.wait_for(acme, "devices?online=false", [](const http_answer& a) {
    return ids_of(a) == std::vector<std::string>{"acme-p1"};
  }));
  auto dests = acme.request("GET", "destinations");
  REQUIRE(dests.status == 200);
  const cJSON* first =
      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(dests.json.get(), "destinations"), 0);
  REQUIRE(first != nullptr);
  const auto dest = std::to_string(common::json_int(first, "id").value_or(0));
  // Keys outside config.set's vocabulary are refused and change nothing.
  auto bad = acme.request("PATCH", "destinations/" + dest,
                          R"({"settings":{"config":{"Wifi Channel":11}}})");
  CHECK(bad.status == 400);
  auto changed = acme.request("PATCH", "destinations/" + dest,
                              R"({"settings":{"config":{"wifi.channel":11}}})");
  REQUIRE(changed.status == 200);
  CHECK(profile_status(acme.request("GET", "devices/acme-p1")) == "pending");

  s.start_agent("acme-p1");
  REQUIRE(s.wait_for(acme, "devices/acme-p1",
                     [](const http_answer& a) { return profile_status(a) == "in_sync"; }));
  // Another snapshot of the router queues nothing more.
  auto refresh = acme.request("POST", "devices/acme-p1/commands", R"({"op":"state.refresh"})");
  REQUIRE(refresh.status == 202);
  REQUIRE(s.wait_for(acme, "commands/" + refresh.str("id"),
                     [](const http_answer& a) { return a.str("status") == "succeeded"; }));
  auto device = acme.request("GET", "devices/acme-p1");
  CHECK(profile_status(device) == "in_sync");
  CHECK(config_sets(device) == 1);
  CHECK(common::json_int(cJSON_GetObjectItemCaseSensitive(device.json.get(), "state"),
                         "config_rev") == 1);
  std::ifstream router(s.agent_dir("acme-p1") / "router.json");
  std::string text((std::istreambuf_iterator<char>(router)), std::istreambuf_iterator<char>());
  auto doc = common::parse_json(text);
  REQUIRE(doc.ok());
  CHECK(common::json_int(cJSON_GetObjectItemCaseSensitive(doc->get(), "config"), "wifi.channel") ==
        11);
}
