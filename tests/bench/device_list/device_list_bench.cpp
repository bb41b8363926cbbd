// Figures of the device list (store::list_devices, what GET /devices runs) at a fleet's size:
// every page of a walk through the cursor, for each fleet filter alone and combined, on a
// database opened as `aterm-cloud serve` opens it. The time of a page is the store call: the
// server time of one GET /devices less its JSON. Prints figures only; never pass or fail.
//
//   bench_device_list [--postgres] [--devices N] [--pages P]
//
//   --postgres  a throwaway PostgreSQL 15 cluster (the tests' pg_cluster) instead of a SQLite
//               file under /tmp
//   --devices   routers of the company measured (default 100000); another company holds a
//               seventh as many, sorted between them
//   --pages     at most this many pages walked per filter (default 50)
//
// The routers: 5 models, 8 firmware versions, 10 destinations, presence online/offline/unknown,
// last seen over 30 days, WAN addresses in 256 /16 networks. Each line: the filter, pages
// walked, devices answered, and the mean/p50/p99/max milliseconds of one page.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include "../bench_figures.h"
#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/store.h"
#include "aterm/common/clock.h"
#include "aterm/test/pg_cluster.h"
#include "aterm/test/sql.h"
#include "aterm/test/support.h"

namespace {

namespace cloud = aterm::cloud;
using clock_type = std::chrono::steady_clock;

constexpr std::int64_t k_now_ms = 1'800'000'000'000;

struct options {
  bool postgres = false;
  int devices = 100000;
  int pages = 50;
};

// The fill, one statement per engine: i is the router's number.
std::string fill_sql(bool postgres, int n, std::int64_t first_destination) {
  const std::string cols =
      "'WX' || (i % 5), '1.' || (i % 8) || '.0', " + std::to_string(first_destination) +
      " + (i % 10), CASE WHEN i % 10 = 0 THEN 'online' WHEN i % 10 <= 3 THEN 'offline' ELSE "
      "'unknown' END, " +
      std::to_string(k_now_ms) + " - CAST(i % 30 AS BIGINT) * 86400000 - i, " +
      "'10.' || (i % 256) || '.' || (i / 256 % 256) || '.1', 0";
  const std::string insert =
      "INSERT INTO devices(id, company_id, model, firmware, destination_id, presence, "
      "last_seen_ms, wan_ip, registered_at_s) ";
  if (postgres) {
    return "BEGIN;" + insert + "SELECT 'dev-' || lpad(i::text, 6, '0'), 'acme', " + cols +
           " FROM generate_series(0, " + std::to_string(n - 1) + ") AS i;" + insert +
           "SELECT 'dev-' || lpad(i::text, 6, '0') || '-g', 'globex', " + cols +
           " FROM generate_series(0, " + std::to_string(n - 1) + ", 7) AS i;COMMIT;ANALYZE;";
  }
  return "BEGIN;WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < " +
         std::to_string(n - 1) + ") " + insert + "SELECT printf('dev-%06d', i), 'acme', " + cols +
         " FROM n;WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 7 FROM n WHERE i < " +
         std::to_string(n - 7) + ") " + insert + "SELECT printf('dev-%06d-g', i), 'globex', " +
         cols + " FROM n;COMMIT;ANALYZE;";
}

}  // namespace

static int usage() {
  std::fprintf(stderr, "usage: bench_device_list [--postgres] [--devices N] [--pages P]\n");
  return 2;
}

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--postgres") {
      opt.postgres = true;
    } else if (a == "--devices" && i + 1 < argc) {
      std::size_t n = 0;
      if (!aterm::bench::parse_size(argv[++i], n) || n < 7) return usage();
      opt.devices = static_cast<int>(n);
    } else if (a == "--pages" && i + 1 < argc) {
      std::size_t n = 0;
      if (!aterm::bench::parse_size(argv[++i], n) || n < 1) return usage();
      opt.pages = static_cast<int>(n);
    } else {
      return usage();
    }
  }
  aterm::test::temp_dir tmp("bench-device-list");
  std::unique_ptr<aterm::test::pg_cluster> cluster;
  cloud::store_options so;
  so.rules = aterm::cloud::security::rules_for_store();
  if (opt.postgres) {
    try {
      cluster = std::make_unique<aterm::test::pg_cluster>();
      so.db = cluster->create_database("bench_device_list");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "postgres: %s\n", e.what());
      return 1;
    }
  } else {
    so.db = (tmp.path() / "bench.db").string();
  }
  aterm::common::manual_clock clock{aterm::common::from_unix_ms(k_now_ms)};
  auto opened = cloud::open_store(so, clock);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.error().to_string().c_str());
    return 1;
  }
  auto store = std::move(opened).value();
  if (!store->create_company("acme", "Acme").ok() ||
      !store->create_company("globex", "Globex").ok()) {
    std::fprintf(stderr, "companies not created\n");
    return 1;
  }
  std::int64_t first_destination = 0;
  for (int d = 0; d < 10; ++d) {
    auto dest = store->create_destination("acme", "dest-" + std::to_string(d), "{}");
    if (!dest.ok()) return 1;
    if (d == 0) first_destination = dest->id;
  }
  const auto fill_start = clock_type::now();
  auto err = aterm::test::exec_sql(so.db, fill_sql(opt.postgres, opt.devices, first_destination));
  if (!err.empty()) {
    std::fprintf(stderr, "fill: %s\n", err.c_str());
    return 1;
  }
  std::printf("engine %s, %d routers (+%d of another company), filled in %.1f s\n",
              opt.postgres ? "postgresql" : "sqlite", opt.devices, opt.devices / 7,
              std::chrono::duration<double>(clock_type::now() - fill_start).count());

  struct filter {
    const char* name;
    cloud::device_query q;
  };
  auto make = [](auto&& set) {
    cloud::device_query q;
    q.limit = 50;
    set(q);
    return q;
  };
  const filter filters[] = {
      {"none", make([](cloud::device_query&) {})},
      {"online", make([](auto& q) { q.presence = cloud::presence_state::online; })},
      {"model", make([](auto& q) { q.model = "WX3"; })},
      {"firmware", make([](auto& q) { q.firmware = "1.5.0"; })},
      {"destination", make([&](auto& q) { q.destination_id = first_destination + 4; })},
      {"wan_prefix 10.7.", make([](auto& q) { q.wan_prefix = "10.7."; })},
      {"last seen in the last 3 days",
       make([](auto& q) { q.last_seen_after_ms = k_now_ms - 3 * 86400000LL; })},
      {"model + firmware", make([](auto& q) {
         q.model = "WX3";
         q.firmware = "1.3.0";
       })},
      {"destination + online + model", make([&](auto& q) {
         q.destination_id = first_destination + 0;
         q.presence = cloud::presence_state::online;
         q.model = "WX0";
       })},
      {"firmware + last seen before 20 days + wan 10.1", make([](auto& q) {
         q.firmware = "1.1.0";
         q.last_seen_before_ms = k_now_ms - 20 * 86400000LL;
         q.wan_prefix = "10.1";
       })},
      {"no match: model WX9", make([](auto& q) { q.model = "WX9"; })},
      {"search 777 + online", make([](auto& q) {
         q.q = "777";
         q.presence = cloud::presence_state::online;
       })},
  };
  std::printf("%-48s %6s %8s %8s %8s %8s %8s\n", "filter (50 per page)", "pages", "devices",
              "mean_ms", "p50_ms", "p99_ms", "max_ms");
  for (const auto& f : filters) {
    auto q = f.q;
    std::vector<double> ms;
    std::size_t devices = 0;
    for (int p = 0; p < opt.pages; ++p) {
      const auto start = clock_type::now();
      auto page = store->list_devices("acme", q);
      ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - start).count());
      if (!page.ok()) {
        std::fprintf(stderr, "%s: %s\n", f.name, page.error().to_string().c_str());
        return 1;
      }
      devices += page->devices.size();
      if (page->next_cursor.empty()) break;
      q.cursor = page->next_cursor;
    }
    double sum = 0;
    for (double v : ms) sum += v;
    std::printf("%-48s %6zu %8zu %8.2f %8.2f %8.2f %8.2f\n", f.name, ms.size(), devices,
                sum / static_cast<double>(ms.size()), aterm::bench::percentile(ms, 0.5),
                aterm::bench::percentile(ms, 0.99), *std::max_element(ms.begin(), ms.end()));
  }
  return 0;
}
