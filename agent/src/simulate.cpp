// `aterm-agent simulate` (programs.h): only in builds with ATERM_AGENT_SIMULATE (host builds;
// router builds leave it and the certificate minting out).
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "aterm/agent/agent_config.h"
#include "aterm/agent/journal_file.h"
#include "aterm/agent/limits.h"
#include "aterm/agent/programs.h"
#include "aterm/agent/router_agent.h"
#include "aterm/common/log.h"
#include "aterm/common/protocol.h"
#include "aterm/common/x509_mint.h"
#include "program_setup.h"

namespace aterm::agent {

namespace {

using common::log_level;
namespace proto = common::protocol;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Raises RLIMIT_NOFILE's soft limit to the hard one and returns how many routers fit under it.
// Each router holds its descriptors for as long as it runs, so a count that does not fit would
// fail router by router at connect time, much later and far less clearly.
std::int64_t routers_within_descriptor_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return limits::k_max_simulated;
  if (rl.rlim_cur != rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      rl = raised;
    } else {
      common::log(log_level::warn, "simulate", "cannot raise the descriptor limit",
                  {{"error", std::strerror(errno)}});
    }
  }
  if (rl.rlim_cur == RLIM_INFINITY) return limits::k_max_simulated;
  const auto soft = static_cast<std::int64_t>(std::min<rlim_t>(rl.rlim_cur, 1u << 30));
  return std::max<std::int64_t>(0, soft - limits::k_simulate_reserved_descriptors) /
         limits::k_descriptors_per_simulated_router;
}

}  // namespace

int simulate(const std::string& config_path, long count, const std::string& id_prefix) {
  program_setup setup(config_path);
  if (!setup.ok()) return 1;
  router_settings& base = setup.settings();
  if (count > limits::k_max_simulated) {
    fail_log("bad arguments", "--count above " + std::to_string(limits::k_max_simulated));
    return 1;
  }
  const std::int64_t fit = routers_within_descriptor_limit();
  if (count > fit) {
    const std::int64_t needed = count * limits::k_descriptors_per_simulated_router +
                                limits::k_simulate_reserved_descriptors;
    std::fprintf(stderr,
                 "aterm-agent simulate: --count %ld needs about %lld open files, the limit "
                 "(RLIMIT_NOFILE, raised to its hard limit) allows %lld routers: run fewer "
                 "routers per process or raise the hard limit (ulimit -Hn, LimitNOFILE=)\n",
                 count, static_cast<long long>(needed), static_cast<long long>(fit));
    fail_log("bad arguments", "--count above what the descriptor limit allows (" +
                                  std::to_string(fit) + " routers)");
    return 1;
  }
  if (!proto::valid_device_id(id_prefix + "00000")) {
    fail_log("bad arguments", "--id-prefix makes invalid device ids");
    return 1;
  }
  auto sim = simulate_settings_from(setup.config());
  if (!sim.ok()) {
    fail_log("bad configuration", sim.error().to_string());
    return 1;
  }
  if (sim->state_interval) base.state_interval = *sim->state_interval;
  const std::string& cert_dir = sim->cert_dir;
  const std::string ca_cert = sim->ca_cert.empty() ? std::string() : read_file(sim->ca_cert);
  const std::string ca_key = sim->ca_key.empty() ? std::string() : read_file(sim->ca_key);

  auto& clock = common::system_clock::instance();
  event_loop loop(limits::k_max_pending_messages * 10);
  std::vector<std::unique_ptr<router_agent>> routers;
  routers.reserve(static_cast<std::size_t>(count));
  for (long i = 1; i <= count; ++i) {
    char num[16];
    std::snprintf(num, sizeof num, "%05ld", i);
    router_settings s = base;
    s.device_id = id_prefix + num;
    s.data_dir = base.data_dir / s.device_id;
    s.backend_type = "sim";
    s.backend_file = s.data_dir / "sim.json";
    std::error_code ec;
    std::filesystem::create_directories(s.data_dir / "tls", ec);
    if (!cert_dir.empty()) {
      s.cert = (std::filesystem::path(cert_dir) / (s.device_id + ".pem")).string();
      s.key = (std::filesystem::path(cert_dir) / (s.device_id + ".key")).string();
    } else {
      s.cert = (s.data_dir / "tls" / "cert.pem").string();
      s.key = (s.data_dir / "tls" / "key.pem").string();
      if (!std::filesystem::exists(s.cert) || !std::filesystem::exists(s.key)) {
        auto minted = common::crypto::mint_device_certificate(ca_cert, ca_key, s.device_id);
        if (!minted.ok()) {
          fail_log("cannot mint certificate", minted.error().to_string());
          return 1;
        }
        if (!journal_file::write_atomic(s.key, minted->key_pem, 0600).ok() ||
            !journal_file::write_atomic(s.cert, minted->cert_pem, 0600).ok()) {
          fail_log("cannot write certificate", s.cert);
          return 1;
        }
      }
    }
    auto be = make_backend(s, clock);
    if (!be.ok()) {
      fail_log("backend", be.error().to_string());
      return 1;
    }
    auto a = router_agent::create(loop, clock, s, std::move(*be));
    if (!a.ok()) {
      fail_log("cannot start router", a.error().to_string());
      return 1;
    }
    routers.push_back(std::move(*a));
  }
  const auto rate = sim->connect_per_s;
  connect_gate gate(sim->connecting_max);
  for (std::size_t i = 0; i < routers.size(); ++i) {
    routers[i]->use_connect_gate(&gate);
    routers[i]->start(std::chrono::milliseconds(static_cast<std::int64_t>(i) * 1000 / rate));
  }

  // A progress line every 10 s: how many routers are connected.
  std::function<void()> report;
  report = [&] {
    std::int64_t up = 0;
    for (const auto& r : routers) up += r->connected() ? 1 : 0;
    common::log(log_level::info, "simulate", "routers connected",
                {{"connected", up}, {"count", static_cast<std::int64_t>(routers.size())}});
    loop.schedule(std::chrono::seconds(10), report);
  };
  loop.schedule(std::chrono::seconds(1), report);
  setup.signals().attach(loop, [&] {
    auto left = std::make_shared<std::size_t>(routers.size());
    for (auto& r : routers)
      r->shutdown([&loop, left] {
        if (--*left == 0) loop.stop();
      });
  });
  loop.run();
  routers.clear();
  return 0;
}

}  // namespace aterm::agent
