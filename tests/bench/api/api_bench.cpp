// The API's read paths at fleet scale: the device list, a device and its history, and the access
// log, through HTTPS against the real daemon (cloud_stack: dev PKI, Mosquitto, aterm-cloud
// serve) on a store filled with a large fleet. One client signed in as acme's administrator keeps
// one connection with TCP_NODELAY (a handshake per call, or Nagle's 40 ms, would hide the server).
// For every kind of call it prints p50/p99/max of the round trip and of the server's own time
// (the Server-Timing header, docs/http-api.md), and the share of the machine's CPU the hypervisor
// took meanwhile (a shared host's steal time moves every figure). Prints figures; never passes
// or fails.
//
// Usage: bench_api [--devices N] [--history K] [--commands N] [--calls N] [--pool-size N]
//                  [--poll-ms N] [--postgres]
//   --devices   acme's routers (default 100000); globex gets one for every 7, whose ids sort
//               between acme's, so every index walk skips another company's rows
//   --history   state snapshots stored per router (default 3; the store keeps up to 288)
//   --commands  commands posted to offline routers before the measurement, each one an
//               access-log record (default 20000)
//   --calls     calls per kind (default 300)
//   --pool-size the daemon's store.pool_size: PostgreSQL's connections (default 4; SQLite
//               uses one)
//   --poll-ms   the daemon's mqtt.dispatch_poll_ms, how often its sweep runs (default: the
//               daemon's, 1 s; a long one shows what the sweep costs the other calls)
//   --postgres  the store on a throwaway PostgreSQL 15 cluster (the tests' pg_cluster) instead of
//               a SQLite file
//
// The fleet is written with the store's own calls (register_device, apply_batch of presence and
// state messages as the bridge stores them) while the daemon is stopped, in transactions of
// 1,000 routers; state payloads come from the agent's sim backend, with 5 models (router i
// reports WX(i % 5)). Presence: every 10th router online, 3 in 10 offline, the rest unknown.
// acme's routers are spread over 7 destinations (router i in number i % 7), so a destination,
// presence and model filter walks one destination's index and tests the other two on its rows;
// every 4th router has the tag "floor1". The access log is filled through the API itself.
//
// On PostgreSQL the database is vacuumed and analyzed once the fleet and the access log are
// written, as autovacuum would within minutes of such a bulk load: otherwise its catch-up on the
// some 300,000 rows just written (routers, snapshots, tags, commands, access-log records) runs
// during the first calls and they measure it. The autovacuum and autoanalyze runs that still end
// among the calls are printed after them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../bench_figures.h"
#include "aterm/agent/backend.h"
#include "aterm/bridge/limits.h"
#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/store.h"
#include "aterm/common/clock.h"
#include "aterm/common/json.h"
#include "aterm/common/protocol.h"
#include "aterm/test/pg_cluster.h"
#include "aterm/test/sql.h"
#include "cloud_stack.h"

namespace t = aterm::test;
namespace cloud = aterm::cloud;
namespace bridge = aterm::bridge;
namespace protocol = aterm::common::protocol;
using clock_type = std::chrono::steady_clock;

using aterm::bench::parse_size;
using aterm::bench::percentile;

namespace {

constexpr std::size_t k_destinations = 7;

struct options {
  std::size_t devices = 100'000;
  std::size_t history = 3;
  std::size_t commands = 20'000;
  std::size_t calls = 300;
  std::size_t pool_size = 0;  // 0: the daemon's default store.pool_size
  std::size_t poll_ms = 0;    // 0: the daemon's default mqtt.dispatch_poll_ms
  bool postgres = false;
};

bool parse_args(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--postgres") {
      o.postgres = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    std::size_t* target = a == "--devices"     ? &o.devices
                          : a == "--history"   ? &o.history
                          : a == "--commands"  ? &o.commands
                          : a == "--calls"     ? &o.calls
                          : a == "--pool-size" ? &o.pool_size
                          : a == "--poll-ms"   ? &o.poll_ms
                                               : nullptr;
    if (target == nullptr || !parse_size(v, *target)) return false;
  }
  return o.devices >= 1000 && o.calls > 0;
}

std::string router_id(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "r%06zu", i);
  return buf;
}

const char* presence_of(std::size_t i) {
  if (i % 10 == 0) return "online";
  if (i % 10 <= 3) return "offline";
  return "unknown";
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// The store of `db` in this process, as the daemon opens it; null (and a line on stderr) when it
// cannot be opened.
std::unique_ptr<cloud::store> open_bench_store(const std::string& db) {
  cloud::store_options so;
  so.rules = aterm::cloud::security::rules_for_store();
  so.db = db;
  auto opened = cloud::open_store(so, aterm::common::system_clock::instance());
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.error().to_string().c_str());
    return nullptr;
  }
  return std::move(opened).value();
}

// Writes the fleet with the store's own calls while the daemon is stopped.
bool fill_store(const std::string& db, const options& opt, const t::fs::path& scratch) {
  auto& clock = aterm::common::system_clock::instance();
  auto store = open_bench_store(db);
  if (!store) return false;
  auto sim = aterm::agent::make_sim_backend({scratch / "sim.json", "r000000"}, clock);
  if (!sim.ok()) {
    std::fprintf(stderr, "sim backend: %s\n", sim.error().to_string().c_str());
    return false;
  }
  const auto t0 = clock_type::now();
  struct company_fleet {
    const char* company;
    std::int64_t destination;
    std::size_t step;
    const char* suffix;
  };
  std::vector<company_fleet> fleets;
  for (const char* company : {"acme", "globex"}) {
    auto dest = store->ensure_destination(company, "default");
    if (!dest.ok()) {
      std::fprintf(stderr, "destination: %s\n", dest.error().to_string().c_str());
      return false;
    }
    fleets.push_back({company, dest->id, std::string(company) == "acme" ? 1u : 7u,
                      std::string(company) == "acme" ? "" : "-g"});
  }
  // acme's destinations 1..6 beside "default" (number 0).
  std::vector<std::int64_t> acme_destinations = {fleets.front().destination};
  for (std::size_t d = 1; d < k_destinations; ++d) {
    auto dest = store->ensure_destination("acme", "dest-" + std::to_string(d));
    if (!dest.ok()) return false;
    acme_destinations.push_back(dest->id);
  }
  constexpr std::size_t k_chunk = 1000;
  std::int64_t seq = 0;
  for (const auto& f : fleets) {
    for (std::size_t first = 0; first < opt.devices; first += k_chunk * f.step) {
      const std::size_t end = std::min(opt.devices, first + k_chunk * f.step);
      auto st = store->run_operation([&]() -> cloud::status {
        for (std::size_t i = first; i < end; i += f.step) {
          const bool acme = f.step == 1;
          auto r =
              store->register_device(f.company, router_id(i) + f.suffix,
                                     acme ? acme_destinations[i % k_destinations] : f.destination);
          if (!r.ok()) return r.error();
          if (acme && i % 4 == 0) {
            auto t = store->set_device_tags(f.company, router_id(i), {"floor1"});
            if (!t.ok()) return t.error();
          }
        }
        return {};
      });
      if (!st.ok()) {
        std::fprintf(stderr, "register: %s\n", st.to_string().c_str());
        return false;
      }
      std::vector<bridge::device_message> batch;
      for (std::size_t i = first; i < end; i += f.step) {
        const std::string id = router_id(i) + f.suffix;
        const char* presence = presence_of(i);
        if (std::strcmp(presence, "unknown") == 0) continue;
        for (std::size_t h = 0; h < opt.history; ++h) {
          auto snap = (*sim)->read_state();
          snap.model = "WX" + std::to_string(i % 5);
          snap.ts = clock.now_s();
          snap.seq = ++seq;
          std::string payload = protocol::encode(snap);
          batch.push_back({id, protocol::topic_kind::state, clock.now_ms(), std::move(payload),
                           std::move(snap)});
        }
        protocol::presence p{std::strcmp(presence, "online") == 0, "1.4.2", clock.now_s()};
        batch.push_back(
            {id, protocol::topic_kind::presence, clock.now_ms(), protocol::encode(p), p});
      }
      if (auto r = store->apply_batch(batch); !r.ok()) {
        std::fprintf(stderr, "apply_batch: %s\n", r.error().to_string().c_str());
        return false;
      }
    }
  }
  std::printf(
      "fleet written: %zu acme + %zu globex routers, %zu snapshots each heard one, in %.1f s\n",
      opt.devices, (opt.devices + 6) / 7, opt.history, seconds_since(t0));
  return true;
}

struct figures {
  aterm::bench::cpu_ticks started = aterm::bench::sample_cpu();  // for the steal column
  std::vector<double> round_trip_ms;
  std::vector<double> server_ms;
  std::size_t failures = 0;
  std::size_t bytes = 0;
};

double server_time_ms(const t::http_answer& a) {
  const std::string v = a.header("Server-Timing");
  const auto at = v.find("dur=");
  return at == std::string::npos ? -1 : std::atof(v.c_str() + at + 4);
}

// One timed call; `next` (may be null) takes the answer, e.g. to follow a cursor.
void timed(t::https_client& c, figures& f, const std::string& path,
           const std::function<void(const t::http_answer&)>& next = nullptr) {
  const auto t0 = clock_type::now();
  t::http_answer a;
  try {
    a = c.request("GET", path);
  } catch (const std::exception&) {
    ++f.failures;
    return;
  }
  const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
  if (a.status != 200) {
    ++f.failures;
    return;
  }
  f.round_trip_ms.push_back(ms);
  f.server_ms.push_back(server_time_ms(a));
  f.bytes += a.body.size();
  if (next) next(a);
}

void print(const char* kind, const figures& f) {
  std::printf("%-38s %5zu %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f %8zu %5zu %6.1f\n", kind,
              f.round_trip_ms.size(), percentile(f.server_ms, 0.5), percentile(f.server_ms, 0.99),
              percentile(f.server_ms, 1.0), percentile(f.round_trip_ms, 0.5),
              percentile(f.round_trip_ms, 0.99), percentile(f.round_trip_ms, 1.0),
              f.round_trip_ms.empty() ? 0 : f.bytes / f.round_trip_ms.size(), f.failures,
              aterm::bench::stolen_percent(f.started));
  std::fflush(stdout);
}

// The dispatcher's periodic sweep (claim_for_online, as dispatcher.cpp calls it every poll) over
// the commands queued for offline routers: its time per call, in this process on the store while
// the daemon is stopped. Nothing is claimable (every queued command's router is offline), so it
// changes nothing. Printed in the server-time columns.
bool time_sweep(const std::string& db, std::size_t calls) {
  auto& clock = aterm::common::system_clock::instance();
  auto store = open_bench_store(db);
  if (!store) return false;
  figures f;
  for (std::size_t i = 0; i < calls; ++i) {
    aterm::bridge::claim_request r;
    r.instance = "bench-sweep";
    r.now_ms = aterm::common::to_unix_ms(clock.now());
    const auto t0 = clock_type::now();
    auto claimed = store->claim_for_online(r, aterm::bridge::limits::k_max_queued_per_poll);
    const double ms = seconds_since(t0) * 1000;
    f.server_ms.push_back(ms);
    f.round_trip_ms.push_back(ms);
    if (!claimed.ok() || !claimed->empty()) ++f.failures;
  }
  print("dispatcher sweep, in-process", f);
  return true;
}

// PostgreSQL's autovacuum and autoanalyze runs on the store's tables so far (the statistics the
// server publishes when a run ends).
std::int64_t autovacuum_runs(const std::string& db) {
  return t::query_int(db,
                      "SELECT COALESCE(sum(autovacuum_count + autoanalyze_count), 0)::bigint "
                      "FROM pg_stat_user_tables");
}

std::string cursor_of(const t::http_answer& a, const char* field) {
  if (!a.json) return "";
  const cJSON* c = cJSON_GetObjectItemCaseSensitive(a.json.get(), field);
  if (cJSON_IsString(c)) return c->valuestring;
  if (cJSON_IsNumber(c)) return std::to_string(static_cast<long long>(c->valuedouble));
  return "";
}

// The same list call, `calls` times, each one following the previous page's cursor (a deep walk),
// starting again at the first page when the list ends.
figures walk(t::https_client& c, const std::string& base, std::size_t calls) {
  figures f;
  std::string cursor;
  for (std::size_t i = 0; i < calls; ++i) {
    const std::string path = base + (cursor.empty() ? "" : "&cursor=" + cursor);
    timed(c, f, path, [&](const t::http_answer& a) { cursor = cursor_of(a, "next_cursor"); });
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  if (!parse_args(argc, argv, opt)) {
    std::fprintf(stderr,
                 "usage: bench_api [--devices N>=1000] [--history K] [--commands N] [--calls N] "
                 "[--pool-size N] [--poll-ms N] [--postgres]\n");
    return 2;
  }
  std::unique_ptr<t::pg_cluster> cluster;
  t::cloud_stack_options o;
  o.name = "bench-api";
  o.short_timers = false;  // the daemon as deployed: its 1 s dispatch poll and job tick
  if (opt.pool_size > 0) {
    o.extra = R"("store": {"pool_size": )" + std::to_string(opt.pool_size) + "}";
  }
  if (opt.poll_ms > 0) o.mqtt = R"("dispatch_poll_ms": )" + std::to_string(opt.poll_ms);
  if (opt.postgres) {
    try {
      cluster = std::make_unique<t::pg_cluster>();
      o.db = cluster->create_database("bench_api");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "postgres: %s\n", e.what());
      return 1;
    }
  }
  t::cloud_stack s(o);
  const std::string db = o.db.empty() ? s.db_path().string() : o.db;
  const std::string poll =
      opt.poll_ms > 0 ? std::to_string(opt.poll_ms) + " ms" : std::string("the daemon's default");
  std::printf("bench_api: engine %s, %zu routers, %zu calls per kind, dispatch poll %s\n",
              opt.postgres ? "postgresql" : "sqlite", opt.devices, opt.calls, poll.c_str());
  s.stop_cloud();
  if (!fill_store(db, opt, s.dir())) return 1;
  s.start_cloud();

  t::tls_options tls;
  tls.ca_file = s.pki().ca().string();
  tls.no_delay = true;
  // The access log, through the API: every queued command is one record.
  {
    const auto t0 = clock_type::now();
    std::atomic<std::size_t> next{0};
    std::atomic<std::size_t> refused{0};
    std::vector<std::thread> posters;
    for (int w = 0; w < 4; ++w) {
      posters.emplace_back([&] {
        t::https_client c(s.https_port(), tls, true);
        if (c.login("acme", "admin", s.admin_password("acme")).status != 200) {
          refused.fetch_add(opt.commands);
          return;
        }
        for (std::size_t i = next++; i < opt.commands; i = next++) {
          // Routers 1, 2, 3, 11, ...: offline ones, so the commands wait queued.
          const std::string id = router_id((i * 10 + 1 + i % 3) % opt.devices);
          auto a = c.request("POST", "devices/" + id + "/commands",
                             R"({"op":"ping","args":{},"timeout_s":86400})");
          if (a.status != 202) refused.fetch_add(1);
        }
      });
    }
    for (auto& p : posters) p.join();
    std::printf("access log: %zu commands posted (%zu refused) in %.1f s\n", opt.commands,
                refused.load(), seconds_since(t0));
  }

  std::int64_t autovacuum_before = 0;
  if (opt.postgres) {
    const auto t0 = clock_type::now();
    if (auto e = t::exec_sql(db, "VACUUM (ANALYZE)"); !e.empty()) {
      std::fprintf(stderr, "vacuum: %s\n", e.c_str());
      return 1;
    }
    std::printf("vacuum (analyze): %.1f s\n", seconds_since(t0));
    autovacuum_before = autovacuum_runs(db);
  }

  t::https_client c(s.https_port(), tls, true);
  if (c.login("acme", "admin", s.admin_password("acme")).status != 200) {
    std::fprintf(stderr, "login failed\n");
    return 1;
  }
  const auto measured_from = aterm::bench::sample_cpu();
  // stolen: the percentage of the machine's CPU the hypervisor took while that kind was called.
  std::printf("\n%-38s %5s %9s %9s %9s %9s %9s %9s %8s %5s %6s\n", "call", "n", "srv_p50",
              "srv_p99", "srv_max", "rtt_p50", "rtt_p99", "rtt_max", "bytes", "fail", "stolen");
  std::printf("%-38s %5s %9s %9s %9s %9s %9s %9s %8s %5s %6s\n", "", "", "ms", "ms", "ms", "ms",
              "ms", "ms", "", "", "%");
  {
    figures f;
    for (std::size_t i = 0; i < opt.calls; ++i) timed(c, f, "devices");
    print("devices: first page (50)", f);
  }
  print("devices: cursor walk, 500 a page", walk(c, "devices?limit=500", opt.calls));
  print("devices: online, 500 a page", walk(c, "devices?online=true&limit=500", opt.calls));
  print("devices: offline, 500 a page", walk(c, "devices?online=false&limit=500", opt.calls));
  print("devices: unknown, 500 a page", walk(c, "devices?online=unknown&limit=500", opt.calls));
  print("devices: search \"77\", 100 a page", walk(c, "devices?q=77&limit=100", opt.calls));
  print("devices: model, 50 a page", walk(c, "devices?model=WX3", opt.calls));
  print("devices: tag, 50 a page", walk(c, "devices?tag=floor1", opt.calls));
  {
    // Destination number 0 ("default") is the company's first.
    auto d = c.request("GET", "destinations");
    std::string first;
    const cJSON* list =
        d.json ? cJSON_GetObjectItemCaseSensitive(d.json.get(), "destinations") : nullptr;
    for (const cJSON* x = list ? list->child : nullptr; x != nullptr; x = x->next) {
      const cJSON* name = cJSON_GetObjectItemCaseSensitive(x, "name");
      const cJSON* id = cJSON_GetObjectItemCaseSensitive(x, "id");
      if (cJSON_IsString(name) && std::string(name->valuestring) == "default" &&
          cJSON_IsNumber(id)) {
        first = std::to_string(static_cast<long long>(id->valuedouble));
      }
    }
    print("devices: destination + online + model",
          walk(c, "devices?destination=" + first + "&online=true&model=WX0", opt.calls));
    print("devices: tag + online, 50 a page", walk(c, "devices?tag=floor1&online=true", opt.calls));
  }
  print("devices: search, no match", walk(c, "devices?q=zz&limit=100", opt.calls));
  {
    figures detail;
    figures history;
    for (std::size_t i = 0; i < opt.calls; ++i) {
      // Spread over the fleet, with state (online and offline routers have history).
      const std::string id = router_id((i * 7919 * 10) % opt.devices);
      timed(c, detail, "devices/" + id);
      timed(c, history, "devices/" + id + "/history");
    }
    print("device detail", detail);
    print("device history", history);
  }
  {
    figures f;
    std::string before;
    for (std::size_t i = 0; i < opt.calls; ++i) {
      const std::string path =
          "audit?order=newest&limit=100" + (before.empty() ? "" : "&before_seq=" + before);
      timed(c, f, path, [&](const t::http_answer& a) { before = cursor_of(a, "next_before_seq"); });
    }
    print("access log: newest first, 100 a page", f);
  }
  {
    figures f;
    std::string after;
    for (std::size_t i = 0; i < opt.calls; ++i) {
      const std::string path =
          "audit?action=command.create&limit=100" + (after.empty() ? "" : "&after_seq=" + after);
      timed(c, f, path, [&](const t::http_answer& a) { after = cursor_of(a, "next_after_seq"); });
    }
    print("access log: one action, 100 a page", f);
  }
  std::printf("the calls above: %s\n", aterm::bench::stolen_since(measured_from).c_str());
  if (opt.postgres) {
    std::printf("the calls above: %lld autovacuum or autoanalyze runs ended among them\n",
                static_cast<long long>(autovacuum_runs(db) - autovacuum_before));
  }
  s.stop_cloud();
  if (!time_sweep(db, opt.calls / 10)) return 1;
  std::printf("%s\n", aterm::bench::host_load().c_str());
  return 0;
}
