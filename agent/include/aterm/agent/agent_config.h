// The agent's configuration file (DESIGN.md section 7): JSON, nested or dotted keys, an unknown
// key or a wrong type is an error naming the key.
//
// Keys fixed by DESIGN.md section 7:
//   device_id, broker.uri (ssl://host:port), broker.ca, broker.cert, broker.key, data_dir,
//   backend.type ("sim" | "linux"), backend.file (sim), local_socket, state_interval_s
//   (default 300), simulate.cert_dir, simulate.ca_cert, simulate.ca_key.
// Extra keys of the agent (issue 3), each with its default:
//   local_socket_group    ""     group allowed on the socket (mode 0660); "" = mode 0600,
//                         owner only
//   keepalive_s           60     MQTT keepalive
//   connect_timeout_s     30     TLS + CONNECT must finish within this
//   reconnect.base_ms     1000   first backoff ceiling
//   reconnect.cap_s       300    backoff cap
//   reconnect.stable_s    60     a connection up this long resets the backoff
//   state_poll_s          30     how often the backend is read to detect a change of state
//   outbox.max_entries    1000   unsent results/events kept
//   outbox.max_bytes      1048576
//   dedupe.entries        1000   command ids remembered
//   clock.trust_floor     1767225600 (2026-01-01Z) unix seconds; the device clock counts as
//                         trustworthy for command deadlines only when it reads at least this
//                         (a router that booted without RTC starts in 1970 or at its build date)
//   clock.require_sync    false  also require the kernel's NTP-synchronised flag (adjtimex)
//   wan_interface         ""     linux: WAN interface; "" = first non-loopback with IPv4
//   dhcp_leases           ""     linux: dnsmasq leases file for lan.clients
//   model, firmware       ""     linux: override /etc/openwrt_release and /etc/os-release
//   hooks.reboot, hooks.config_get, hooks.config_set, hooks.diag   [] linux: argv of hook programs
//   hooks.timeout_s       10     linux: a hook is killed after this
//   hooks.factory_reset   []     linux: argv of the factory reset program; empty = factory_reset
//                         answered `unsupported`
//   diag.ping_program     /bin/ping  linux: used for diag.ping when hooks.diag is empty
//   diag.traceroute_program /usr/bin/traceroute  linux: diag.traceroute when hooks.diag is empty
//   diag.dns_program      /usr/bin/host  linux: diag.dns when hooks.diag is empty
//   sim.reboot_s          1      sim: how long a simulated reboot keeps the router offline
//   simulate.connect_per_s 50    simulate: connection attempts started per second (ramp: TLS
//                         handshakes cost the broker and this process CPU)
//   simulate.connecting_max 16   simulate: routers in the middle of connecting at once
//   simulate.state_interval_ms 0 simulate only (`run` ignores it): each simulated router
//                         publishes its state snapshot every this many ms, 10 .. 86400000, for
//                         load tests; 0 = use state_interval_s
//   technician.failure_limit 10  refused technician login checks per window, router-wide
//                         (docs/security.md); beyond it every check is refused
//   technician.failure_window_s 600  that window, on the monotonic clock
//   technician.max_clock_skew_s 300  an offline credential is accepted this long before its
//                         issue time (the cloud's clock and a trusted router clock differ)
//   shutdown_timeout_ms   2000   how long a clean shutdown waits for the offline presence
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "aterm/agent/backend.h"
#include "aterm/agent/backoff.h"
#include "aterm/agent/login_store.h"
#include "aterm/agent/outbox.h"
#include "aterm/common/config.h"

namespace aterm::agent {

const common::config_schema& agent_config_schema();

inline constexpr std::int64_t k_default_trust_floor = 1767225600;  // 2026-01-01T00:00:00Z

// Everything one router_agent needs. Plain value; copy per simulated router.
struct router_settings {
  std::string device_id;
  std::string broker_uri;
  std::string ca;
  std::string cert;
  std::string key;
  std::filesystem::path data_dir;
  std::string backend_type = "sim";
  std::filesystem::path backend_file;
  // The periodic snapshot; also bounds the pace of on-change snapshots when shorter than
  // limits::k_min_snapshot_period_ms.
  std::chrono::milliseconds state_interval{300000};
  std::chrono::seconds state_poll{30};
  int keepalive_s = 60;
  int connect_timeout_s = 30;
  backoff_settings reconnect;
  outbox_settings outbox;
  std::size_t dedupe_entries = 1000;
  std::int64_t clock_trust_floor = k_default_trust_floor;
  bool clock_require_sync = false;
  int technician_failure_limit = 10;
  std::int64_t technician_failure_window_s = 600;
  std::int64_t technician_max_clock_skew_s = 300;
  std::chrono::milliseconds sim_reboot{1000};
  std::chrono::milliseconds shutdown_timeout{2000};
  linux_backend_settings linux_backend;
};

// Reads the router settings from a loaded configuration. Errors: "config_missing_key" for a
// required key without a value, "config_bad_value" for a value out of its domain.
common::result<router_settings> router_settings_from(const common::config& c);

// The offline technician login rules of these settings.
offline_rules technician_rules(const router_settings& s);

// The `simulate` keys. Plain value.
struct simulate_settings {
  std::string cert_dir;
  std::string ca_cert;
  std::string ca_key;
  std::int64_t connect_per_s = 50;
  std::size_t connecting_max = 16;
  // simulate.state_interval_ms when set: replaces state_interval of every simulated router.
  std::optional<std::chrono::milliseconds> state_interval;
};

// Reads the simulate keys. Errors: "config_out_of_range" for simulate.state_interval_ms in
// 1..9, "config_missing_key" without simulate.cert_dir or simulate.ca_cert + simulate.ca_key.
common::result<simulate_settings> simulate_settings_from(const common::config& c);

}  // namespace aterm::agent
