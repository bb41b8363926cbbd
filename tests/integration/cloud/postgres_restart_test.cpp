// A PostgreSQL outage while routers answer (DESIGN.md section 8): aterm-cloud serve on a
// PostgreSQL cluster of the test's own, a real Mosquitto and simulated routers. Commands are
// published, the database goes down, the routers answer while it is down, and it comes back.
// Every command created must end exactly once with the result its router sent, without the
// re-ask of overdue results (result_timeout far beyond the test): ingest must keep what the
// broker handed over until the store takes it.
#include <doctest/doctest.h>

#include <csignal>
#include <string>
#include <vector>

#include "aterm/test/pg_cluster.h"
#include "cloud_stack.h"
#include "sim_fleet.h"

namespace {

using namespace aterm;
using namespace aterm::test;

constexpr int k_routers = 10;
constexpr int k_commands_per_phase = 30;

double bridge_metric(cloud_stack& s, const std::string& name) {
  return std::max(0.0, metric_value(s.metrics(), name));
}

}  // namespace

TEST_CASE("postgres_restart_during_ingest_loses_nothing") {
  // A cluster of its own: the test stops and starts it.
  pg_cluster cluster;
  const std::string db = cluster.create_database("restart_ingest");
  cloud_stack_options o;
  o.name = "integration-postgres-restart";
  o.db = db;
  // Far beyond the test: a result lost in ingest is never asked for again within it.
  o.mqtt = R"("result_timeout_s": 3600)";
  cloud_stack s(o);
  sim_fleet fleet(s, db, "pgrestart-", k_routers);
  auto api = s.client("acme");
  REQUIRE_MESSAGE(wait_until([&] { return fleet.online(api) == k_routers; }, 60s, 100ms),
                  fleet.sim().log());

  // Before the outage: the commands end as usual.
  std::vector<std::string> ids = fleet.create_commands({&api}, 0, k_commands_per_phase);
  REQUIRE_MESSAGE(wait_until(
                      [&] {
                        return fleet.count_commands(ids, "c.status = 'succeeded'") ==
                               k_commands_per_phase;
                      },
                      60s, 100ms),
                  s.cloud_log());

  // Commands published to routers that are held (SIGSTOP), so their results come while the
  // database is down.
  ::kill(fleet.sim().pid(), SIGSTOP);
  const std::vector<std::string> held = fleet.create_commands({&api}, 0, k_commands_per_phase);
  const bool published = wait_until(
      [&] { return fleet.count_commands(held, "c.attempts >= 1") == k_commands_per_phase; }, 60s,
      100ms);
  const double failures_before = bridge_metric(s, "aterm_bridge_store_failures_total");
  cluster.stop();
  ::kill(fleet.sim().pid(), SIGCONT);
  REQUIRE(published);
  // The routers answered every held command (journal first, then the publish), and ingest met
  // the database down.
  const bool answered = wait_until(
      [&] {
        auto results = fleet.journal_results();
        for (const auto& id : held) {
          if (!results.contains(id)) return false;
        }
        return true;
      },
      60s, 100ms);
  const bool ingest_failed = wait_until(
      [&] { return bridge_metric(s, "aterm_bridge_store_failures_total") > failures_before; }, 60s,
      100ms);
  cluster.start();
  CHECK(answered);
  CHECK(ingest_failed);

  // After the outage: new commands through the same instance, and every command at its end.
  const auto after = fleet.create_commands({&api}, 0, k_commands_per_phase);
  ids.insert(ids.end(), after.begin(), after.end());
  ids.insert(ids.end(), held.begin(), held.end());
  const auto total = static_cast<std::int64_t>(ids.size());
  const bool ended = wait_until(
      [&] { return fleet.count_commands(ids, "c.status IN ('queued', 'sent')") == 0; }, 90s, 200ms);
  const auto succeeded = fleet.count_commands(ids, "c.status = 'succeeded'");
  const auto lost = count_of(s.cloud_log(), "batch dropped after every store attempt failed");
  MESSAGE("after the outage: " << succeeded << " of " << total << " succeeded, "
                               << fleet.count_commands(held, "c.status = 'sent'")
                               << " held commands still sent, " << lost
                               << " batches dropped by ingest, "
                               << bridge_metric(s, "aterm_bridge_store_failures_total")
                               << " failed batch attempts");
  CHECK(ended);
  CHECK(succeeded == total);
  CHECK(lost == 0);
  // Published once each: nothing was asked for again.
  CHECK(fleet.count_commands(ids, "c.attempts > 1") == 0);

  // Every command ran exactly once on its router, and every result a router sent is stored.
  auto runs = fleet.journal_runs();
  auto results = fleet.journal_results();
  for (const auto& id : ids) {
    CAPTURE(id);
    CHECK(runs[id] == 1);
    CHECK(results.contains(id));
  }
  CHECK(fleet.sim().stop(SIGTERM) == 0);
}
