// A fleet job at fleet scale: one ping to each of N simulated routers (`aterm-agent simulate`),
// no rate limit, through the real daemon (cloud_stack: dev PKI, Mosquitto, aterm-cloud serve).
// Prints the time from POST /jobs to the job completed, the daemon's CPU and RSS while it runs,
// and the API's latency meanwhile (GET /jobs/{id} and GET /devices, each on a client of its own,
// back to back). A benchmark: prints figures, never passes or fails on them; exits non-zero only
// when it cannot measure. Not registered with CTest.
//
// Usage: bench_jobs [--routers N] [--connect-per-s N] [--connect-minutes M] [--postgres]
//   --routers          simulated routers (default 10000, the maximum), in simulate processes of
//                      at most 5,000 each: a simulated router holds two descriptors, and 10,000
//                      in one process pass this host's RLIMIT_NOFILE of 20,000
//   --connect-per-s    simulate.connect_per_s while the fleet connects (default 300)
//   --connect-minutes  how long the fleet may take to connect (default 15); the job takes the
//                      routers online then (a loaded host connects fewer), and says how many
//   --postgres         the store on a throwaway PostgreSQL 15 cluster (the tests' pg_cluster)
//
// The routers are registered with the store's own calls while the daemon is stopped (one
// destination, transactions of 1,000). The daemon keeps its production settings but those
// cloud_stack shortens (mqtt.dispatch_poll_ms 100, jobs.tick_ms 100); fleet_jobs.tick_ms is the
// default 1 s, so a tick releases at most limits::k_max_job_release_per_tick (2,000) commands.
// The routers' data folders are on /dev/shm (an agent fdatasyncs its command journal for every
// command: the router's flash, not the cloud's cost) and publish state once an hour, so the
// figures are the job's.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../bench_figures.h"
#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/store.h"
#include "aterm/common/clock.h"
#include "aterm/test/pg_cluster.h"
#include "cloud_stack.h"

namespace t = aterm::test;
namespace cloud = aterm::cloud;
using clock_type = std::chrono::steady_clock;
using aterm::bench::parse_size;
using aterm::bench::percentile;
using aterm::bench::sample_proc;

namespace {

constexpr const char* k_prefix = "job-r";
constexpr std::size_t k_routers_per_process = 5000;
constexpr auto k_job_limit = std::chrono::minutes(15);

struct options {
  std::size_t routers = 10000;
  std::size_t connect_per_s = 300;
  std::size_t connect_minutes = 15;
  bool postgres = false;
};

bool parse_args(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--postgres") {
      o.postgres = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    std::size_t* target = a == "--routers"           ? &o.routers
                          : a == "--connect-per-s"   ? &o.connect_per_s
                          : a == "--connect-minutes" ? &o.connect_minutes
                                                     : nullptr;
    if (target == nullptr || !parse_size(v, *target)) return false;
  }
  return o.routers >= 1 && o.routers <= 10000 && o.connect_per_s >= 1 && o.connect_minutes >= 1;
}

// Process p's --id-prefix: "job-r" and a letter per process.
std::string process_prefix(std::size_t p) {
  return std::string(k_prefix) + static_cast<char>('a' + p);
}

// Router i of 1..n as simulate numbers it: its process's prefix and its number there.
std::string router_id(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%05zu", process_prefix((i - 1) / k_routers_per_process).c_str(),
                (i - 1) % k_routers_per_process + 1);
  return buf;
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Registers routers 1..n (simulate's numbering) under acme's destination "jobs"; its id.
std::int64_t fill_store(const std::string& db, std::size_t n) {
  auto& clock = aterm::common::system_clock::instance();
  cloud::store_options so;
  so.rules = aterm::cloud::security::rules_for_store();
  so.db = db;
  auto store = cloud::open_store(so, clock);
  if (!store.ok()) throw std::runtime_error("open: " + store.error().to_string());
  auto dest = (*store)->ensure_destination("acme", "jobs");
  if (!dest.ok()) throw std::runtime_error("destination: " + dest.error().to_string());
  constexpr std::size_t k_chunk = 1000;
  for (std::size_t first = 1; first <= n; first += k_chunk) {
    auto st = (*store)->run_operation([&]() -> cloud::status {
      for (std::size_t i = first; i < std::min(n + 1, first + k_chunk); ++i) {
        auto r = (*store)->register_device("acme", router_id(i), dest->id);
        if (!r.ok()) return r.error();
      }
      return {};
    });
    if (!st.ok()) throw std::runtime_error("register: " + st.to_string());
  }
  return dest->id;
}

std::int64_t json_int(const t::http_answer& a, const char* key) {
  const cJSON* v = a.json ? cJSON_GetObjectItemCaseSensitive(a.json.get(), key) : nullptr;
  return cJSON_IsNumber(v) ? static_cast<std::int64_t>(v->valuedouble) : -1;
}

struct latencies {
  std::vector<double> round_trip_ms;
  std::vector<double> server_ms;
  std::size_t failures = 0;
};

double server_time_ms(const t::http_answer& a) {
  const std::string v = a.header("Server-Timing");
  const auto at = v.find("dur=");
  return at == std::string::npos ? -1 : std::atof(v.c_str() + at + 4);
}

// GETs `path()` back to back on `c` (a client of this thread's own) until `stop`.
void poll_api(t::https_client& c, const std::function<std::string()>& path,
              const std::atomic<bool>& stop, latencies& out) {
  while (!stop.load()) {
    const auto t0 = clock_type::now();
    t::http_answer a;
    try {
      a = c.request("GET", path());
    } catch (const std::exception&) {
      ++out.failures;
      continue;
    }
    if (a.status != 200) {
      ++out.failures;
      continue;
    }
    out.round_trip_ms.push_back(
        std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    out.server_ms.push_back(server_time_ms(a));
  }
}

void print(const char* what, const latencies& l) {
  std::printf(
      "  %-34s %6zu calls: server p50 %6.2f p99 %6.2f max %6.2f ms; round trip p50 %6.2f "
      "p99 %6.2f max %6.2f ms; %zu failed\n",
      what, l.round_trip_ms.size(), percentile(l.server_ms, 0.5), percentile(l.server_ms, 0.99),
      percentile(l.server_ms, 1.0), percentile(l.round_trip_ms, 0.5),
      percentile(l.round_trip_ms, 0.99), percentile(l.round_trip_ms, 1.0), l.failures);
}

int run(const options& opt) {
  std::unique_ptr<t::pg_cluster> cluster;
  t::cloud_stack_options o;
  o.name = "bench-jobs";
  if (opt.postgres) {
    cluster = std::make_unique<t::pg_cluster>();
    o.db = cluster->create_database("bench_jobs");
  }
  t::cloud_stack s(o);
  const std::string db = o.db.empty() ? s.db_path().string() : o.db;
  std::printf("bench_jobs: engine %s, %zu routers, folder %s\n",
              opt.postgres ? "postgresql" : "sqlite", opt.routers, s.dir().c_str());
  s.stop_cloud();
  auto t0 = clock_type::now();
  const std::int64_t destination = fill_store(db, opt.routers);
  std::printf("registered in %.1f s\n", seconds_since(t0));
  s.start_cloud();

  const t::fs::path shm = "/dev/shm";
  t::temp_dir routers("bench-jobs-routers", t::fs::is_directory(shm) ? shm : s.dir());
  // One data folder per simulate process: a process locks its folder, as an agent does.
  auto config_for = [&](std::size_t p) {
    const t::fs::path data = routers.path() / process_prefix(p);
    t::fs::create_directories(data);
    const t::fs::path config = s.dir() / ("sim-" + std::to_string(p) + ".json");
    std::ofstream(config) << R"({"broker":{"uri":")" << s.mqtt().uri() << R"(","ca":")"
                          << s.pki().ca().string() << R"("},"data_dir":")" << data.string()
                          << R"(","state_interval_s":3600,"reconnect":{"cap_s":15},)"
                          << R"("simulate":{"ca_cert":")" << s.pki().ca().string()
                          << R"(","ca_key":")" << s.pki().ca_key().string()
                          << R"(","connect_per_s":)" << opt.connect_per_s << "}}";
    return config;
  };
  std::vector<std::unique_ptr<t::process>> sims;
  for (std::size_t from = 0, p = 0; from < opt.routers; from += k_routers_per_process, ++p) {
    const std::size_t count = std::min(k_routers_per_process, opt.routers - from);
    sims.push_back(std::make_unique<t::process>(
        std::vector<std::string>{t::binary("agent/aterm-agent").string(), "simulate", "--config",
                                 config_for(p).string(), "--count", std::to_string(count),
                                 "--id-prefix", process_prefix(p)},
        s.dir() / ("sim-" + std::to_string(p) + ".log")));
  }

  auto api = s.client("acme");
  t0 = clock_type::now();
  std::int64_t online = 0;
  while (online < static_cast<std::int64_t>(opt.routers)) {
    for (auto& sim : sims) {
      if (!sim->running()) throw std::runtime_error("simulate exited: " + sim->log());
    }
    if (clock_type::now() - t0 >
        std::chrono::minutes(static_cast<std::int64_t>(opt.connect_minutes))) {
      std::printf("only %lld of %zu routers online after %.0f s; measuring with those\n",
                  static_cast<long long>(online), opt.routers, seconds_since(t0));
      break;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    online = json_int(api.request("GET", "fleet/summary"), "online");
  }
  std::printf("fleet online: %lld routers in %.1f s\n", static_cast<long long>(online),
              seconds_since(t0));

  const pid_t pid = s.cloud_pid();
  const auto before = sample_proc(pid);
  if (!before) throw std::runtime_error("cannot read /proc of aterm-cloud");
  t0 = clock_type::now();
  // The routers of the destination that are online: one that never connected would keep the job
  // open until its deadline.
  auto created = api.request("POST", "jobs",
                             R"({"op":"ping","target":{"query":{"online":"true","destination":")" +
                                 std::to_string(destination) + R"("}}})");
  if (created.status != 201) {
    throw std::runtime_error("POST /jobs: " + std::to_string(created.status) + " " + created.body);
  }
  const std::string job_path = "jobs/" + std::to_string(json_int(created, "id"));
  const cJSON* created_counts =
      created.json ? cJSON_GetObjectItemCaseSensitive(created.json.get(), "counts") : nullptr;
  const cJSON* job_total = cJSON_GetObjectItemCaseSensitive(created_counts, "total");
  std::printf("job of %.0f routers created in %.2f s\n",
              cJSON_IsNumber(job_total) ? job_total->valuedouble : -1.0, seconds_since(t0));

  std::atomic<bool> stop{false};
  latencies job_reads;
  latencies device_pages;
  auto job_client = s.client("acme");
  auto device_client = s.client("acme");
  std::thread job_poller([&] {
    poll_api(
        job_client, [&] { return job_path; }, stop, job_reads);
  });
  std::thread device_poller([&] {
    // Pages all over the fleet, as an operator pages through it.
    std::size_t page = 0;
    poll_api(
        device_client,
        [&] { return "devices?limit=50&cursor=" + router_id(1 + (page++ * 50) % opt.routers); },
        stop, device_pages);
  });

  double peak_cpu_pct = 0;
  long peak_rss_kb = before->rss_kb;
  auto last = *before;
  auto last_at = clock_type::now();
  std::string state = "running";
  t::http_answer job;
  while (state == "running" && clock_type::now() - t0 < k_job_limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    if (auto p = sample_proc(pid)) {
      const double dt = seconds_since(last_at);
      peak_cpu_pct = std::max(peak_cpu_pct, 100.0 * (p->cpu_s - last.cpu_s) / dt);
      peak_rss_kb = std::max(peak_rss_kb, p->rss_kb);
      last = *p;
      last_at = clock_type::now();
    }
    job = api.request("GET", job_path);
    state = job.str("state");
  }
  const double total_s = seconds_since(t0);
  stop = true;
  job_poller.join();
  device_poller.join();
  const auto after = sample_proc(pid);

  const cJSON* counts =
      job.json ? cJSON_GetObjectItemCaseSensitive(job.json.get(), "counts") : nullptr;
  auto count = [&](const char* k) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(counts, k);
    return cJSON_IsNumber(v) ? static_cast<long long>(v->valuedouble) : -1LL;
  };
  std::printf(
      "\njob of one ping to each router online, no rate limit: %s after %.1f s (succeeded %lld, "
      "failed %lld, timed_out %lld, cancelled %lld, still queued %lld, sent %lld)\n",
      state.c_str(), total_s, count("succeeded"), count("failed"), count("timed_out"),
      count("cancelled"), count("queued"), count("sent"));
  if (after) {
    std::printf(
        "  aterm-cloud CPU: %.1f s over the job = %.0f%% of one core on average, peak "
        "%.0f%% (0.5 s samples); RSS %.1f MB before, peak %.1f MB, %.1f MB after\n",
        after->cpu_s - before->cpu_s, 100.0 * (after->cpu_s - before->cpu_s) / total_s,
        peak_cpu_pct, static_cast<double>(before->rss_kb) / 1024.0,
        static_cast<double>(peak_rss_kb) / 1024.0, static_cast<double>(after->rss_kb) / 1024.0);
  }
  print("GET /jobs/{id} during the job", job_reads);
  print("GET /devices (50) during the job", device_pages);
  std::printf("  %s\n", aterm::bench::host_load().c_str());
  for (auto& sim : sims) sim->stop();
  return state == "completed" ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Line by line: the connect phase takes minutes and its progress should show in a log.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  options opt;
  if (!parse_args(argc, argv, opt)) {
    std::fprintf(stderr,
                 "usage: bench_jobs [--routers 1..10000] [--connect-per-s N] [--connect-minutes M] "
                 "[--postgres]\n");
    return 2;
  }
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_jobs: %s\n", e.what());
    return 1;
  }
}
