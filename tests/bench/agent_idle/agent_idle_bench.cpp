// The agent's CPU wake-ups while idle and connected: a real Mosquitto with the dev PKI, one agent
// (the native build, or with --cross the router build under qemu-user, as the cross tests run it)
// with the sim backend, a state interval and an MQTT keepalive. Once its online presence has
// arrived it is left alone for --seconds, and the bench prints, per thread and in total, the
// times the kernel put it on a CPU (the third field of /proc/PID/task/TID/schedstat: run time,
// wait time, timeslices) and its voluntary context switches, per minute, next to the floor that
// keepalive and state alone need, and the process's resident memory at the end (under qemu-user
// the emulator's with the guest's). Under qemu-user the emulator's own threads are counted too.
// Prints figures only.
//
//   bench_agent_idle [--seconds N] [--keepalive S] [--state-interval S] [--cross] [--agent PATH]
//     defaults 300 s, keepalive 60 s, state every 300 s, the native agent of this build (--agent:
//     another aterm-agent binary, e.g. an earlier build to compare with)
#include <mqtt/async_client.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "aterm/common/protocol.h"
#include "aterm/test/support.h"

namespace {

namespace fs = std::filesystem;
namespace proto = aterm::common::protocol;
using namespace std::chrono_literals;

struct task_counts {
  std::string name;
  long long timeslices = 0;
  long long voluntary = 0;
  long long involuntary = 0;
};

std::string read_file(const fs::path& p) {
  std::ifstream f(p);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

long long status_field(const std::string& status, const std::string& key) {
  auto at = status.find(key + ":");
  return at == std::string::npos ? 0 : std::atoll(status.c_str() + at + key.size() + 1);
}

std::map<std::string, task_counts> sample(pid_t pid) {
  std::map<std::string, task_counts> out;
  const fs::path tasks = fs::path("/proc") / std::to_string(pid) / "task";
  std::error_code ec;
  for (const auto& t : fs::directory_iterator(tasks, ec)) {
    task_counts c;
    c.name = read_file(t.path() / "comm");
    if (!c.name.empty() && c.name.back() == '\n') c.name.pop_back();
    long long run = 0;
    long long wait = 0;
    std::sscanf(read_file(t.path() / "schedstat").c_str(), "%lld %lld %lld", &run, &wait,
                &c.timeslices);
    const auto status = read_file(t.path() / "status");
    c.voluntary = status_field(status, "voluntary_ctxt_switches");
    c.involuntary = status_field(status, "nonvoluntary_ctxt_switches");
    out[t.path().filename().string()] = c;
  }
  return out;
}

int usage() {
  std::fprintf(stderr,
               "usage: bench_agent_idle [--seconds N] [--keepalive S] [--state-interval S] "
               "[--cross] [--agent PATH]\n");
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 300;
  int keepalive = 60;
  int state_interval = 300;
  bool cross = false;
  std::string agent_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> int { return i + 1 < argc ? std::atoi(argv[++i]) : 0; };
    if (a == "--seconds") {
      seconds = value();
    } else if (a == "--keepalive") {
      keepalive = value();
    } else if (a == "--state-interval") {
      state_interval = value();
    } else if (a == "--cross") {
      cross = true;
    } else if (a == "--agent" && i + 1 < argc) {
      agent_path = argv[++i];
    } else {
      return usage();
    }
  }
  if (seconds <= 0 || keepalive <= 0 || state_interval <= 0) return usage();

  aterm::test::temp_dir dir("aterm-bench-idle");
  aterm::test::dev_pki pki(dir / "pki");
  aterm::test::broker broker(pki);
  const std::string device = "rt-idle-01";
  auto [cert, key] = pki.device(device);
  const fs::path config = dir / "agent.json";
  std::ofstream(config) << R"({"device_id":")" << device << R"(","broker":{"uri":")" << broker.uri()
                        << R"(","ca":")" << pki.ca().string() << R"(","cert":")" << cert.string()
                        << R"(","key":")" << key.string() << R"("},"data_dir":")"
                        << (dir / "data").string() << R"(","backend":{"type":"sim","file":")"
                        << (dir / "router.json").string() << R"("},"local_socket":")"
                        << (dir / "agent.sock").string() << R"(","state_interval_s":)"
                        << state_interval << R"(,"keepalive_s":)" << keepalive << "}";
  const fs::path src = aterm::test::source_dir();
  std::vector<std::string> agent_argv;
  if (cross) {
    agent_argv = {"qemu-mipsel", "-L", (src / "build-sysroot" / "mipsel").string(),
                  agent_path.empty() ? (src / "build-mipsel" / "agent" / "aterm-agent").string()
                                     : agent_path};
  } else {
    agent_argv = {agent_path.empty() ? aterm::test::binary("agent/aterm-agent").string()
                                     : agent_path};
  }
  agent_argv.insert(agent_argv.end(), {"run", "--config", config.string()});

  // The cloud's side: wait for the agent's online presence.
  mqtt::async_client cloud(broker.uri(), "aterm-cloud");
  std::atomic<bool> online{false};
  cloud.set_message_callback([&](mqtt::const_message_ptr m) {
    auto p = proto::decode_presence(m->get_payload_str(), device);
    if (p.ok() && p->online) online = true;
  });
  auto ssl = mqtt::ssl_options_builder()
                 .trust_store(pki.ca().string())
                 .key_store(pki.cloud_cert().string())
                 .private_key(pki.cloud_key().string())
                 .finalize();
  cloud.connect(mqtt::connect_options_builder().clean_session(true).ssl(ssl).finalize())->wait();
  cloud.subscribe(proto::topic(device, proto::topic_kind::presence), 1)->wait();

  aterm::test::process agent(agent_argv, dir / "agent.log");
  if (!aterm::test::wait_until([&] { return online.load(); }, 120s)) {
    std::fprintf(stderr, "the agent did not come online:\n%s\n", agent.log().c_str());
    return 1;
  }
  // Let the start-up settle (the first snapshot, subscriptions).
  std::this_thread::sleep_for(5s);
  const auto before = sample(agent.pid());
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const auto after = sample(agent.pid());

  const double minutes = seconds / 60.0;
  std::printf("agent %s idle and connected for %d s (keepalive %d s, state every %d s)\n",
              cross ? "mipsel under qemu-user" : "x86_64", seconds, keepalive, state_interval);
  std::printf("%-8s %-16s %12s %12s %12s\n", "tid", "thread", "wakeups/min", "vol/min",
              "invol/min");
  double total = 0;
  double total_voluntary = 0;
  auto per_minute = [&](long long n) { return static_cast<double>(n) / minutes; };
  for (const auto& [tid, a] : after) {
    auto b = before.count(tid) ? before.at(tid) : task_counts{};
    const double w = per_minute(a.timeslices - b.timeslices);
    const double v = per_minute(a.voluntary - b.voluntary);
    total += w;
    total_voluntary += v;
    std::printf("%-8s %-16s %12.1f %12.1f %12.1f\n", tid.c_str(), a.name.c_str(), w, v,
                per_minute(a.involuntary - b.involuntary));
  }
  // Each keepalive is a PINGREQ out and a PINGRESP in; each snapshot one publish and its PUBACK.
  const double floor = 60.0 / keepalive * 2 + 60.0 / state_interval * 2;
  std::printf(
      "total: %.1f wake-ups/min, %.1f voluntary switches/min; keepalive and state alone: "
      "about %.1f/min\n",
      total, total_voluntary, floor);
  const auto status = read_file(fs::path("/proc") / std::to_string(agent.pid()) / "status");
  std::printf("memory at the end: VmRSS %lld KB, RssAnon %lld KB, threads %lld\n",
              status_field(status, "VmRSS"), status_field(status, "RssAnon"),
              status_field(status, "Threads"));
  return 0;
}
