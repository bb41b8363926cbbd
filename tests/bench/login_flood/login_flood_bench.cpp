// An authenticated read's latency while a login flood hashes passwords (DESIGN.md section 5:
// PBKDF2 per login). The whole product runs on 127.0.0.1 (cloud_stack: dev PKI, Mosquitto,
// aterm-cloud serve); one client signed in as acme's administrator reads GET /api/v1/devices
// over one kept connection, first alone, then while `flooders` threads post logins for unknown
// accounts of acme, each from the next of 1,300 source addresses (127.0.x.y, the client socket
// bound to it), so no address reaches the login throttle and every login verifies a (dummy)
// hash. Prints p50/p99/max of the read and how the flood's logins were answered; never passes or
// fails.
//
// Usage: bench_login_flood [--seconds N] [--flooders N] [--iterations N]
//   --seconds     length of each phase. Default: 10.
//   --flooders    concurrent flood clients. Default: 32.
//   --iterations  security.password_iterations. Default: 100000 (1/6 of the 600,000 default,
//                 as in the attack that measured 337 ms).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../bench_figures.h"
#include "cloud_stack.h"

namespace t = aterm::test;
using clock_type = std::chrono::steady_clock;

using aterm::bench::percentile;

namespace {

// Source addresses of the flood, as many as the attack used.
constexpr int k_flood_addresses = 1300;

struct figures {
  std::vector<double> read_ms;
  std::size_t read_errors = 0;
};

std::string flood_address(int n) {
  int i = n % k_flood_addresses;
  return "127.0." + std::to_string(1 + i / 250) + "." + std::to_string(1 + i % 250);
}

figures read_for(t::https_client& reader, std::chrono::seconds length) {
  figures f;
  auto end = clock_type::now() + length;
  while (clock_type::now() < end) {
    auto started = clock_type::now();
    try {
      auto a = reader.request("GET", "devices");
      if (a.status != 200) ++f.read_errors;
    } catch (const std::exception&) {
      ++f.read_errors;
    }
    std::chrono::duration<double, std::milli> took = clock_type::now() - started;
    f.read_ms.push_back(took.count());
  }
  return f;
}

void print(const char* phase, const figures& f) {
  std::printf("%-22s reads %6zu  p50 %8.1f ms  p99 %8.1f ms  max %8.1f ms  errors %zu\n", phase,
              f.read_ms.size(), percentile(f.read_ms, 0.50), percentile(f.read_ms, 0.99),
              f.read_ms.empty() ? 0.0 : *std::max_element(f.read_ms.begin(), f.read_ms.end()),
              f.read_errors);
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 10;
  int flooders = 32;
  long iterations = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--flooders") == 0) flooders = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--iterations") == 0) iterations = std::atol(argv[i + 1]);
  }
  t::cloud_stack_options o;
  o.name = "bench-login-flood";
  o.security = R"("password_iterations": )" + std::to_string(iterations);
  t::cloud_stack s(o);

  t::tls_options tls;
  tls.ca_file = s.pki().ca().string();
  tls.no_delay = true;
  t::https_client reader(s.https_port(), tls, true);
  if (reader.login("acme", "admin", s.admin_password("acme")).status != 200) {
    std::fprintf(stderr, "login of the reader failed\n");
    return 1;
  }
  std::printf("login flood: %d s per phase, %d flood clients over %d addresses, %ld iterations\n",
              seconds, flooders, k_flood_addresses, iterations);
  print("no flood", read_for(reader, std::chrono::seconds(seconds)));

  std::atomic<bool> stop{false};
  std::atomic<int> next{0};
  std::mutex mu;
  std::map<unsigned, std::size_t> answers;  // status -> count; 0: connection failed
  std::vector<std::thread> flood;
  for (int i = 0; i < flooders; ++i) {
    flood.emplace_back([&] {
      while (!stop) {
        int n = next++;
        t::https_client c(s.https_port(), s.pki().ca().string(), flood_address(n));
        unsigned status = 0;
        try {
          status = c.login("acme", "flood-" + std::to_string(n), "not-the-password").status;
        } catch (const std::exception&) {
        }
        std::lock_guard lock(mu);
        ++answers[status];
      }
    });
  }
  print("during login flood", read_for(reader, std::chrono::seconds(seconds)));
  stop = true;
  for (auto& th : flood) th.join();
  std::printf("flood logins answered:");
  for (auto [status, n] : answers) std::printf("  %u: %zu", status, n);
  std::printf("  (0: connection failed)\n");
  return 0;
}
