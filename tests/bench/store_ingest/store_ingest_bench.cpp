// Ingest figures of the real store alone (the bridge's decode-and-batch is measured by
// bench_bridge_ingest, the whole stack by bench_ingest): apply_batch of realistic device messages
// on a database opened as `aterm-cloud serve` opens it (default options: on SQLite WAL and
// synchronous FULL, on PostgreSQL a pool of 4 connections; 288 history rows per device; either
// engine relaxes durability for state-only batches). Prints figures only; never pass or fail.
//
//   bench_store_ingest [--db-dir DIR | --db URI-or-path | --postgres] [--devices N]
//                      [--messages M] [--history-fill K]
//
//   --db-dir        folder of a new SQLite database file (default: a new folder under /tmp, on
//                   disk; /dev/shm takes the disk's syncs out of the figures); removed at exit
//   --db            the store's database as the `db` setting names it: a file path (SQLite) or
//                   a postgresql:// URI (PostgreSQL). It must be empty (a file not yet there, a
//                   database without tables) and is left in place
//   --postgres      a throwaway PostgreSQL 15 cluster for the run (the tests' pg_cluster:
//                   initdb in a temp folder under /tmp, on disk, fsync on; a free port of
//                   127.0.0.1), stopped and removed at exit
//   --devices       devices registered in one company (default 1000)
//   --messages      messages per phase and batch size (default 50000)
//   --history-fill  state rows stored per device before timing (default 288, the bound, so every
//                   timed state also trims one; 0 = start empty)
//
// State payloads come from the agent's sim backend and the protocol encoder, as `aterm-agent
// simulate` publishes them. Phases, each with batches of 50, 200 and 1000 messages:
//   state  state snapshots only, the devices round-robin (the steady fleet)
//   mixed  per 100 messages: 90 states, 6 presence (online), 3 results (final, for commands
//          created and marked sent before the batch, untimed), 1 boot event
// Each line: messages/s over the time spent in apply_batch, and the mean/p50/p99/max time of one
// apply_batch call (begin to commit), its wall time per message and the CPU time per message of
// the calling thread (without the waits for the disk and for other processes).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <time.h>
#include <unistd.h>

#include "../bench_figures.h"
#include "aterm/agent/backend.h"
#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/store.h"
#include "aterm/common/clock.h"
#include "aterm/common/protocol.h"
#include "aterm/test/pg_cluster.h"
#include "aterm/test/support.h"

using aterm::bench::parse_size;
using aterm::bench::percentile;

namespace {

namespace fs = std::filesystem;
namespace bridge = aterm::bridge;
namespace cloud = aterm::cloud;
namespace protocol = aterm::common::protocol;
using clock_type = std::chrono::steady_clock;

struct options {
  std::string db_dir;
  std::string db;
  bool postgres = false;
  std::size_t devices = 1000;
  std::size_t messages = 50'000;
  std::size_t history_fill = cloud::limits::k_state_history_per_device;
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
    if (a == "--db-dir") {
      o.db_dir = v;
    } else if (a == "--db") {
      if (*v == '\0') return false;
      o.db = v;
    } else if (a == "--devices") {
      if (!parse_size(v, o.devices) || o.devices == 0) return false;
    } else if (a == "--messages") {
      if (!parse_size(v, o.messages) || o.messages == 0) return false;
    } else if (a == "--history-fill") {
      if (!parse_size(v, o.history_fill)) return false;
    } else {
      return false;
    }
  }
  // One place for the database.
  return (o.db_dir.empty() ? 0 : 1) + (o.db.empty() ? 0 : 1) + (o.postgres ? 1 : 0) <= 1;
}

std::string device_name(std::size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "bench-r%06zu", i);
  return buf;
}

// Builds the device messages: state snapshots from the agent's sim backend, each device with its
// own sequence, received now.
class message_source {
 public:
  message_source(std::unique_ptr<aterm::agent::backend> sim, std::size_t devices,
                 const aterm::common::clock& clock)
      : sim_(std::move(sim)), seq_(devices, 0), clock_(clock) {}

  bridge::device_message state(std::size_t device) {
    auto snap = sim_->read_state();
    snap.ts = clock_.now_s();
    snap.seq = ++seq_[device];
    std::string payload = protocol::encode(snap);
    return {device_name(device), protocol::topic_kind::state, clock_.now_ms(), std::move(payload),
            std::move(snap)};
  }

  bridge::device_message presence(std::size_t device) {
    protocol::presence p{true, "1.0.0", clock_.now_s()};
    return {device_name(device), protocol::topic_kind::presence, clock_.now_ms(),
            protocol::encode(p), p};
  }

  bridge::device_message result(std::size_t device, const std::string& command_id) {
    protocol::command_result r{command_id, protocol::result_status::ok, "{\"pong\":true}", ""};
    return {device_name(device), protocol::topic_kind::result, clock_.now_ms(), protocol::encode(r),
            r};
  }

  bridge::device_message boot(std::size_t device) {
    protocol::event e{clock_.now_s(), "boot", "{}"};
    return {device_name(device), protocol::topic_kind::event, clock_.now_ms(), protocol::encode(e),
            e};
  }

 private:
  std::unique_ptr<aterm::agent::backend> sim_;
  std::vector<std::int64_t> seq_;
  const aterm::common::clock& clock_;
};

// CPU time of this thread: unlike the wall time it does not count waits for the disk or for
// other processes on a busy host.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

struct figures {
  std::size_t messages = 0;
  std::vector<double> batch_ms;
  double cpu_ms = 0;
  std::size_t dropped = 0;
};

void print(const char* phase, std::size_t size, const figures& f) {
  double total_ms = 0;
  for (double ms : f.batch_ms) total_ms += ms;
  double mean = f.batch_ms.empty() ? 0 : total_ms / static_cast<double>(f.batch_ms.size());
  double rate = total_ms > 0 ? static_cast<double>(f.messages) * 1000.0 / total_ms : 0;
  std::printf("%-6s %6zu %8zu %10.0f %9.3f %9.3f %9.3f %9.3f %8.1f %8.1f %7zu\n", phase, size,
              f.batch_ms.size(), rate, mean, percentile(f.batch_ms, 0.5),
              percentile(f.batch_ms, 0.99), percentile(f.batch_ms, 1.0),
              mean * 1000.0 / static_cast<double>(size),
              f.cpu_ms * 1000.0 / static_cast<double>(f.messages), f.dropped);
  std::fflush(stdout);
}

bool apply_timed(cloud::store& s, const std::vector<bridge::device_message>& batch, figures& f) {
  auto t0 = clock_type::now();
  double cpu0 = thread_cpu_ms();
  auto r = s.apply_batch(batch);
  f.cpu_ms += thread_cpu_ms() - cpu0;
  auto ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
  if (!r.ok()) {
    std::fprintf(stderr, "apply_batch failed: %s\n", r.error().to_string().c_str());
    return false;
  }
  f.messages += batch.size();
  f.batch_ms.push_back(ms);
  f.dropped += r->dropped_result_devices.size();
  return true;
}

// Commands for `devices`, created (a result ends a queued command as it ends a sent one): their
// results are then real final results.
bool open_commands(cloud::store& s, const std::vector<std::size_t>& devices,
                   const aterm::common::clock& clock, std::vector<std::string>& ids) {
  ids.clear();
  for (auto d : devices) {
    cloud::new_command c{device_name(d), "ping", "{}", clock.now_s() + 600, "bench"};
    auto r = s.create_command("bench", c);
    if (!r.ok()) {
      std::fprintf(stderr, "create_command failed: %s\n", r.error().to_string().c_str());
      return false;
    }
    ids.push_back(r->id);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  if (!parse_args(argc, argv, opt)) {
    std::fprintf(stderr,
                 "usage: bench_store_ingest [--db-dir DIR | --db URI-or-path | --postgres] "
                 "[--devices N] [--messages M] [--history-fill K]\n");
    return 2;
  }
  auto& clock = aterm::common::system_clock::instance();
  aterm::test::temp_dir tmp("bench-store-ingest");
  std::unique_ptr<aterm::test::pg_cluster> cluster;
  cloud::store_options so;  // as `aterm-cloud serve` opens it: every default
  so.rules = aterm::cloud::security::rules_for_store();
  // A database file this run creates, removed at exit; "" when the database is not ours to remove.
  fs::path own_file;
  if (opt.postgres) {
    try {
      cluster = std::make_unique<aterm::test::pg_cluster>();
      so.db = cluster->create_database("bench_store_ingest");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "postgres: %s\n", e.what());
      return 1;
    }
  } else if (!opt.db.empty()) {
    so.db = opt.db;
  } else {
    const fs::path dir = opt.db_dir.empty() ? tmp.path() : fs::path(opt.db_dir);
    own_file = dir / ("bench-store-" + std::to_string(::getpid()) + ".db");
    so.db = own_file.string();
  }
  auto opened = cloud::open_store(so, clock);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.error().to_string().c_str());
    return 1;
  }
  std::unique_ptr<cloud::store> store = std::move(opened).value();

  auto sim = aterm::agent::make_sim_backend({tmp / "sim.json", device_name(0)}, clock);
  if (!sim.ok()) {
    std::fprintf(stderr, "sim backend: %s\n", sim.error().to_string().c_str());
    return 1;
  }
  message_source src(std::move(*sim), opt.devices, clock);

  auto t_setup = clock_type::now();
  if (!store->create_company("bench", "Bench").ok()) return 1;
  auto dest = store->ensure_destination("bench", "default");
  if (!dest.ok()) return 1;
  for (std::size_t i = 0; i < opt.devices; ++i) {
    if (auto r = store->register_device("bench", device_name(i), dest->id); !r.ok()) {
      std::fprintf(stderr, "register: %s\n", r.error().to_string().c_str());
      return 1;
    }
  }
  auto setup_s = std::chrono::duration<double>(clock_type::now() - t_setup).count();

  if (cloud::db_is_server(so.db))
    std::printf("engine postgresql, database %s (pool %zu, history %zu per device)\n",
                cloud::printable_db(so.db).c_str(), so.pool_size,
                cloud::limits::k_state_history_per_device);
  else
    std::printf("engine sqlite, database %s (synchronous FULL, history %zu per device)\n",
                so.db.c_str(), cloud::limits::k_state_history_per_device);
  std::printf("%zu devices registered in %.2f s; state payload %zu bytes\n", opt.devices, setup_s,
              src.state(0).payload.size());

  // History filled to the bound, so the timed phases see the steady state (every stored state
  // pushes one old row out).
  if (opt.history_fill > 0) {
    figures fill;
    std::vector<bridge::device_message> batch;
    for (std::size_t round = 0; round < opt.history_fill; ++round) {
      for (std::size_t d = 0; d < opt.devices; ++d) {
        batch.push_back(src.state(d));
        if (batch.size() == 1000) {
          if (!apply_timed(*store, batch, fill)) return 1;
          batch.clear();
        }
      }
    }
    if (!batch.empty() && !apply_timed(*store, batch, fill)) return 1;
    double total_ms = 0;
    for (double ms : fill.batch_ms) total_ms += ms;
    std::printf("history filled: %zu states in %.1f s (%.0f msg/s, batches of 1000)\n",
                fill.messages, total_ms / 1000.0,
                static_cast<double>(fill.messages) * 1000.0 / total_ms);
  }

  std::printf("\n%-6s %6s %8s %10s %9s %9s %9s %9s %8s %8s %7s\n", "phase", "batch", "batches",
              "msg/s", "mean_ms", "p50_ms", "p99_ms", "max_ms", "us/msg", "cpu_us", "dropped");
  std::size_t next_device = 0;
  auto next = [&] {
    std::size_t d = next_device;
    next_device = (next_device + 1) % opt.devices;
    return d;
  };
  for (std::size_t size : {std::size_t{50}, std::size_t{200}, std::size_t{1000}}) {
    figures f;
    for (std::size_t sent = 0; sent < opt.messages; sent += size) {
      std::vector<bridge::device_message> batch;
      batch.reserve(size);
      for (std::size_t i = 0; i < size; ++i) batch.push_back(src.state(next()));
      if (!apply_timed(*store, batch, f)) return 1;
    }
    print("state", size, f);
  }
  // The kind of message at each position of every 100 in a mixed batch.
  auto mixed_kind = [](std::size_t i) {
    switch (i % 100) {
      case 10:
      case 30:
      case 50:
      case 70:
      case 80:
      case 90:
        return protocol::topic_kind::presence;
      case 20:
      case 60:
      case 95:
        return protocol::topic_kind::result;
      case 40:
        return protocol::topic_kind::event;
      default:
        return protocol::topic_kind::state;
    }
  };
  for (std::size_t size : {std::size_t{50}, std::size_t{200}, std::size_t{1000}}) {
    figures f;
    std::vector<std::string> ids;
    for (std::size_t sent = 0; sent < opt.messages; sent += size) {
      std::vector<std::size_t> order(size);
      std::vector<std::size_t> with_result;
      for (std::size_t i = 0; i < size; ++i) {
        order[i] = next();
        if (mixed_kind(i) == protocol::topic_kind::result) with_result.push_back(order[i]);
      }
      if (!open_commands(*store, with_result, clock, ids)) return 1;
      std::vector<bridge::device_message> batch;
      batch.reserve(size);
      std::size_t k = 0;
      for (std::size_t i = 0; i < size; ++i) {
        switch (mixed_kind(i)) {
          case protocol::topic_kind::presence:
            batch.push_back(src.presence(order[i]));
            break;
          case protocol::topic_kind::result:
            batch.push_back(src.result(order[i], ids[k++]));
            break;
          case protocol::topic_kind::event:
            batch.push_back(src.boot(order[i]));
            break;
          default:
            batch.push_back(src.state(order[i]));
        }
      }
      if (!apply_timed(*store, batch, f)) return 1;
    }
    print("mixed", size, f);
  }

  store.reset();
  if (!own_file.empty()) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ec;
      fs::remove(own_file.string() + suffix, ec);
    }
  }
  return 0;
}
