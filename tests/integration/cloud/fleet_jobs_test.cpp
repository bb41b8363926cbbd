// Fleet jobs against the real daemon (docs/http-api.md, "Fleet jobs"): one stack, simulated
// routers of "acme" (`aterm-agent simulate`), a shortened rollout minute and scheduler tick.
// The rollout rate and max_in_flight, the abort threshold, cancel, a daemon killed with SIGKILL
// in the middle of a job (the routers' journals: nothing lost, nothing run twice), and jobs
// aimed at another company's router by id, tag and query.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "aterm/test/sql.h"
#include "cloud_stack.h"
#include "sim_fleet.h"

namespace {

using namespace aterm;
using namespace aterm::test;

constexpr int k_routers = 8;
constexpr std::int64_t k_minute_s = 2;
constexpr std::int64_t k_tick_ms = 100;

struct job_view {
  std::string state;
  std::map<std::string, std::int64_t> counts;
};

job_view read_job(https_client& c, std::int64_t id) {
  auto a = c.request("GET", "jobs/" + std::to_string(id));
  REQUIRE_MESSAGE(a.status == 200, a.body);
  job_view v;
  v.state = a.str("state");
  const cJSON* counts = cJSON_GetObjectItemCaseSensitive(a.json.get(), "counts");
  for (const cJSON* n = counts->child; n != nullptr; n = n->next) {
    v.counts[n->string] = static_cast<std::int64_t>(n->valuedouble);
  }
  return v;
}

struct job_row {
  std::string device_id;
  std::string status;
  std::string command_id;
  std::int64_t released_at_ms = -1;
};

std::vector<job_row> job_devices(https_client& c, std::int64_t id) {
  auto a = c.request("GET", "jobs/" + std::to_string(id) + "/devices?limit=500");
  REQUIRE_MESSAGE(a.status == 200, a.body);
  std::vector<job_row> out;
  const cJSON* arr = cJSON_GetObjectItemCaseSensitive(a.json.get(), "devices");
  for (const cJSON* d = arr->child; d != nullptr; d = d->next) {
    job_row r;
    r.device_id = cJSON_GetObjectItemCaseSensitive(d, "device_id")->valuestring;
    r.status = cJSON_GetObjectItemCaseSensitive(d, "status")->valuestring;
    const cJSON* cmd = cJSON_GetObjectItemCaseSensitive(d, "command_id");
    if (cJSON_IsString(cmd)) r.command_id = cmd->valuestring;
    const cJSON* at = cJSON_GetObjectItemCaseSensitive(d, "released_at_ms");
    if (cJSON_IsNumber(at)) r.released_at_ms = static_cast<std::int64_t>(at->valuedouble);
    out.push_back(std::move(r));
  }
  return out;
}

std::int64_t create_job(https_client& c, const std::string& body) {
  auto a = c.request("POST", "jobs", body);
  REQUIRE_MESSAGE(a.status == 201, a.body);
  return a.num("id");
}

// The progress counters the store keeps equal a recount of the job's routers.
void check_counts_exact(const std::filesystem::path& db, std::int64_t id) {
  const auto differ = job_counts_differ(db, id);
  CHECK_MESSAGE(differ.empty(), "job " << id << ": " << differ);
}

bool ended(https_client& c, std::int64_t id) {
  return read_job(c, id).state != "running";
}

}  // namespace

TEST_CASE(
    "fleet jobs: rollout rate and max_in_flight kept, abort threshold trips, cancel stops unsent "
    "commands, a daemon killed with SIGKILL mid-job loses nothing and sends nothing twice") {
  cloud_stack_options o;
  o.name = "integration-fleet-jobs";
  // A command claimed but not published when the daemon is killed goes again this soon.
  o.mqtt = R"("result_timeout_s": 5)";
  o.extra = R"("fleet_jobs": {"tick_ms": )" + std::to_string(k_tick_ms) + R"(, "minute_s": )" +
            std::to_string(k_minute_s) + "}";
  cloud_stack s(o);
  sim_fleet fleet(s, s.db_path().string(), "fj-", k_routers);
  auto api = s.client("acme");
  REQUIRE_MESSAGE(wait_until([&] { return fleet.online(api) == k_routers; }, 60s, 100ms),
                  fleet.sim().log());

  // Every router tagged "shop" through a tags.set job: cloud-side, done when answered.
  std::string ids;
  for (int i = 1; i <= k_routers; ++i) {
    ids += (i > 1 ? ",\"" : "\"") + fleet.router_id(i) + "\"";
  }
  {
    auto a = api.request("POST", "jobs",
                         R"({"op":"tags.set","args":{"tags":["shop","tokyo"]},)"
                         R"("target":{"device_ids":[)" +
                             ids + "]}}");
    REQUIRE_MESSAGE(a.status == 201, a.body);
    CHECK(a.str("state") == "completed");
    auto listed = api.request("GET", "devices?tag=shop&limit=500");
    REQUIRE(listed.status == 200);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(listed.json.get(), "devices")) ==
          k_routers);
  }

  {
    INFO("the rate and max_in_flight hold");
    const std::int64_t per_minute = 3;
    const std::int64_t max_in_flight = 2;
    auto id = create_job(api, R"({"op":"ping","target":{"tag":"shop"},"rollout":{"per_minute":)" +
                                  std::to_string(per_minute) + R"(,"max_in_flight":)" +
                                  std::to_string(max_in_flight) + "}}");
    std::int64_t most_in_flight = 0;
    REQUIRE(wait_until(
        [&] {
          auto v = read_job(api, id);
          most_in_flight = std::max(most_in_flight, v.counts["sent"]);
          return v.state != "running";
        },
        60s, 20ms));
    auto v = read_job(api, id);
    CHECK(v.state == "completed");
    CHECK(v.counts["succeeded"] == k_routers);
    CHECK(most_in_flight <= max_in_flight);
    // Release times: no `per_minute + 1` of them inside one minute, give or take a tick.
    std::vector<std::int64_t> at;
    for (const auto& r : job_devices(api, id)) at.push_back(r.released_at_ms);
    std::sort(at.begin(), at.end());
    const auto n = static_cast<std::size_t>(per_minute);
    for (std::size_t i = 0; i + n < at.size(); ++i) {
      CAPTURE(i);
      CHECK(at[i + n] - at[i] >= k_minute_s * 1000 - k_tick_ms);
    }
    MESSAGE("released over " << (at.back() - at.front()) << " ms, at most " << most_in_flight
                             << " in flight");
    check_counts_exact(s.db_path(), id);
  }

  {
    INFO("the abort threshold trips");
    // A config.set of a rev no router has is rejected by every router: a failure each.
    auto id = create_job(
        api, R"({"op":"config.set","args":{"rev":999999,"values":{"log.level":"info"}},)"
             R"("target":{"tag":"shop"},)"
             R"("rollout":{"per_minute":2,"abort_if_failed_pct":50,"abort_min_devices":2}})");
    REQUIRE(wait_until([&] { return ended(api, id); }, 60s, 50ms));
    auto v = read_job(api, id);
    CHECK(v.state == "aborted");
    CHECK(v.counts["failed"] >= 2);
    CHECK(v.counts["succeeded"] == 0);
    CHECK(v.counts["cancelled"] >= k_routers - 4);
    check_counts_exact(s.db_path(), id);
    // The cancelled routers never received the command.
    auto runs = fleet.journal_runs();
    for (const auto& r : job_devices(api, id)) {
      if (r.status != "cancelled" || r.command_id.empty()) continue;
      CAPTURE(r.device_id);
      CHECK(runs[r.command_id] == 0);
    }
  }

  {
    INFO("cancel stops the unsent commands");
    auto id =
        create_job(api, R"({"op":"ping","target":{"tag":"shop"},"rollout":{"per_minute":2}})");
    REQUIRE(wait_until([&] { return read_job(api, id).counts["succeeded"] >= 2; }, 30s, 20ms));
    auto cancelled = api.request("POST", "jobs/" + std::to_string(id) + "/cancel");
    REQUIRE_MESSAGE(cancelled.status == 200, cancelled.body);
    CHECK(cancelled.str("state") == "cancelled");
    CHECK(api.request("POST", "jobs/" + std::to_string(id) + "/cancel").status == 409);
    auto before = read_job(api, id);
    CHECK(before.counts["cancelled"] >= k_routers - 4);
    // A later job, no limit, completes: the scheduler ran many ticks after the cancel.
    auto later = create_job(api, R"({"op":"ping","target":{"tag":"shop"}})");
    REQUIRE(wait_until([&] { return ended(api, later); }, 30s, 50ms));
    // Commands sent before the cancel finish; nothing cancelled was sent afterwards.
    auto after = read_job(api, id);
    CHECK(after.counts["cancelled"] == before.counts["cancelled"]);
    CHECK(after.counts["queued"] == 0);
    check_counts_exact(s.db_path(), id);
    check_counts_exact(s.db_path(), later);
    auto runs = fleet.journal_runs();
    std::int64_t ran = 0;
    for (const auto& r : job_devices(api, id)) {
      if (!r.command_id.empty()) ran += runs[r.command_id];
      if (r.status == "cancelled" && !r.command_id.empty()) {
        CAPTURE(r.device_id);
        CHECK(runs[r.command_id] == 0);
      }
    }
    CHECK(ran == after.counts["succeeded"]);
  }

  {
    INFO("a daemon killed with SIGKILL mid-job: nothing lost, nothing run twice");
    auto id =
        create_job(api, R"({"op":"ping","target":{"tag":"shop"},"rollout":{"per_minute":3}})");
    REQUIRE(wait_until([&] { return read_job(api, id).counts["succeeded"] >= 2; }, 30s, 20ms));
    s.stop_cloud(SIGKILL);
    s.start_cloud();
    auto again = s.client("acme");
    REQUIRE_MESSAGE(wait_until([&] { return ended(again, id); }, 60s, 100ms), s.cloud_log());
    auto v = read_job(again, id);
    CHECK(v.state == "completed");
    CHECK(v.counts["succeeded"] == k_routers);
    check_counts_exact(s.db_path(), id);
    auto runs = fleet.journal_runs();
    std::set<std::string> devices;
    for (const auto& r : job_devices(again, id)) {
      CAPTURE(r.device_id);
      devices.insert(r.device_id);
      REQUIRE(!r.command_id.empty());
      CHECK(runs[r.command_id] == 1);
    }
    CHECK(devices.size() == static_cast<std::size_t>(k_routers));
    // One command of the job per router in the store: no router was released twice.
    CHECK(query_int(s.db_path(),
                    "SELECT count(DISTINCT c.device_id) FROM commands c JOIN fleet_job_devices j "
                    "ON j.command_id = c.id WHERE j.job_id = " +
                        std::to_string(id)) == k_routers);
    CHECK(query_int(s.db_path(),
                    "SELECT count(*) FROM commands c JOIN fleet_job_devices j ON j.command_id = "
                    "c.id WHERE j.job_id = " +
                        std::to_string(id)) == k_routers);
  }
  CHECK(fleet.sim().stop(SIGTERM) == 0);
}

TEST_CASE("a fleet job aimed at another company's router by id, tag or query touches none") {
  cloud_stack_options o;
  o.name = "integration-fleet-jobs-tenancy";
  o.extra = R"("fleet_jobs": {"tick_ms": 100, "minute_s": 2})";
  cloud_stack s(o);
  s.register_device("acme", "acme-t1");
  s.register_device("globex", "globex-t1");
  auto acme = s.client("acme");
  auto globex = s.client("globex");
  REQUIRE(acme.request("PUT", "devices/acme-t1/tags", R"({"tags":["mine"]})").status == 200);
  REQUIRE(globex.request("PUT", "devices/globex-t1/tags", R"({"tags":["rival"]})").status == 200);

  // Acme cannot tag it, nor name it, its tag or a query matching its id in a job.
  CHECK(acme.request("PUT", "devices/globex-t1/tags", R"({"tags":["taken"]})").status == 404);
  auto by_id = acme.request("POST", "jobs",
                            R"({"op":"reboot","target":{"device_ids":["acme-t1","globex-t1"]}})");
  CHECK_MESSAGE(by_id.status == 404, by_id.body);
  CHECK(by_id.body.find("globex-t1") == std::string::npos);
  auto by_tag = acme.request("POST", "jobs", R"({"op":"reboot","target":{"tag":"rival"}})");
  CHECK_MESSAGE(by_tag.status == 400, by_tag.body);
  auto by_query =
      acme.request("POST", "jobs", R"({"op":"reboot","target":{"query":{"q":"globex"}}})");
  CHECK_MESSAGE(by_query.status == 400, by_query.body);
  auto by_query_tag =
      acme.request("POST", "jobs", R"({"op":"reboot","target":{"query":{"tag":"rival"}}})");
  CHECK_MESSAGE(by_query_tag.status == 400, by_query_tag.body);
  // A name the device list does not filter on is refused, not ignored: ignored, it would aim
  // the job at every router of the company.
  auto misspelt =
      acme.request("POST", "jobs", R"({"op":"reboot","target":{"query":{"tags":"mine"}}})");
  CHECK_MESSAGE(misspelt.status == 400, misspelt.body);
  auto tags_by_id = acme.request(
      "POST", "jobs",
      R"({"op":"tags.set","args":{"tags":["taken"]},"target":{"device_ids":["globex-t1"]}})");
  CHECK(tags_by_id.status == 404);
  // Another company's job is not found either.
  auto own = globex.request("POST", "jobs", R"({"op":"ping","target":{"tag":"rival"}})");
  REQUIRE_MESSAGE(own.status == 201, own.body);
  const auto globex_job = std::to_string(own.num("id"));
  CHECK(acme.request("GET", "jobs/" + globex_job).status == 404);
  CHECK(acme.request("POST", "jobs/" + globex_job + "/cancel").status == 404);
  CHECK(globex.request("GET", "jobs/" + globex_job).str("state") == "running");
  // The fleet summary shows a company its own running jobs, with their progress, and no other's.
  auto mine = globex.request("GET", "fleet/summary");
  REQUIRE(mine.status == 200);
  CHECK(mine.num("running_jobs") == 1);
  const cJSON* jobs = cJSON_GetObjectItemCaseSensitive(mine.json.get(), "jobs");
  REQUIRE(cJSON_GetArraySize(jobs) == 1);
  CHECK(cJSON_GetObjectItemCaseSensitive(jobs->child, "id")->valuedouble ==
        static_cast<double>(own.num("id")));
  CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(jobs->child, "counts"),
                                         "total")
            ->valuedouble == 1);
  auto theirs = acme.request("GET", "fleet/summary");
  CHECK(theirs.num("running_jobs") == 0);
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(theirs.json.get(), "jobs")) == 0);

  // Nothing of acme's reached globex's router: no command, no place in a job, its tag kept.
  CHECK(query_int(s.db_path(),
                  "SELECT count(*) FROM commands WHERE device_id = 'globex-t1' AND "
                  "company_id = 'acme'") == 0);
  CHECK(query_int(s.db_path(),
                  "SELECT count(*) FROM fleet_job_devices j JOIN fleet_jobs f ON f.id = j.job_id "
                  "WHERE j.device_id = 'globex-t1' AND f.company_id = 'acme'") == 0);
  CHECK(query_int(s.db_path(),
                  "SELECT count(*) FROM device_tags WHERE device_id = 'globex-t1' AND "
                  "tag = 'rival' AND company_id = 'globex'") == 1);
  CHECK(query_int(s.db_path(), "SELECT count(*) FROM device_tags WHERE tag = 'taken'") == 0);
}
