// Several aterm-cloud instances on one store (DESIGN.md section 8): two `aterm-cloud serve`
// with shared subscriptions, simulated routers (`aterm-agent simulate`), commands created
// through both APIs, one instance killed with SIGKILL halfway. Each command must be published
// by one instance, and its result must reach the store while any instance lives.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "aterm/common/json.h"
#include "aterm/test/pg_cluster.h"
#include "cloud_stack.h"

namespace {

using namespace aterm;
using namespace aterm::test;

constexpr int k_routers = 20;
constexpr int k_commands_per_phase = 100;
// Short, so results lost with the killed instance are asked for again within the test.
constexpr int k_result_timeout_s = 10;

std::string router_id(int i) {
  char id[32];
  std::snprintf(id, sizeof id, "multi-%05d", i);
  return id;
}

// For each command id in a router's journal (commands.journal: "<8 hex> <record>" lines), how
// many times the router began running it (records without a result "r").
std::map<std::string, int> journal_runs(const fs::path& journal) {
  std::map<std::string, int> runs;
  std::ifstream in(journal);
  for (std::string line; std::getline(in, line);) {
    if (line.size() < 10) continue;
    auto rec = common::parse_json(line.substr(9));
    if (!rec.ok()) continue;
    auto id = common::json_string(rec->get(), "id");
    if (!id) continue;
    if (!common::json_string(rec->get(), "r")) ++runs[*id];
  }
  return runs;
}

struct command_view {
  std::string status;
  std::int64_t attempts = 0;
};

// Every command of the routers as the API shows them (GET /devices/{id}: recent_commands).
std::map<std::string, command_view> commands_of(https_client& c) {
  std::map<std::string, command_view> out;
  for (int i = 1; i <= k_routers; ++i) {
    auto a = c.request("GET", "devices/" + router_id(i));
    if (a.status != 200 || !a.json) continue;
    const cJSON* recent = cJSON_GetObjectItemCaseSensitive(a.json.get(), "recent_commands");
    const cJSON* cmd = nullptr;
    cJSON_ArrayForEach(cmd, recent) {
      auto id = common::json_string(cmd, "id");
      auto status = common::json_string(cmd, "status");
      const cJSON* attempts = cJSON_GetObjectItemCaseSensitive(cmd, "attempts");
      if (!id || !status) continue;
      out[*id] = {*status, attempts ? static_cast<std::int64_t>(attempts->valuedouble) : 0};
    }
  }
  return out;
}

int online_routers(https_client& c) {
  auto a = c.request("GET", "devices?online=true&limit=100");
  if (a.status != 200 || !a.json) return 0;
  return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a.json.get(), "devices"));
}

// Creates command `n` (a ping for router n % k_routers) through `c`; returns its id.
std::string create_command(https_client& c, int n) {
  auto a = c.request("POST", "devices/" + router_id(n % k_routers + 1) + "/commands",
                     R"({"op":"ping","args":{},"timeout_s":600})");
  REQUIRE_MESSAGE(a.status == 202, a.body);
  return a.str("id");
}

bool all_final(https_client& c, const std::vector<std::string>& ids) {
  auto seen = commands_of(c);
  for (const auto& id : ids) {
    auto it = seen.find(id);
    if (it == seen.end() || it->second.status == "queued" || it->second.status == "sent") {
      return false;
    }
  }
  return true;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE(
    "two instances with shared subscriptions: each command published once, every command ends "
    "once and runs once though one instance is killed with SIGKILL") {
  cloud_stack_options o;
  o.name = "integration-multi-instance";
  o.db = test_db("multi_instance");
  o.mqtt =
      R"("shared_subscription": true, "result_timeout_s": )" + std::to_string(k_result_timeout_s);
  cloud_stack s(o);
  const int a = 0;
  const int b = s.start_instance();
  for (int i = 1; i <= k_routers; ++i) s.register_device("acme", router_id(i));

  const fs::path fleet = s.dir() / "fleet";
  const fs::path sim_config = s.dir() / "sim.json";
  std::ofstream(sim_config) << R"({"broker":{"uri":")" << s.mqtt().uri() << R"(","ca":")"
                            << s.pki().ca().string() << R"("},"data_dir":")" << fleet.string()
                            << R"(","simulate":{"ca_cert":")" << s.pki().ca().string()
                            << R"(","ca_key":")" << s.pki().ca_key().string() << R"("}})";
  process sim({binary("agent/aterm-agent").string(), "simulate", "--config", sim_config.string(),
               "--count", std::to_string(k_routers), "--id-prefix", "multi-"},
              s.dir() / "sim.log");

  auto api_a = s.client("acme");
  auto api_b = s.make_client("127.0.0.1", b);
  REQUIRE(api_b.login("acme", "admin", s.admin_password("acme")).status == 200);
  REQUIRE_MESSAGE(wait_until([&] { return online_routers(api_b) == k_routers; }, 60s, 100ms),
                  sim.log());

  // Both instances running: every command goes out once (the broker took one publish each).
  std::vector<std::string> ids;
  for (int n = 0; n < k_commands_per_phase; ++n) {
    ids.push_back(create_command(n % 2 == 0 ? api_a : api_b, n));
  }
  REQUIRE_MESSAGE(wait_until([&] { return all_final(api_b, ids); }, 60s, 200ms), s.cloud_log());
  int published_twice = 0;
  for (const auto& [id, c] : commands_of(api_b)) {
    CHECK_MESSAGE(c.status == "succeeded", id);
    if (c.attempts > 1) {
      ++published_twice;
      MESSAGE(id << " published " << c.attempts << " times");
    }
  }
  CHECK(published_twice == 0);
  CHECK(count_of(sim.log(), "repeated command answered from the journal") == 0);

  // The second half: instance A is killed with SIGKILL while commands are in flight.
  for (int n = k_commands_per_phase; n < 2 * k_commands_per_phase; ++n) {
    if (n == k_commands_per_phase + k_commands_per_phase / 2) s.stop_instance(a, SIGKILL);
    const bool through_a = n % 2 == 0 && n < k_commands_per_phase + k_commands_per_phase / 2;
    ids.push_back(create_command(through_a ? api_a : api_b, n));
  }
  // Results the broker handed to A but A never stored are asked for again after
  // result_timeout; B alone brings every command to its end.
  const bool ended = wait_until([&] { return all_final(api_b, ids); }, 120s, 500ms);
  auto final_view = commands_of(api_b);
  std::size_t succeeded = 0;
  std::size_t stuck_sent = 0;
  std::size_t republished = 0;
  for (const auto& id : ids) {
    const auto& c = final_view[id];
    if (c.status == "succeeded") ++succeeded;
    if (c.status == "sent") ++stuck_sent;
    if (c.attempts > 1) ++republished;
  }
  MESSAGE("after SIGKILL: " << succeeded << " of " << ids.size() << " succeeded, " << stuck_sent
                            << " still sent, " << republished << " published more than once, "
                            << count_of(sim.log(), "repeated command answered from the journal")
                            << " repeats answered from the routers' journals");
  CHECK(ended);
  CHECK(succeeded == ids.size());

  // The routers' journals: every command ran exactly once.
  std::map<std::string, int> runs;
  for (int i = 1; i <= k_routers; ++i) {
    for (const auto& [id, n] : journal_runs(fleet / router_id(i) / "commands.journal")) {
      runs[id] += n;
    }
  }
  for (const auto& id : ids) {
    CAPTURE(id);
    CHECK(runs[id] == 1);
  }
  CHECK(sim.stop(SIGTERM) == 0);
}
