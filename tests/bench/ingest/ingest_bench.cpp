// Ingest benchmark of the whole product (issue 4): a simulated fleet publishing state against a
// real Mosquitto and a real `aterm-cloud serve`, measured against a do-nothing subscriber on the
// same broker in the same run. A benchmark: it prints figures and never fails on them; it exits
// non-zero only when it cannot measure. Not registered with CTest.
//
// Run from a build directory (a release-ish build, e.g. RelWithDebInfo):
//   cmake --build . --target bench_ingest && tests/bench/ingest/bench_ingest [options]
// Options:
//   --phases LIST      fleets to measure in order, each ROUTERS or ROUTERS@INTERVAL_MS (every
//                      router publishes one state snapshot per interval; default interval
//                      1000 ms). Default 1000,2000,5000,10000. A later phase adds routers to
//                      the running fleet; a phase stops the run when its fleet does not
//                      connect, the daemon dies, or memory runs low.
//   --warmup-s S       steady time after the fleet connected, before the window (default 10)
//   --window-s S       measured window (default 30)
//   --commands N       command round trips per phase, API and raw MQTT each (default 200)
//   --poll-ms MS       pause between two status GETs of an API round trip (default 1)
//   --connect-per-s N  simulate.connect_per_s (default 200)
//   --no-nagle         skip the raw round trip without TCP_NODELAY (phase 1 only otherwise)
//   --routers-per-process N  simulate processes of at most N routers (default 500, maximum
//                      10,000). Each process has one Paho send/receive thread pair for all its
//                      routers, and Paho's receive thread does work per client on every turn:
//                      with 2,500 routers a process stopped connecting at ~1,650 (4 processes
//                      held 6,589 of 10,000 after 8 minutes, their main threads waiting for
//                      Paho's lock while its receive thread ran). A router holds two
//                      descriptors: simulate refuses a count RLIMIT_NOFILE's hard limit cannot
//                      hold (10,000 need ~20,064; this host allows 20,000).
//   --routers-on-disk  keep the simulated routers' data folders (command journal, outbox,
//                      certificates) in the temp folder on disk instead of /dev/shm
//   --db-dir DIR       put the daemon's SQLite file in the (existing) folder DIR instead of the
//                      temp folder, e.g. /dev/shm to see the ingest without disk syncs (the
//                      file and its -wal/-shm are removed at exit)
//   --db URI-or-path   the daemon's `db` setting as it is: a file path (SQLite) or a
//                      postgresql:// URI (PostgreSQL). The database must be empty (a file not
//                      yet there, a database without tables); it is left in place
//   --postgres         run the daemon on a throwaway PostgreSQL 15 cluster (the tests'
//                      pg_cluster: initdb in a temp folder under /tmp, on disk, fsync on; a free
//                      port of 127.0.0.1), stopped and removed at exit
//                      (--db-dir, --db and --postgres exclude each other; default: SQLite)
//   --batch-delay-ms MS  the daemon's mqtt.batch_delay_ms: a batch waits MS after its first
//                     message, as the bridge did before group commit (default 0: commit what
//                     is queued as soon as the last commit ended)
//   --dispatch-poll-ms MS  the daemon's mqtt.dispatch_poll_ms (default 1000, the daemon's own):
//                      a command the API's notice did not send goes out at the next poll
//   --max-minutes M    start no phase after M minutes (default 40)
//   --broker-restart term|kill  after the last phase, stop Mosquitto with SIGTERM (a restart)
//                      or SIGKILL (a crash: no Last Will) under the connected fleet and start it
//                      again on the same port; prints the time until the API shows every router
//                      online, and online with a state stored after the restart, the broker's
//                      peak CPU, the routers not back, and the daemon's RSS
//   --restart-limit-s S  how long to follow the fleet back after the restart (default 300)
//   --quick            one phase of 200 routers, 3 s warm-up, 10 s window, 50 commands (< 60 s)
//
// Set-up, all in a temp folder removed at exit (also on Ctrl-C / SIGTERM): scripts/dev-pki init,
// two extra cloud identities (scripts/dev-pki cloud: aterm-cloud-bench-sub for the subscriber,
// aterm-cloud-bench-rt for the raw round trip), scripts/broker on a free port, `aterm-cloud admin
// init` + company `bench` + an administrator, `aterm-cloud serve` with the production defaults
// (batch_max 1000, batch_delay_ms 0: group commit, dispatch_poll_ms 1000; only jobs.tick_ms is
// shortened, see below), the fleet registered through POST /api/v1/destinations/{id}/devices, then
// `aterm-agent simulate` processes of at most 10,000 routers each (certificates minted in memory
// from the dev CA; reconnect.cap_s 15 instead of 300, so a router whose TLS handshake timed out
// during the ramp on a loaded host retries soon). The routers' data folders are on /dev/shm by
// default: an agent fdatasyncs its command journal and outbox for every command (~6 ms per call on
// this host's shared disk), which is the router's flash, not the cloud's cost; the cloud's SQLite
// file stays on disk.
//
// Figures of each phase:
//   offered/s      connected routers x 1000 / interval_ms: what the fleet is asked to publish.
//                  A phase whose fleet connects only partly (stalled, see --phases) is
//                  measured as it is when at least half connected; below that the run stops.
//   subscriber/s   state messages a do-nothing QoS 1 subscriber (aterm/v1/+/state, a separate
//                  process of this program on Paho C, counting in its callback) received over
//                  the window.
//   bridge recv/s  messages the bridge's MQTT client delivered into its ingest queue over the
//                  window (aterm_bridge_received_total): the broker's delivery to the bridge.
//   stored/s       state messages the bridge committed to SQLite over the same window
//                  (aterm_bridge_ingested_total{kind="state"}); ratio = stored / subscriber,
//                  the issue's target is >= 0.9.
//   overload       state snapshots the bridge's ingest queue replaced by a newer one of the same
//                  device (aterm_bridge_states_coalesced_total) and shed because the queue was
//                  full (aterm_bridge_states_shed_total), per second over the window: what the
//                  overload policy gave up so that results and presence keep moving.
//   batch          mean messages per committed batch; age = mean time from a batch's first
//                  message received to its commit, commit = mean time inside apply_batch (both
//                  from the bridge's *_us_total counters over the window); age max is the
//                  daemon's lifetime maximum. The daemon exports sums and maxima, no histogram,
//                  so no batch-latency percentile is printed.
//                  The daemon copies the bridge's counters into /metrics every jobs.tick_ms,
//                  set to 100 ms here (default 1 s) so both ends of a 30 s window are fresh to
//                  within 0.3 %.
//   cmd p50/p99    API command round trip: POST /api/v1/devices/{id}/commands {"op":"ping"}
//                  sent -> GET /api/v1/commands/{id} answering a final status, polled every
//                  1 ms on one keep-alive HTTPS connection (TCP_NODELAY), sequentially, over
//                  the fleet's routers while the fleet publishes.
//   raw p50/p99    the same ping straight over MQTT: the bench identity publishes a protocol
//                  command to aterm/v1/{id}/cmd and waits for aterm/v1/{id}/result, TCP_NODELAY
//                  on its socket (the broker and the agents set it on theirs). The bridge
//                  drops these results as unknown commands (aterm_bridge_dropped_total).
//   raw (Nagle)    phase 1 only: the same with the bench client's socket left at the library
//                  default (Paho C sets no TCP_NODELAY), before the option is set.
//   RSS, CPU%      resident memory at the end of the window and CPU over the window of the
//                  daemon, Mosquitto, the simulate processes and the subscriber (100% = 1 core).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../bench_figures.h"
#include "aterm/cloud/security/session_policy.h"
#include "aterm/cloud/store.h"
#include "aterm/common/claim_code.h"
#include "aterm/common/json.h"
#include "aterm/common/protocol.h"
#include "aterm/common/tcp_nodelay.h"
#include "aterm/test/https_client.h"
#include "aterm/test/pg_cluster.h"
#include "aterm/test/support.h"
#include "mqtt_probe.h"

namespace {

namespace fs = std::filesystem;
namespace proto = aterm::common::protocol;
using aterm::bench::mqtt_identity;
using aterm::bench::mqtt_probe;
using aterm::bench::proc_sample;
using aterm::bench::sample_proc;
using aterm::test::https_client;
using aterm::test::process;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// aterm-agent simulate runs at most this many routers per process (agent limits.h
// k_max_simulated); larger fleets run several processes.
constexpr int k_max_routers_per_process = 10000;
// The default size of a simulate process (see --routers-per-process).
constexpr int k_default_routers_per_process = 500;
// Device registration: the API takes at most this many ids per request (cloud limits k_max_page).
constexpr std::size_t k_register_chunk = 500;
// A fleet that gains less than 1 % of its routers in this long has stopped connecting.
constexpr auto k_connect_stall = std::chrono::seconds(60);
// How long the first router of new simulate processes may take to connect: each process mints
// the certificates of all its routers before the first connects (an EC key and a signature
// each, ~10 ms of CPU; 2,500 routers took ~3 minutes on a loaded 2-core host).
constexpr auto k_first_connect_max = std::chrono::minutes(10);
// The longest a fleet may take to connect, however steadily it progresses.
constexpr auto k_connect_max = std::chrono::minutes(30);
// The longest the API round trips of one phase may take (a command that times out costs 35 s).
constexpr auto k_round_trip_budget = std::chrono::seconds(120);
// Below this much available memory no further phase starts.
constexpr long k_min_available_mb = 1500;
// Descriptors Mosquitto holds beside one per router: the bridge, the subscriber, the probes, its
// listener, log and persistence files.
constexpr rlim_t k_broker_reserved_descriptors = 64;

// ---- interruption -------------------------------------------------------------------------

std::atomic<int> g_signal{0};

extern "C" void on_signal(int sig) {
  g_signal = sig;
}

struct interrupted : std::runtime_error {
  interrupted() : std::runtime_error("interrupted") {}
};

void check_interrupt() {
  if (g_signal != 0) throw interrupted();
}

// The window of a measurement, not synchronisation: wakes every 50 ms to honour Ctrl-C.
void pause_for(std::chrono::milliseconds d) {
  const auto end = steady::now() + d;
  while (steady::now() < end) {
    check_interrupt();
    std::this_thread::sleep_for(std::min<steady::duration>(50ms, end - steady::now()));
  }
}

// Waits for `cond` until `timeout`; throws on Ctrl-C.
bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
              std::chrono::milliseconds step = 50ms) {
  return aterm::test::wait_until(
      [&] {
        check_interrupt();
        return cond();
      },
      timeout, step);
}

double seconds(steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

// ---- the subscriber's counters, shared with its process through a mapped file --------------

struct sub_counters {
  std::atomic<std::uint64_t> state{0};      // state messages received
  std::atomic<std::uint64_t> online{0};     // devices whose last presence says online
  std::atomic<std::uint64_t> ready{0};      // 1 once subscribed
  std::atomic<std::uint64_t> connected{0};  // 1 while connected
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

class counter_file {
 public:
  counter_file(const fs::path& path, bool create) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0600);
    if (fd_ < 0) throw std::runtime_error("open " + path.string() + ": " + std::strerror(errno));
    if (create && ::ftruncate(fd_, 4096) != 0)
      throw std::runtime_error("ftruncate " + path.string());
    void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap " + path.string());
    // A zero-filled page is a valid sub_counters of zeros (lock-free atomics of integers).
    c_ = static_cast<sub_counters*>(p);
  }
  ~counter_file() {
    ::munmap(c_, 4096);
    ::close(fd_);
  }
  counter_file(const counter_file&) = delete;
  counter_file& operator=(const counter_file&) = delete;
  sub_counters& operator*() { return *c_; }
  sub_counters* operator->() { return c_; }

 private:
  int fd_ = -1;
  sub_counters* c_ = nullptr;
};

// `bench_ingest --subscriber URI CA CERT KEY CLIENT_ID FILE`: the do-nothing subscriber, in a
// process of its own so its receive thread shares nothing with the round-trip client.
int run_subscriber(char** argv) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  // Blocked before Paho starts its threads, so they inherit the mask and sigtimedwait gets it.
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  counter_file c(argv[7], false);
  std::unordered_map<std::string, bool> online;  // Paho's receive thread only
  mqtt_probe p(
      mqtt_identity{argv[2], argv[3], argv[4], argv[5], argv[6]},
      [&](std::string_view topic, std::string_view payload) {
        if (topic.ends_with("/state")) {
          c->state.fetch_add(1, std::memory_order_relaxed);
          return;
        }
        constexpr std::string_view root = "aterm/v1/", tail = "/presence";
        if (!topic.ends_with(tail) || topic.size() <= root.size() + tail.size()) return;
        const bool on = payload.find("\"online\":true") != std::string_view::npos;
        auto [it, added] = online.try_emplace(
            std::string(topic.substr(root.size(), topic.size() - root.size() - tail.size())),
            false);
        if (it->second == on) return;
        it->second = on;
        if (on)
          c->online.fetch_add(1);
        else
          c->online.fetch_sub(1);
      });
  p.subscribe({"aterm/v1/+/state", "aterm/v1/+/presence"});
  c->connected = 1;
  c->ready = 1;
  timespec tick{0, 200'000'000};
  while (sigtimedwait(&set, nullptr, &tick) < 0) c->connected = p.connected() ? 1 : 0;
  return 0;
}

// ---- /proc ------------------------------------------------------------------------------------

// The 1-minute load average: the host is shared, so figures come with it.
double load_average() {
  std::ifstream in("/proc/loadavg");
  double v = std::nan("");
  in >> v;
  return v;
}

long available_mb() {
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("MemAvailable:"))
      return std::strtol(line.c_str() + 13, nullptr, 10) / 1024;
  return LONG_MAX;
}

// Mosquitto's pid: scripts/broker execs it, but the support library keeps the process private,
// so it is found by its configuration file.
// Waits until process `pid` has ended (gone, or a zombie whose descriptors are closed), at
// most `limit`.
void wait_until_gone(pid_t pid, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return;
    const auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z') return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling /proc, no event
  }
}

pid_t find_broker_pid(const fs::path& conf) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.starts_with("mosquitto") && cmd.find(conf.string()) != std::string::npos)
      return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

// ---- /metrics -----------------------------------------------------------------------------

// The value of the series `name` (with its labels) in Prometheus text; NaN when absent.
double metric(const std::string& text, const std::string& name) {
  for (std::size_t pos = text.find(name); pos != std::string::npos;
       pos = text.find(name, pos + 1)) {
    const std::size_t end = pos + name.size();
    if ((pos == 0 || text[pos - 1] == '\n') && end < text.size() && text[end] == ' ')
      return std::strtod(text.c_str() + end + 1, nullptr);
  }
  return std::nan("");
}

// ---- latency ------------------------------------------------------------------------------

struct latency {
  std::vector<double> ms;
  int failures = 0;
  int skipped = 0;  // not tried: the time budget ran out
  // Nearest-rank percentile; NaN without samples.
  double pct(double p) const {
    if (ms.empty()) return std::nan("");
    auto v = ms;
    std::sort(v.begin(), v.end());
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
  }
  std::string text() const {
    if (ms.empty()) return "n/a (" + std::to_string(failures) + " failed)";
    char buf[160];
    const std::string extra =
        (failures != 0 ? ", " + std::to_string(failures) + " failed" : std::string()) +
        (skipped != 0 ? ", " + std::to_string(skipped) + " skipped: time budget" : std::string());
    std::snprintf(buf, sizeof buf, "p50 %.2f ms, p99 %.2f ms, max %.2f ms (n=%zu%s)", pct(0.5),
                  pct(0.99), pct(1.0), ms.size(), extra.c_str());
    return buf;
  }
};

// The parts of the API round trips: the POST alone, one status GET alone, and how many GETs
// a command took until its final status.
struct api_parts {
  latency post, get;
  latency sent;  // POST sent -> the first GET that no longer answers `queued`
  std::vector<double> polls;
  double polls_mean() const {
    if (polls.empty()) return std::nan("");
    double sum = 0;
    for (double p : polls) sum += p;
    return sum / static_cast<double>(polls.size());
  }
};

// Results the round-trip client waits for; filled on Paho's receive thread.
class result_inbox {
 public:
  void expect(std::string id) {
    std::lock_guard lock(mu_);
    awaited_ = std::move(id);
    seen_ = false;
  }
  void offer(std::string_view payload) {
    auto r = proto::decode_result(payload);
    if (!r.ok() || !proto::is_final(r->status)) return;
    std::lock_guard lock(mu_);
    if (r->id != awaited_) return;
    seen_ = true;
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return seen_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string awaited_;
  bool seen_ = false;
};

// ---- options ------------------------------------------------------------------------------

struct phase_spec {
  int routers = 0;
  int interval_ms = 1000;
};

struct options {
  std::vector<phase_spec> phases{{1000, 1000}, {2000, 1000}, {5000, 1000}, {10000, 1000}};
  int warmup_s = 10;
  int window_s = 30;
  int commands = 200;
  int poll_ms = 1;  // the pause between two status GETs of an API round trip
  int connect_per_s = 200;
  bool nagle = true;
  int max_minutes = 40;
  bool routers_on_disk = false;
  int routers_per_process = k_default_routers_per_process;
  std::string db_dir;  // empty: the temp folder on disk
  std::string db;      // the daemon's db setting as given; empty: a file in db_dir
  bool postgres = false;
  int batch_delay_ms = 0;       // the daemon's mqtt.batch_delay_ms; 0 = group commit (the default)
  int dispatch_poll_ms = 1000;  // the daemon's mqtt.dispatch_poll_ms (its default)
  int broker_restart = 0;       // 0: none; SIGTERM or SIGKILL: restart the broker after the phases
  int restart_limit_s = 300;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "bench_ingest: %s\nusage: bench_ingest [--phases N[@MS],...] [--warmup-s S] "
               "[--window-s S] [--commands N] [--poll-ms MS] [--connect-per-s N] [--no-nagle] "
               "[--routers-per-process N] [--routers-on-disk] "
               "[--db-dir DIR | --db URI-or-path | --postgres] [--batch-delay-ms MS] "
               "[--dispatch-poll-ms MS] [--max-minutes M] "
               "[--broker-restart term|kill] [--restart-limit-s S] [--quick]\n",
               why.c_str());
  std::exit(2);
}

int positive(const std::string& text, const char* what) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 1 || v > 10'000'000)
    usage(std::string(what) + " must be a positive integer");
  return static_cast<int>(v);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--quick") {
      o.phases = {{200, 1000}};
      o.warmup_s = 3;
      o.window_s = 10;
      o.commands = 50;
    } else if (a == "--phases") {
      o.phases.clear();
      std::istringstream list(value());
      for (std::string item; std::getline(list, item, ',');) {
        phase_spec p;
        const auto at = item.find('@');
        p.routers = positive(item.substr(0, at), "ROUTERS");
        if (at != std::string::npos) p.interval_ms = positive(item.substr(at + 1), "INTERVAL_MS");
        o.phases.push_back(p);
      }
      if (o.phases.empty()) usage("--phases is empty");
    } else if (a == "--warmup-s") {
      o.warmup_s = positive(value(), "--warmup-s");
    } else if (a == "--window-s") {
      o.window_s = positive(value(), "--window-s");
    } else if (a == "--commands") {
      o.commands = positive(value(), "--commands");
    } else if (a == "--poll-ms") {
      o.poll_ms = positive(value(), "--poll-ms");
    } else if (a == "--connect-per-s") {
      o.connect_per_s = positive(value(), "--connect-per-s");
    } else if (a == "--no-nagle") {
      o.nagle = false;
    } else if (a == "--routers-per-process") {
      o.routers_per_process =
          std::min(k_max_routers_per_process, positive(value(), "--routers-per-process"));
    } else if (a == "--db-dir") {
      o.db_dir = value();
    } else if (a == "--db") {
      o.db = value();
      if (o.db.empty()) usage("--db is empty");
    } else if (a == "--postgres") {
      o.postgres = true;
    } else if (a == "--routers-on-disk") {
      o.routers_on_disk = true;
    } else if (a == "--batch-delay-ms") {
      o.batch_delay_ms = positive(value(), "--batch-delay-ms");
    } else if (a == "--dispatch-poll-ms") {
      o.dispatch_poll_ms = positive(value(), "--dispatch-poll-ms");
    } else if (a == "--max-minutes") {
      o.max_minutes = positive(value(), "--max-minutes");
    } else if (a == "--broker-restart") {
      const std::string how = value();
      if (how != "term" && how != "kill") usage("--broker-restart takes term or kill");
      o.broker_restart = how == "term" ? SIGTERM : SIGKILL;
    } else if (a == "--restart-limit-s") {
      o.restart_limit_s = positive(value(), "--restart-limit-s");
    } else {
      usage("unknown argument " + a);
    }
  }
  if ((o.db_dir.empty() ? 0 : 1) + (o.db.empty() ? 0 : 1) + (o.postgres ? 1 : 0) > 1)
    usage("--db-dir, --db and --postgres exclude each other");
  return o;
}

// ---- the stack ----------------------------------------------------------------------------

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::string json_field(const std::string& text, const char* key) {
  auto parsed = aterm::common::parse_json(text);
  if (!parsed.ok()) return {};
  return aterm::common::json_string(parsed->get(), key).value_or("");
}

std::string tail(const std::string& text, std::size_t n = 2000) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

struct simulate_proc {
  std::string prefix;
  int count = 0;
  std::unique_ptr<process> proc;
};

struct sample {
  steady::time_point at;
  std::uint64_t sub_state = 0;
  std::string metrics;
  std::map<std::string, proc_sample> procs;  // "cloud", "broker", "simulate", "subscriber"
};

struct phase_result {
  phase_spec spec;
  int connected = 0;
  double offered = 0, sub_rate = 0, received_rate = 0, stored_rate = 0;
  double coalesced_rate = 0, shed_rate = 0;
  double batch_size = 0, batch_age_ms = 0, commit_ms = 0, batch_age_max_ms = 0, queue_depth = 0;
  latency cmd, raw, raw_nagle;
  api_parts cmd_parts;
  std::map<std::string, double> cpu_pct;
  std::map<std::string, double> rss_mb;
  double load1 = 0;
  std::string stop_reason;
};

class bench_stack {
 public:
  explicit bench_stack(const options& opt) : opt_(opt) {
    const fs::path shm = "/dev/shm";
    routers_ = std::make_unique<aterm::test::temp_dir>(
        "bench-ingest-routers", opt.routers_on_disk || !fs::is_directory(shm) ? dir_.path() : shm);
    std::printf("bench_ingest: folder %s, routers' data in %s\n", dir_.path().c_str(),
                routers_->path().c_str());
    pki_ = std::make_unique<aterm::test::dev_pki>(dir_ / "pki");
    for (const char* name : {"aterm-cloud-bench-sub", "aterm-cloud-bench-rt"}) {
      auto r = aterm::test::run({(aterm::test::source_dir() / "scripts" / "dev-pki").string(),
                                 "cloud", pki_->dir().string(), name});
      if (r.exit_code != 0)
        throw std::runtime_error(std::string("scripts/dev-pki cloud ") + name + ": " + r.err);
    }
    broker_ = std::make_unique<aterm::test::broker>(*pki_);
    broker_pid_ = find_broker_pid(pki_->dir() / "mosquitto.conf");
    if (opt.postgres) {
      cluster_ = std::make_unique<aterm::test::pg_cluster>();
      db_ = cluster_->create_database("bench_ingest");
    } else if (!opt.db.empty()) {
      db_ = opt.db;
    } else {
      db_path_ = (opt.db_dir.empty() ? dir_.path() : fs::path(opt.db_dir)) /
                 ("bench-ingest-" + std::to_string(::getpid()) + ".db");
      db_ = db_path_.string();
    }
    const bool server = aterm::cloud::db_is_server(db_);
    std::printf("engine %s, database %s\n", server ? "postgresql" : "sqlite",
                aterm::cloud::printable_db(db_).c_str());
    // On a database server the key files are named (no file to put them next to).
    const std::string server_keys =
        server ? R"(, "audit_key_file": ")" + (dir_ / "audit.key").string() +
                     R"(", "audit_anchor_file": ")" + (dir_ / "audit.anchors").string() + "\""
               : std::string();
    const std::string backup_key = server ? R"(
  "backup": {"key_file": ")" + (dir_ / "backup.key").string() +
                                                "\"},"
                                          : std::string();
    https_port_ = aterm::test::free_port();
    metrics_port_ = aterm::test::free_port();
    config_ = dir_ / "cloud.json";
    write_file(config_, "{" + backup_key + R"(
  "db": ")" + db_ + R"(",
  "http": {"listen": "127.0.0.1:)" +
                            std::to_string(https_port_) + R"(", "metrics_listen": "127.0.0.1:)" +
                            std::to_string(metrics_port_) + R"(", "cert": ")" +
                            pki_->server_cert().string() + R"(", "key": ")" +
                            pki_->server_key().string() + R"("},
  "mqtt": {"uri": ")" + broker_->uri() +
                            R"(", "ca": ")" + pki_->ca().string() + R"(", "cert": ")" +
                            pki_->cloud_cert().string() + R"(", "key": ")" +
                            pki_->cloud_key().string() + R"(", "batch_delay_ms": )" +
                            std::to_string(opt_.batch_delay_ms) + R"(, "dispatch_poll_ms": )" +
                            std::to_string(opt_.dispatch_poll_ms) + R"(},
  "security": {"password_iterations": 1000)" +
                            server_keys + R"(},
  "device": {"claim_key_file": ")" +
                            pki_->claim_key().string() + R"("},
  "jobs": {"tick_ms": 100}
})");
    auto key = aterm::common::claim::load_key_file(pki_->claim_key().string());
    if (!key.ok()) throw std::runtime_error(key.error().to_string());
    claim_key_ = std::move(*key);
    cli({"admin", "init"});
    cli({"admin", "company", "create", "--id", "bench", "--name", "Bench"});
    password_ =
        json_field(cli({"admin", "account", "create", "--company", "bench", "--login", "admin",
                        "--role", "administrator", "--email", "admin@bench.example"}),
                   "password");
    cloud_ = std::make_unique<process>(
        std::vector<std::string>{aterm::test::binary("cloud/aterm-cloud").string(), "serve",
                                 "--config", config_.string()},
        dir_ / "cloud.log");
    // One keep-alive connection with TCP_NODELAY: a handshake per request, or Nagle's 40 ms per
    // hop, would dominate a command round trip of a few milliseconds.
    aterm::test::tls_options tls;
    tls.ca_file = pki_->ca().string();
    tls.no_delay = true;
    api_ = std::make_unique<https_client>(https_port_, tls, true);
    const bool up = wait_for(
        [&] {
          if (!cloud_->running()) return true;
          try {
            return aterm::test::plain_http_get(metrics_port_, "/metrics")
                       .body.find("aterm_bridge_connected 1") != std::string::npos;
          } catch (const std::exception&) {
            return false;
          }
        },
        60s);
    if (!up || !cloud_->running())
      throw std::runtime_error("aterm-cloud did not come up: " + tail(cloud_->log()));
    // The CLI's first password must be replaced by the account's owner before anything else.
    const std::string chosen = "bench-" + password_;
    if (auto a = aterm::test::replace_first_password(*api_, "bench", "admin", password_, chosen);
        a.status != 204)
      throw std::runtime_error("first password change failed: " + std::to_string(a.status));
    password_ = chosen;
    if (auto a = api_->login("bench", "admin", password_); a.status != 200)
      throw std::runtime_error("login failed: " + std::to_string(a.status));
    auto d = api_->request("POST", "destinations", R"({"name":"bench fleet"})");
    if (d.status != 201 && d.status != 200)
      throw std::runtime_error("create destination: " + std::to_string(d.status) + " " + d.body);
    destination_ = std::to_string(aterm::common::json_int(d.json.get(), "id").value_or(0));

    counters_ = std::make_unique<counter_file>(dir_ / "subscriber.counters", true);
    subscriber_ = std::make_unique<process>(
        std::vector<std::string>{fs::read_symlink("/proc/self/exe").string(), "--subscriber",
                                 broker_->uri(), pki_->ca().string(),
                                 (pki_->dir() / "clouds" / "aterm-cloud-bench-sub.pem").string(),
                                 (pki_->dir() / "clouds" / "aterm-cloud-bench-sub.key").string(),
                                 "aterm-cloud-bench-sub", (dir_ / "subscriber.counters").string()},
        dir_ / "subscriber.log");
    if (!wait_for([&] { return (*counters_)->ready == 1 || !subscriber_->running(); }, 40s) ||
        !subscriber_->running())
      throw std::runtime_error("the subscriber did not subscribe: " + subscriber_->log());
  }

  ~bench_stack() {
    // Routers first (their offline presence reaches a running broker), then the daemon.
    fleet_.clear();
    subscriber_.reset();
    cloud_.reset();
    if (!db_path_.empty()) {
      std::error_code ec;
      for (const char* suffix : {"", "-wal", "-shm", "-journal"})
        fs::remove(db_path_.string() + suffix, ec);
    }
  }

  const aterm::test::broker& broker() const { return *broker_; }
  https_client& api() { return *api_; }
  sub_counters& counters() { return **counters_; }
  bool cloud_running() { return cloud_->running(); }
  std::string cloud_log() const { return cloud_->log(); }

  mqtt_identity rt_identity() const {
    return {broker_->uri(), pki_->ca().string(),
            (pki_->dir() / "clouds" / "aterm-cloud-bench-rt.pem").string(),
            (pki_->dir() / "clouds" / "aterm-cloud-bench-rt.key").string(), "aterm-cloud-bench-rt"};
  }

  int fleet_size() const {
    int n = 0;
    for (const auto& s : fleet_) n += s.count;
    return n;
  }

  // Up to 500 devices the cloud has online (one page of GET /devices?online=true): round trips
  // go only to routers that are connected, so none waits for a router still in its backoff.
  std::vector<std::string> online_ids() {
    std::vector<std::string> ids;
    auto a = api_->request("GET", "devices?online=true&limit=500");
    const cJSON* list =
        a.json ? cJSON_GetObjectItemCaseSensitive(a.json.get(), "devices") : nullptr;
    if (cJSON_IsArray(list))
      for (const cJSON* d = list->child; d != nullptr; d = d->next)
        if (auto id = aterm::common::json_string(d, "id")) ids.push_back(*id);
    return ids;
  }

  // Brings the fleet to `spec`: restarts it when the interval changes or it must shrink,
  // otherwise adds simulate processes for the missing routers. Returns how many are online
  // when every router connected, or when they stopped connecting.
  int grow_fleet(const phase_spec& spec) {
    if (!fleet_.empty() && (spec.interval_ms != interval_ms_ || spec.routers < fleet_size())) {
      fleet_.clear();
      wait_for([&] { return counters().online == 0; }, 60s);
    }
    interval_ms_ = spec.interval_ms;
    while (fleet_size() < spec.routers) {
      const int n = std::min(opt_.routers_per_process, spec.routers - fleet_size());
      start_simulate(n);
    }
    // Connecting is CPU-bound (TLS handshakes; Paho C sets up TLS under one lock), so its pace
    // depends on the host's load: wait as long as routers keep connecting, and call the fleet
    // stalled when k_connect_stall passes without another 1 % of it connecting.
    const auto t0 = steady::now();
    auto last_report = t0;
    auto last_progress = t0;
    const std::uint64_t online_before = counters().online;
    std::uint64_t last_online = online_before;
    const auto progress_step =
        std::max<std::uint64_t>(1, static_cast<std::uint64_t>(spec.routers) / 100);
    wait_for(
        [&] {
          for (auto& s : fleet_)
            if (!s.proc->running())
              throw std::runtime_error("simulate " + s.prefix + " exited: " + tail(s.proc->log()));
          const auto now = steady::now();
          const std::uint64_t online = counters().online;
          if (online >= last_online + progress_step) {
            last_online = online;
            last_progress = now;
          }
          if (now - last_report > 10s) {
            last_report = now;
            std::printf("  connecting: %llu of %d online after %.0f s\n",
                        static_cast<unsigned long long>(online), spec.routers, seconds(now - t0));
            std::fflush(stdout);
          }
          // Stalled only once the new routers began to connect: until then they are minting.
          const bool began = online > online_before;
          if (!began) last_progress = now;
          return online >= static_cast<std::uint64_t>(spec.routers) ||
                 (began && now - last_progress > k_connect_stall) ||
                 (!began && now - t0 > k_first_connect_max);
        },
        k_connect_max, 100ms);
    std::printf("  fleet: %llu of %d routers online after %.1f s\n",
                static_cast<unsigned long long>(counters().online.load()), spec.routers,
                seconds(steady::now() - t0));
    std::fflush(stdout);
    return static_cast<int>(counters().online.load());
  }

  // What the API says of the fleet: routers shown online, and those of them with a state
  // received at or after `since_ms` (every page of GET /devices, 500 at a time).
  std::pair<int, int> api_fleet(std::int64_t since_ms) {
    int online = 0;
    int fresh = 0;
    std::string cursor;
    do {
      auto a =
          api_->request("GET", "devices?limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor));
      if (a.status != 200 || !a.json) return {-1, -1};
      const cJSON* list = cJSON_GetObjectItemCaseSensitive(a.json.get(), "devices");
      if (cJSON_IsArray(list)) {
        for (const cJSON* d = list->child; d != nullptr; d = d->next) {
          if (aterm::common::json_string(d, "presence").value_or("") != "online") continue;
          ++online;
          if (aterm::common::json_int(d, "state_received_ms").value_or(0) >= since_ms) ++fresh;
        }
      }
      cursor = aterm::common::json_string(a.json.get(), "next_cursor").value_or("");
    } while (!cursor.empty());
    return {online, fresh};
  }

  // Stops Mosquitto with `sig` (SIGTERM: a restart; SIGKILL: a crash, no Last Will) while the
  // fleet is connected, starts it again on the same port and follows the fleet back: the time
  // until the API shows every router online, and online with a state stored after the restart;
  // the broker's peak CPU (per 0.5 s sample); the routers not back within `limit`.
  void restart_broker(int sig, int routers, std::chrono::seconds limit) {
    std::printf("broker restart (%s) with %d routers online\n",
                sig == SIGKILL ? "SIGKILL" : "SIGTERM", routers);
    std::fflush(stdout);
    if (sig == SIGKILL) {
      broker_->kill();
    } else {
      broker_->stop();
    }
    const auto down_at = steady::now();
    // The killed broker's own process may still be closing thousands of sockets after its
    // launcher ended, its port still bound: the new one starts once it is gone.
    wait_until_gone(broker_pid_, std::chrono::seconds(60));
    const std::int64_t since_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
    broker_->start();
    broker_pid_ = find_broker_pid(pki_->dir() / "mosquitto.conf");
    const auto up_at = steady::now();
    double peak_cpu = 0;
    double all_online_s = -1;
    double all_fresh_s = -1;
    auto last = sample_proc(broker_pid_);
    auto last_at = steady::now();
    auto last_report = last_at;
    std::pair<int, int> seen{0, 0};
    while (steady::now() - up_at < limit) {
      std::this_thread::sleep_for(500ms);  // the sampling period, not a synchronisation
      check_interrupt();
      const auto now = steady::now();
      if (auto p = sample_proc(broker_pid_); p && last) {
        peak_cpu = std::max(peak_cpu, 100.0 * (p->cpu_s - last->cpu_s) / seconds(now - last_at));
        last = p;
      }
      last_at = now;
      seen = api_fleet(since_ms);
      const double t = seconds(steady::now() - up_at);
      if (all_online_s < 0 && seen.first >= routers) all_online_s = t;
      if (all_fresh_s < 0 && seen.second >= routers) all_fresh_s = t;
      if (now - last_report > 10s) {
        last_report = now;
        std::printf("  after %.0f s: %d online, %d with a fresh state\n", t, seen.first,
                    seen.second);
        std::fflush(stdout);
      }
      if (all_online_s >= 0 && all_fresh_s >= 0) break;
    }
    std::printf(
        "broker restart: down %.2f s; every router online after %.1f s, online with a fresh "
        "state after %.1f s (-1: not within %lld s); broker CPU peak %.0f%% (100%% = 1 core); "
        "not back: %d online, %d without a fresh state\n",
        seconds(up_at - down_at), all_online_s, all_fresh_s, static_cast<long long>(limit.count()),
        peak_cpu, routers - std::max(seen.first, 0), routers - std::max(seen.second, 0));
    if (auto c = sample_proc(cloud_->pid()))
      std::printf("  aterm-cloud RSS %.0f MB\n", static_cast<double>(c->rss_kb) / 1024.0);
    std::fflush(stdout);
  }

  sample take_sample() {
    sample s;
    s.metrics = aterm::test::plain_http_get(metrics_port_, "/metrics").body;
    s.sub_state = counters().state.load();
    s.at = steady::now();
    auto add = [&](const std::string& name, pid_t pid) {
      if (pid <= 0) return;
      if (auto p = sample_proc(pid)) {
        s.procs[name].cpu_s += p->cpu_s;
        s.procs[name].rss_kb += p->rss_kb;
      }
    };
    add("cloud", cloud_->pid());
    add("broker", broker_pid_);
    add("subscriber", subscriber_->pid());
    for (auto& f : fleet_) add("simulate", f.proc->pid());
    return s;
  }

 private:
  static std::string device_id(const std::string& prefix, int i) {
    char num[16];
    std::snprintf(num, sizeof num, "%05d", i);
    return prefix + num;
  }

  std::string cli(const std::vector<std::string>& args) {
    auto r = aterm::test::cloud_cli(config_, args);
    if (r.exit_code != 0) throw std::runtime_error("aterm-cloud " + args[0] + ": " + r.err);
    return r.out;
  }

  void register_devices(const std::string& prefix, int count) {
    for (int first = 1; first <= count; first += static_cast<int>(k_register_chunk)) {
      // Each device with the code on its label (docs/device-claim.md).
      std::string body = R"({"devices":[)";
      const int last = std::min(count, first + static_cast<int>(k_register_chunk) - 1);
      for (int i = first; i <= last; ++i) {
        const std::string id = device_id(prefix, i);
        body += std::string(i == first ? "" : ",") + R"({"id":")" + id + R"(","claim_code":")" +
                aterm::common::claim::derive(claim_key_, id) + R"("})";
      }
      body += "]}";
      auto a = api_->request("POST", "destinations/" + destination_ + "/devices", body);
      if (a.status != 200)
        throw std::runtime_error("register devices: " + std::to_string(a.status) + " " + a.body);
    }
  }

  void start_simulate(int count) {
    simulate_proc s;
    s.prefix = "b" + std::to_string(next_prefix_++) + "-";
    s.count = count;
    const auto t0 = steady::now();
    register_devices(s.prefix, count);
    const fs::path data = routers_->path() / ("sim-" + s.prefix);
    fs::create_directories(data);
    // A whole number of seconds goes through state_interval_s; anything else needs the
    // simulate-only key.
    const std::string interval =
        interval_ms_ % 1000 == 0 ? R"("state_interval_s": )" + std::to_string(interval_ms_ / 1000)
                                 : R"("state_interval_s": 1, "simulate.state_interval_ms": )" +
                                       std::to_string(interval_ms_);
    const fs::path conf = dir_ / ("sim-" + s.prefix + ".json");
    write_file(conf, R"({
  "broker": {"uri": ")" + broker_->uri() +
                         R"(", "ca": ")" + pki_->ca().string() + R"("},
  "data_dir": ")" + data.string() +
                         R"(",
  )" + interval + R"(,
  "simulate.ca_cert": ")" +
                         pki_->ca().string() + R"(",
  "simulate.ca_key": ")" +
                         pki_->ca_key().string() + R"(",
  "simulate.connect_per_s": )" +
                         std::to_string(opt_.connect_per_s) + R"(,
  "reconnect": {"cap_s": 15}
})");
    s.proc = std::make_unique<process>(
        std::vector<std::string>{aterm::test::binary("agent/aterm-agent").string(), "simulate",
                                 "--config", conf.string(), "--count", std::to_string(count),
                                 "--id-prefix", s.prefix},
        dir_ / ("sim-" + s.prefix + ".log"));
    std::printf("  started simulate %s x %d (registered in %.1f s)\n", s.prefix.c_str(), count,
                seconds(steady::now() - t0));
    std::fflush(stdout);
    fleet_.push_back(std::move(s));
  }

  const options& opt_;
  aterm::test::temp_dir dir_{"bench-ingest"};
  // Declared before the processes that use it, so it stops after them.
  std::unique_ptr<aterm::test::pg_cluster> cluster_;
  std::string db_;
  std::unique_ptr<aterm::test::temp_dir> routers_;
  std::unique_ptr<aterm::test::dev_pki> pki_;
  std::unique_ptr<aterm::test::broker> broker_;
  pid_t broker_pid_ = -1;
  int https_port_ = 0;
  int metrics_port_ = 0;
  fs::path config_;
  fs::path db_path_;  // the SQLite file this run made, removed at exit; empty otherwise
  std::string password_;
  std::vector<std::uint8_t> claim_key_;  // the dev PKI's claim.key
  std::unique_ptr<process> cloud_;
  std::unique_ptr<https_client> api_;
  std::string destination_;
  std::unique_ptr<counter_file> counters_;
  std::unique_ptr<process> subscriber_;
  std::vector<simulate_proc> fleet_;
  int interval_ms_ = 1000;
  int next_prefix_ = 0;
};

// ---- measurements -------------------------------------------------------------------------

bool final_status(const std::string& s) {
  return s == "succeeded" || s == "failed" || s == "timed_out" || s == "expired";
}

// Sequential API round trips: POST a ping, poll its status every 1 ms until final, the way the
// dashboard polls (a background read: x-aterm-background, neither an operation nor activity).
// Stops after k_round_trip_budget, so an overloaded daemon whose commands time out cannot hold
// the run.
latency api_round_trips(https_client& api, const std::vector<std::string>& devices, int n,
                        std::chrono::milliseconds poll, api_parts& parts) {
  const std::map<std::string, std::string> background{
      {std::string(aterm::cloud::security::k_background_header), "1"}};
  latency out;
  const auto start = steady::now();
  for (int i = 0; i < n; ++i) {
    check_interrupt();
    if (steady::now() - start > k_round_trip_budget) {
      out.skipped = n - i;
      break;
    }
    const auto& dev = devices[(static_cast<std::size_t>(i) * 7919) % devices.size()];
    const auto t0 = steady::now();
    auto a = api.request("POST", "devices/" + dev + "/commands", R"({"op":"ping","timeout_s":30})");
    const std::string id = a.str("id");
    if (a.status != 202 || id.empty()) {
      ++out.failures;
      continue;
    }
    parts.post.ms.push_back(seconds(steady::now() - t0) * 1000.0);
    std::string status;
    int polls = 0;
    bool left_queue = false;
    while (steady::now() - t0 < 35s) {
      check_interrupt();
      const auto g0 = steady::now();
      status = api.request("GET", "commands/" + id, {}, background).str("status");
      parts.get.ms.push_back(seconds(steady::now() - g0) * 1000.0);
      ++polls;
      if (!left_queue && status != "queued") {
        left_queue = true;
        parts.sent.ms.push_back(seconds(steady::now() - t0) * 1000.0);
      }
      if (final_status(status)) break;
      std::this_thread::sleep_for(poll);
    }
    parts.polls.push_back(polls);
    if (status == "succeeded")
      out.ms.push_back(seconds(steady::now() - t0) * 1000.0);
    else
      ++out.failures;
  }
  return out;
}

// Sequential raw MQTT round trips: publish a ping command, wait for its final result.
latency raw_round_trips(mqtt_probe& client, result_inbox& inbox,
                        const std::vector<std::string>& devices, int n, const std::string& tag) {
  latency out;
  const auto nonce = std::to_string(::time(nullptr));
  for (int i = 0; i < n; ++i) {
    check_interrupt();
    const auto& dev = devices[(static_cast<std::size_t>(i) * 7919 + 13) % devices.size()];
    proto::command cmd;
    cmd.id = "raw-" + tag + "-" + nonce + "-" + std::to_string(i);
    cmd.op = "ping";
    cmd.deadline = ::time(nullptr) + 30;
    inbox.expect(cmd.id);
    const auto t0 = steady::now();
    client.publish(proto::topic(dev, proto::topic_kind::cmd), proto::encode(cmd));
    if (inbox.wait(10s))
      out.ms.push_back(seconds(steady::now() - t0) * 1000.0);
    else
      ++out.failures;
  }
  return out;
}

// The ingest figures of a phase, printed before its round trips start.
void print_ingest(const phase_result& r) {
  auto pct = [&](const char* n) {
    auto it = r.cpu_pct.find(n);
    return it == r.cpu_pct.end() ? std::nan("") : it->second;
  };
  auto rss = [&](const char* n) {
    auto it = r.rss_mb.find(n);
    return it == r.rss_mb.end() ? std::nan("") : it->second;
  };
  std::printf(
      "phase %d routers @ %d ms (%d online)\n"
      "  offered %.0f msg/s, subscriber %.0f msg/s, bridge received %.0f msg/s, stored %.0f "
      "msg/s, stored/subscriber %.3f\n"
      "  batches: %.1f msgs mean, age %.2f ms mean (max %.1f ms since start), commit %.2f ms "
      "mean; ingest queue depth at end %.0f\n"
      "  overload: snapshots replaced in the queue by a newer one %.0f/s, shed %.0f/s\n",
      r.spec.routers, r.spec.interval_ms, r.connected, r.offered, r.sub_rate, r.received_rate,
      r.stored_rate, r.sub_rate > 0 ? r.stored_rate / r.sub_rate : std::nan(""), r.batch_size,
      r.batch_age_ms, r.batch_age_max_ms, r.commit_ms, r.queue_depth, r.coalesced_rate,
      r.shed_rate);
  std::printf(
      "  CPU (100%% = 1 core): cloud %.0f%%, broker %.0f%%, simulate %.0f%%, subscriber %.0f%%; "
      "RSS: cloud %.1f MB, broker %.1f MB, simulate %.1f MB; host load average %.1f on %ld "
      "cores\n",
      pct("cloud"), pct("broker"), pct("simulate"), pct("subscriber"), rss("cloud"), rss("broker"),
      rss("simulate"), r.load1, ::sysconf(_SC_NPROCESSORS_ONLN));
  std::fflush(stdout);
}

void print_round_trips(const phase_result& r) {
  std::printf(
      "  command round trip via API: %s\n    its POST alone: %s\n    one status GET alone: %s\n"
      "    until no longer queued: %s\n    status GETs per command: %.1f mean\n  raw MQTT round "
      "trip, TCP_NODELAY: %s\n",
      r.cmd.text().c_str(), r.cmd_parts.post.text().c_str(), r.cmd_parts.get.text().c_str(),
      r.cmd_parts.sent.text().c_str(), r.cmd_parts.polls_mean(), r.raw.text().c_str());
  if (!r.raw_nagle.ms.empty() || r.raw_nagle.failures != 0)
    std::printf("  raw MQTT round trip, library default (no TCP_NODELAY on the bench client): %s\n",
                r.raw_nagle.text().c_str());
  if (!r.stop_reason.empty()) std::printf("  stop: %s\n", r.stop_reason.c_str());
  std::fflush(stdout);
}

phase_result measure(bench_stack& stack, const options& opt, const phase_spec& spec,
                     bool first_phase, std::unique_ptr<mqtt_probe>& rt, result_inbox& inbox) {
  phase_result r;
  r.spec = spec;
  r.connected = stack.grow_fleet(spec);
  // What the connected part of the fleet is asked to publish.
  r.offered = r.connected * 1000.0 / spec.interval_ms;
  // A fleet that half connects is measured as it is; one that does not stops the run.
  if (2 * r.connected < spec.routers)
    r.stop_reason = "only " + std::to_string(r.connected) + " of " + std::to_string(spec.routers) +
                    " routers connected";
  if (r.connected == 0) return r;

  pause_for(std::chrono::seconds(opt.warmup_s));
  const sample a = stack.take_sample();
  pause_for(std::chrono::seconds(opt.window_s));
  const sample b = stack.take_sample();
  const double dt = seconds(b.at - a.at);
  auto delta = [&](const std::string& name) {
    return metric(b.metrics, name) - metric(a.metrics, name);
  };
  r.sub_rate = static_cast<double>(b.sub_state - a.sub_state) / dt;
  r.received_rate = delta("aterm_bridge_received_total") / dt;
  r.stored_rate = delta("aterm_bridge_ingested_total{kind=\"state\"}") / dt;
  r.coalesced_rate = delta("aterm_bridge_states_coalesced_total") / dt;
  r.shed_rate = delta("aterm_bridge_states_shed_total") / dt;
  const double batches = delta("aterm_bridge_batches_total");
  if (batches > 0) {
    r.batch_size = delta("aterm_bridge_batch_messages_total") / batches;
    r.batch_age_ms = delta("aterm_bridge_batch_age_us_total") / batches / 1000.0;
    r.commit_ms = delta("aterm_bridge_batch_commit_us_total") / batches / 1000.0;
  }
  r.batch_age_max_ms = metric(b.metrics, "aterm_bridge_batch_age_us_max") / 1000.0;
  r.queue_depth = metric(b.metrics, "aterm_bridge_queue_depth");
  r.load1 = load_average();
  for (const auto& [name, pb] : b.procs) {
    r.rss_mb[name] = static_cast<double>(pb.rss_kb) / 1024.0;
    if (auto it = a.procs.find(name); it != a.procs.end())
      r.cpu_pct[name] = (pb.cpu_s - it->second.cpu_s) / dt * 100.0;
  }

  print_ingest(r);

  const auto ids = stack.online_ids();
  if (ids.empty()) {
    r.stop_reason = "the cloud lists no online device";
    return r;
  }
  r.cmd = api_round_trips(stack.api(), ids, opt.commands, std::chrono::milliseconds(opt.poll_ms),
                          r.cmd_parts);
  if (!rt) {
    rt = std::make_unique<mqtt_probe>(
        stack.rt_identity(), [&inbox](std::string_view, std::string_view p) { inbox.offer(p); });
    rt->subscribe({proto::topic_filter(proto::topic_kind::result)});
  }
  if (first_phase && opt.nagle)
    r.raw_nagle = raw_round_trips(*rt, inbox, ids, opt.commands, "nagle");
  aterm::common::set_tcp_nodelay_for_peer_port(stack.broker().port());
  r.raw = raw_round_trips(*rt, inbox, ids, opt.commands, std::to_string(spec.routers));
  return r;
}

void print_summary(const std::vector<phase_result>& results, const options& opt) {
  const bool server = opt.postgres || aterm::cloud::db_is_server(opt.db);
  std::printf(
      "\nsummary (engine %s; msg/s over the window; latencies in ms)\n"
      "%7s %6s %6s %8s %8s %8s %8s %6s %6s %7s %7s %8s %8s %8s %8s %7s %5s\n",
      server ? "postgresql" : "sqlite", "routers", "online", "int_ms", "offered", "sub/s", "recv/s",
      "stored/s", "ratio", "batch", "age_ms", "commit", "cmd_p50", "cmd_p99", "raw_p50", "raw_p99",
      "cloudMB", "load");
  for (const auto& r : results) {
    auto rss = r.rss_mb.find("cloud");
    std::printf(
        "%7d %6d %6d %8.0f %8.0f %8.0f %8.0f %6.3f %6.1f %7.2f %7.2f %8.2f %8.2f %8.2f %8.2f "
        "%7.1f %5.1f\n",
        r.spec.routers, r.connected, r.spec.interval_ms, r.offered, r.sub_rate, r.received_rate,
        r.stored_rate, r.sub_rate > 0 ? r.stored_rate / r.sub_rate : std::nan(""), r.batch_size,
        r.batch_age_ms, r.commit_ms, r.cmd.pct(0.5), r.cmd.pct(0.99), r.raw.pct(0.5),
        r.raw.pct(0.99), rss == r.rss_mb.end() ? std::nan("") : rss->second, r.load1);
  }
  for (const auto& r : results)
    if (!r.raw_nagle.ms.empty())
      std::printf("raw round trip without TCP_NODELAY on the bench client (%d routers): %s\n",
                  r.spec.routers, r.raw_nagle.text().c_str());
  std::fflush(stdout);
}

}  // namespace

// Raises this process's RLIMIT_NOFILE soft limit to the hard one: Mosquitto, started by
// scripts/broker from here, inherits it and holds one descriptor per router (the daemon and
// simulate raise their own). Prints the limit; false when the largest fleet cannot fit.
bool raise_descriptor_limit(const options& opt) {
  int fleet = 0;
  for (const auto& p : opt.phases) fleet = std::max(fleet, p.routers);
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return true;
  if (rl.rlim_cur != rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  const rlim_t needed = static_cast<rlim_t>(fleet) + k_broker_reserved_descriptors;
  if (rl.rlim_cur == RLIM_INFINITY) return true;
  std::printf(
      "descriptor limit (RLIMIT_NOFILE) %llu, hard %llu: the broker needs about %llu "
      "for %d routers\n",
      static_cast<unsigned long long>(rl.rlim_cur), static_cast<unsigned long long>(rl.rlim_max),
      static_cast<unsigned long long>(needed), fleet);
  if (rl.rlim_cur >= needed) return true;
  std::fprintf(stderr,
               "bench_ingest: the descriptor limit %llu holds at most %llu routers at the broker; "
               "raise the hard limit (ulimit -Hn) or measure fewer routers\n",
               static_cast<unsigned long long>(rl.rlim_cur),
               static_cast<unsigned long long>(
                   rl.rlim_cur - std::min(rl.rlim_cur, k_broker_reserved_descriptors)));
  return false;
}

int main(int argc, char** argv) {
  if (argc == 8 && std::string_view(argv[1]) == "--subscriber") {
    try {
      return run_subscriber(argv);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "subscriber: %s\n", e.what());
      return 1;
    }
  }
  const options opt = parse(argc, argv);
  if (!raise_descriptor_limit(opt)) return 1;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  const auto started = steady::now();
  std::vector<phase_result> results;
  int rc = 0;
  try {
    bench_stack stack(opt);
    result_inbox inbox;
    std::unique_ptr<mqtt_probe> rt;
    for (std::size_t i = 0; i < opt.phases.size(); ++i) {
      const auto& spec = opt.phases[i];
      if (steady::now() - started > std::chrono::minutes(opt.max_minutes)) {
        std::printf("stopping before %d routers: --max-minutes %d passed\n", spec.routers,
                    opt.max_minutes);
        break;
      }
      if (available_mb() < k_min_available_mb) {
        std::printf("stopping before %d routers: %ld MB of memory available\n", spec.routers,
                    available_mb());
        break;
      }
      std::printf("phase %zu: %d routers, one state message per %d ms each\n", i + 1, spec.routers,
                  spec.interval_ms);
      std::fflush(stdout);
      results.push_back(measure(stack, opt, spec, i == 0, rt, inbox));
      print_round_trips(results.back());
      if (!results.back().stop_reason.empty()) break;
      if (!stack.cloud_running()) {
        std::printf("aterm-cloud exited: %s\n", tail(stack.cloud_log()).c_str());
        break;
      }
    }
    rt.reset();
    if (opt.broker_restart != 0 && !results.empty() && results.back().stop_reason.empty())
      stack.restart_broker(opt.broker_restart, results.back().connected,
                           std::chrono::seconds(opt.restart_limit_s));
  } catch (const interrupted&) {
    std::printf("interrupted; cleaning up\n");
    rc = 130;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ingest: %s\n", e.what());
    rc = 1;
  }
  if (!results.empty()) print_summary(results, opt);
  return rc;
}
