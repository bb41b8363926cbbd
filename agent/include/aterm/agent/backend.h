// The device backend (issue 3): everything the agent reads from or does to the router, behind
// one interface, as OB-USP-Agent keeps firmware integration behind vendor_api.h. `linux` reads
// /proc and interface addresses and runs operator-configured hook programs; `sim` keeps a
// simulated router in one JSON file. Called only from the agent thread; implementations need not
// be thread-safe. Every call may block for at most its hook timeout (linux) and returns
// promptly for sim.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/common/clock.h"
#include "aterm/common/command_table.h"
#include "aterm/common/protocol.h"
#include "aterm/common/status.h"

namespace aterm::agent {

class backend {
 public:
  virtual ~backend() = default;

  // The state snapshot without ts and seq (the agent sets those). Fields the backend cannot
  // read stay nullopt.
  virtual common::protocol::state_snapshot read_state() = 0;

  // config.get: the result object text {"rev":n,"values":{...}}; `keys` empty means all.
  // Errors: "unsupported" (no way to read config), "error" (the hook failed).
  virtual common::result<std::string> config_get(const std::vector<std::string>& keys) = 0;
  // config.set: applies `values_json` (an object of dotted keys) when `rev` is the current
  // revision; returns the new revision. Errors: "stale_rev", "bad_args" (both answered
  // `rejected`), "unsupported", "error".
  virtual common::result<std::int64_t> config_set(std::int64_t rev,
                                                  std::string_view values_json) = 0;
  // False when the ops needing `c` can only fail with "unsupported" (checked before running
  // them, so a reboot is never answered `ok` and then not done).
  virtual bool supports(common::commands::capability c) const = 0;
  // Starts the reboot (the delay has already passed). Errors: "unsupported", "error".
  virtual common::status reboot() = 0;
  // True when reboot() only simulates a reboot and the agent must drop and re-establish its
  // own connection (sim); false when the process is about to die with the system (linux).
  virtual bool simulated_reboot() const = 0;
  // diag.ping: the result object text {"sent":..,"received":..,"rtt_ms":{...}}.
  // REQUIRES (every diag_*): host names passed common::commands::valid_host, numbers within the
  // command table's bounds.
  virtual common::result<std::string> diag_ping(const std::string& host, int count) = 0;
  // diag.traceroute: {"host":..,"reached":bool,"hops":[{"hop":n,"addr":"..","rtt_ms":..},..]}
  // (addr and rtt_ms absent for a hop that did not answer).
  virtual common::result<std::string> diag_traceroute(const std::string& host, int max_hops) = 0;
  // diag.dns: {"name":..,"server":..,"addresses":["..",..]}; server absent = the router's own
  // resolver.
  virtual common::result<std::string> diag_dns(const std::string& name,
                                               const std::optional<std::string>& server) = 0;
  // factory_reset: returns the router's configuration to its defaults. Errors: "unsupported",
  // "error".
  virtual common::status factory_reset() = 0;
};

struct sim_backend_settings {
  std::filesystem::path file;  // backend.file: created with defaults if missing
  std::string device_id;       // used in the default identity
};
// Errors: "io", "bad_json" when the file exists but cannot be used.
common::result<std::unique_ptr<backend>> make_sim_backend(const sim_backend_settings& s,
                                                          const common::clock& clock);

struct linux_backend_settings {
  std::string proc_root = "/proc";    // tests may point elsewhere
  std::string wan_interface;          // "" = first non-loopback interface with IPv4
  std::filesystem::path dhcp_leases;  // dnsmasq-style leases file; "" = not read
  std::string model;                  // "" = from /etc/openwrt_release or /etc/os-release
  std::string firmware;               // "" = likewise
  std::filesystem::path etc_root = "/etc";
  std::vector<std::string> hook_reboot;         // argv; empty = reboot unsupported
  std::vector<std::string> hook_config_get;     // argv; JSON {"keys":[..]} on stdin
  std::vector<std::string> hook_config_set;     // argv; JSON {"rev":n,"values":{..}} on stdin
  std::vector<std::string> hook_diag;           // argv; JSON {"op":"diag.*",..} on stdin
  std::vector<std::string> hook_factory_reset;  // argv; empty = factory_reset unsupported
  std::string ping_program = "/bin/ping";       // used for diag.ping when hook_diag is empty
  std::string traceroute_program = "/usr/bin/traceroute";  // diag.traceroute, likewise
  std::string dns_program = "/usr/bin/host";               // diag.dns, likewise
  std::chrono::milliseconds hook_timeout{10000};           // Default: 10 s (hooks.timeout_s).
};
std::unique_ptr<backend> make_linux_backend(const linux_backend_settings& s,
                                            const common::clock& clock);

}  // namespace aterm::agent
