// Several aterm-cloud instances on one store (DESIGN.md section 8): two `aterm-cloud serve`
// with shared subscriptions, simulated routers (`aterm-agent simulate`), commands created
// through both APIs, one instance killed with SIGKILL halfway. Each command must be published
// by one instance, and its result must reach the store while any instance lives.
#include <doctest/doctest.h>

#include <csignal>
#include <map>
#include <string>
#include <vector>

#include "aterm/test/pg_cluster.h"
#include "cloud_stack.h"
#include "sim_fleet.h"

namespace {

using namespace aterm;
using namespace aterm::test;

constexpr int k_routers = 20;
// Commands per phase (both instances up; one killed halfway): 1,000 in all, created through
// two clients at once so that the run stays near a minute on PostgreSQL on two busy cores.
constexpr int k_commands_per_phase = 500;
// Short, so results lost with the killed instance are asked for again within the test.
constexpr int k_result_timeout_s = 10;

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
  sim_fleet fleet(s, o.db, "multi-", k_routers);

  auto api_a = s.client("acme");
  auto api_b = s.make_client("127.0.0.1", b);
  REQUIRE(api_b.login("acme", "admin", s.admin_password("acme")).status == 200);
  REQUIRE_MESSAGE(wait_until([&] { return fleet.online(api_b) == k_routers; }, 60s, 100ms),
                  fleet.sim().log());

  // Both instances running: every command goes out once (the broker took one publish each).
  std::vector<std::string> ids = fleet.create_commands({&api_a, &api_b}, 0, k_commands_per_phase);
  REQUIRE_MESSAGE(
      wait_until([&] { return fleet.count_commands(ids, "c.status IN ('queued', 'sent')") == 0; },
                 60s, 200ms),
      s.cloud_log());
  CHECK(fleet.count_commands(ids, "c.status = 'succeeded'") == k_commands_per_phase);
  CHECK(fleet.count_commands(ids, "c.attempts > 1") == 0);
  CHECK(count_of(fleet.sim().log(), "repeated command answered from the journal") == 0);

  // The second half: instance A is killed with SIGKILL while commands are in flight, and B
  // takes the rest (through two clients, as a load balancer would spread them).
  const int half = k_commands_per_phase + k_commands_per_phase / 2;
  auto more = fleet.create_commands({&api_a, &api_b}, k_commands_per_phase, half);
  s.stop_instance(a, SIGKILL);
  auto api_b2 = s.make_client("127.0.0.1", b);
  REQUIRE(api_b2.login("acme", "admin", s.admin_password("acme")).status == 200);
  auto rest = fleet.create_commands({&api_b, &api_b2}, half, 2 * k_commands_per_phase);
  ids.insert(ids.end(), more.begin(), more.end());
  ids.insert(ids.end(), rest.begin(), rest.end());
  // Results the broker handed to A but A never stored are asked for again after
  // result_timeout; B alone brings every command to its end.
  const bool ended =
      wait_until([&] { return fleet.count_commands(ids, "c.status IN ('queued', 'sent')") == 0; },
                 120s, 500ms);
  const auto total = static_cast<std::int64_t>(ids.size());
  const auto succeeded = fleet.count_commands(ids, "c.status = 'succeeded'");
  MESSAGE(
      "after SIGKILL: " << succeeded << " of " << total << " succeeded, "
                        << fleet.count_commands(ids, "c.status = 'sent'") << " still sent, "
                        << fleet.count_commands(ids, "c.attempts > 1")
                        << " published more than once, "
                        << count_of(fleet.sim().log(), "repeated command answered from the journal")
                        << " repeats answered from the routers' journals");
  CHECK(ended);
  CHECK(succeeded == total);

  // The routers' journals: every command ran exactly once.
  auto runs = fleet.journal_runs();
  for (const auto& id : ids) {
    CAPTURE(id);
    CHECK(runs[id] == 1);
  }
  CHECK(fleet.sim().stop(SIGTERM) == 0);

  // Both instances appended to the one access log: its chain is whole, gap-free, on either
  // engine.
  auto verify = s.cli({"audit", "verify"});
  CHECK_MESSAGE(verify.exit_code == 0, verify.out << verify.err);
}
