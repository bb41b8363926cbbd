// What the bridge spends per message on decoding (protocol.h's decode_*), the main cost of a
// state snapshot at ingest: time per message over many runs. Instructions per message, a figure
// the machine's load does not move, come from two callgrind runs of one kind:
//
//   bench_decode [MESSAGES [state|result]]        defaults 200000, both kinds
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null bench_decode 1000 state
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null bench_decode 2000 state
//     instructions per message = (Ir of the second - Ir of the first) / 1000
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "aterm/common/protocol.h"

namespace {

namespace protocol = aterm::common::protocol;

// A snapshot as the agent publishes it: every field present, realistic values (214 bytes).
std::string sample_state() {
  protocol::state_snapshot s;
  s.ts = 1764900000;
  s.seq = 48213;
  s.model = "WX5400HP";
  s.fw = "1.2.3-aterm";
  s.uptime_s = 1234567;
  s.wan_ip = "203.0.113.45";
  s.wan_up = true;
  s.lan_clients = 17;
  s.cpu_load1 = 0.42;
  s.mem_total_kb = 524288;
  s.mem_free_kb = 211304;
  s.config_rev = 12;
  return protocol::encode(s);
}

std::string sample_result() {
  protocol::command_result r;
  r.id = "c-0123456789abcdef";
  r.status = protocol::result_status::ok;
  r.result_json = R"({"replies":3,"sent":3,"rtt_ms":[1.2,1.4,1.1]})";
  return protocol::encode(r);
}

template <typename F>
void measure(const char* what, const std::string& payload, long n, F decode) {
  long ok = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) ok += decode(payload) ? 1 : 0;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%-8s %4zu bytes  %8ld decoded  %8.0f ns/msg  %10.0f msg/s\n", what, payload.size(),
              ok, secs * 1e9 / static_cast<double>(n), static_cast<double>(n) / secs);
}

}  // namespace

int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 200000;
  std::string kind = argc > 2 ? argv[2] : "";
  if (n <= 0 || (kind != "" && kind != "state" && kind != "result")) {
    std::fprintf(stderr, "usage: bench_decode [MESSAGES [state|result]]\n");
    return 64;
  }
  if (kind != "result") {
    measure("state", sample_state(), n,
            [](const std::string& p) { return protocol::decode_state(p, "dev-bench-0001").ok(); });
  }
  if (kind != "state") {
    measure("result", sample_result(), n,
            [](const std::string& p) { return protocol::decode_result(p, "dev-bench-0001").ok(); });
  }
  return 0;
}
