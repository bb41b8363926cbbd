// Presence and state across a broker crash: Mosquitto killed with SIGKILL under a simulated
// fleet (`aterm-agent simulate`), then started again on the same port. A crashed broker sends
// no Last Will, so while it is down the cloud must not show the routers online; once it is back
// every router must be online again and have a state snapshot stored after the restart, also
// the routers that reconnected before the cloud's bridge subscribed again (their snapshot on
// connect found no subscriber).
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>

#include "aterm/common/json.h"
#include "aterm/test/pg_cluster.h"
#include "cloud_stack.h"
#include "sim_fleet.h"

namespace {

using namespace aterm;
using namespace aterm::test;

constexpr int k_routers = 20;

// How many of the company's devices GET /devices?online=`filter` lists (-1: the call failed).
int devices_with(https_client& c, const std::string& filter) {
  auto a = c.request("GET", "devices?online=" + filter + "&limit=100");
  if (a.status != 200 || !a.json) return -1;
  return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a.json.get(), "devices"));
}

// The routers that are not online with a state received at or after `since_ms`, as
// "id(presence, state_received_ms)" for the failure message; empty when all are.
std::string routers_not_fresh(const sim_fleet& fleet, https_client& c, std::int64_t since_ms) {
  std::string out;
  for (int i = 1; i <= k_routers; ++i) {
    const std::string id = fleet.router_id(i);
    auto a = c.request("GET", "devices/" + id);
    if (a.status != 200 || !a.json) {
      out += id + "(no answer) ";
      continue;
    }
    const std::string presence = a.str("presence");
    const std::int64_t state_ms = a.num("state_received_ms");
    if (presence != "online" || state_ms < since_ms) {
      out += id + "(" + presence + ", " + std::to_string(state_ms) + ") ";
    }
  }
  return out;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE(
    "broker_killed_with_sigkill: presence is unknown while it is down, and every router is "
    "online with a fresh state after it returns") {
  cloud_stack_options o;
  o.name = "integration-broker-crash";
  o.db = test_db("broker_crash");
  cloud_stack s(o);
  // Routers retry within a second; the bridge backs off to seconds while the broker is away,
  // so most routers are back (and send their snapshot on connect) before the bridge is. No
  // periodic snapshot within the test: only the one on connect and the ones asked for.
  sim_fleet fleet(s, o.db, "crash-", k_routers,
                  R"("state_interval_s":3600,"reconnect":{"base_ms":100,"cap_s":1})");
  auto api = s.client("acme");
  REQUIRE_MESSAGE(wait_until([&] { return routers_not_fresh(fleet, api, 0).empty(); }, 60s, 100ms),
                  "before the crash: " << routers_not_fresh(fleet, api, 0) << "\n"
                                       << fleet.sim().log());

  s.mqtt().kill();
  // Nobody vouches for these routers now: not one may be shown online.
  const bool unknown = wait_until(
      [&] { return devices_with(api, "true") == 0 && devices_with(api, "unknown") == k_routers; },
      20s, 100ms);
  CHECK_MESSAGE(unknown, "while the broker is down: online " << devices_with(api, "true")
                                                             << ", unknown "
                                                             << devices_with(api, "unknown"));

  const std::int64_t restarted_ms = now_ms();
  s.mqtt().start();
  const bool back =
      wait_until([&] { return routers_not_fresh(fleet, api, restarted_ms).empty(); }, 60s, 200ms);
  CHECK_MESSAGE(back, "60 s after the restart, not online with a state stored since: "
                          << routers_not_fresh(fleet, api, restarted_ms) << "\ncloud log:\n"
                          << s.cloud_log());
  CHECK(devices_with(api, "true") == k_routers);
  CHECK(devices_with(api, "unknown") == 0);
}
