#include "aterm/agent/agent_config.h"

#include "aterm/agent/limits.h"
#include "aterm/common/protocol.h"

namespace aterm::agent {

using common::config_type;
using common::status;

const common::config_schema& agent_config_schema() {
  using s = std::string;
  using i = std::int64_t;
  using list = std::vector<std::string>;
  static const common::config_schema schema = {
      {"device_id", config_type::string, s{}, false, {}, {}},
      {"broker.uri", config_type::string, {}, true, {}, {}},
      {"broker.ca", config_type::string, {}, true, {}, {}},
      {"broker.cert", config_type::string, s{}, false, {}, {}},
      {"broker.key", config_type::string, s{}, false, {}, {}},
      {"data_dir", config_type::string, {}, true, {}, {}},
      {"claim_code_file", config_type::string, s{}, false, {}, {}},
      {"backend.type", config_type::string, s{"sim"}, false, {}, {}},
      {"backend.file", config_type::string, s{}, false, {}, {}},
      {"local_socket", config_type::string, s{}, false, {}, {}},
      {"local_socket_group", config_type::string, s{}, false, {}, {}},
      {"state_interval_s", config_type::integer, i{300}, false, 1, 86400},
      {"state_poll_s", config_type::integer, i{30}, false, 1, 86400},
      {"keepalive_s", config_type::integer, i{60}, false, 5, 3600},
      {"connect_timeout_s", config_type::integer, i{30}, false, 1, 600},
      {"reconnect.base_ms", config_type::integer, i{1000}, false, 1, 3600000},
      {"reconnect.cap_s", config_type::integer, i{300}, false, 1, 86400},
      {"reconnect.stable_s", config_type::integer, i{60}, false, 0, 86400},
      {"outbox.max_entries", config_type::integer, i{1000}, false, 1, 100000},
      {"outbox.max_bytes", config_type::integer, i{1048576}, false, 1024, 64 * 1048576},
      {"dedupe.entries", config_type::integer, i{1000}, false, 1, 100000},
      {"clock.trust_floor", config_type::integer, i{k_default_trust_floor}, false, 0, {}},
      {"clock.require_sync", config_type::boolean, false, false, {}, {}},
      {"wan_interface", config_type::string, s{}, false, {}, {}},
      {"dhcp_leases", config_type::string, s{}, false, {}, {}},
      {"model", config_type::string, s{}, false, {}, {}},
      {"firmware", config_type::string, s{}, false, {}, {}},
      {"hooks.reboot", config_type::string_list, list{}, false, {}, {}},
      {"hooks.config_get", config_type::string_list, list{}, false, {}, {}},
      {"hooks.config_set", config_type::string_list, list{}, false, {}, {}},
      {"hooks.diag", config_type::string_list, list{}, false, {}, {}},
      {"hooks.factory_reset", config_type::string_list, list{}, false, {}, {}},
      {"hooks.timeout_s", config_type::integer, i{10}, false, 1, 600},
      {"diag.ping_program", config_type::string, s{"/bin/ping"}, false, {}, {}},
      {"diag.traceroute_program", config_type::string, s{"/usr/bin/traceroute"}, false, {}, {}},
      {"diag.dns_program", config_type::string, s{"/usr/bin/host"}, false, {}, {}},
      {"sim.reboot_s", config_type::integer, i{1}, false, 0, 3600},
      {"simulate.cert_dir", config_type::string, s{}, false, {}, {}},
      {"simulate.ca_cert", config_type::string, s{}, false, {}, {}},
      {"simulate.ca_key", config_type::string, s{}, false, {}, {}},
      {"simulate.connect_per_s", config_type::integer, i{50}, false, 1, 100000},
      {"simulate.connecting_max", config_type::integer, i{16}, false, 1, 10000},
      {"simulate.state_interval_ms", config_type::integer, i{0}, false, 0,
       limits::k_max_simulate_state_interval_ms},
      {"shutdown_timeout_ms", config_type::integer, i{2000}, false, 0, 60000},
  };
  return schema;
}

common::result<router_settings> router_settings_from(const common::config& c) {
  router_settings r;
  r.device_id = c.get_string("device_id");
  r.broker_uri = c.get_string("broker.uri");
  r.ca = c.get_string("broker.ca");
  r.cert = c.get_string("broker.cert");
  r.key = c.get_string("broker.key");
  r.data_dir = c.get_string("data_dir");
  r.backend_type = c.get_string("backend.type");
  r.backend_file = c.get_string("backend.file");
  if (r.backend_type != "sim" && r.backend_type != "linux")
    return status::error("config_bad_value",
                         c.source() + ": backend.type must be \"sim\" or \"linux\"");
  if (r.broker_uri.rfind("ssl://", 0) != 0)
    return status::error("config_bad_value", c.source() + ": broker.uri must be ssl://host:port");
  r.state_interval = std::chrono::seconds(c.get_int("state_interval_s"));
  r.state_poll = std::chrono::seconds(c.get_int("state_poll_s"));
  r.keepalive_s = static_cast<int>(c.get_int("keepalive_s"));
  r.connect_timeout_s = static_cast<int>(c.get_int("connect_timeout_s"));
  r.reconnect.base = std::chrono::milliseconds(c.get_int("reconnect.base_ms"));
  r.reconnect.cap = std::chrono::seconds(c.get_int("reconnect.cap_s"));
  r.reconnect.stable = std::chrono::seconds(c.get_int("reconnect.stable_s"));
  r.outbox.max_entries = static_cast<std::size_t>(c.get_int("outbox.max_entries"));
  r.outbox.max_bytes = static_cast<std::size_t>(c.get_int("outbox.max_bytes"));
  r.dedupe_entries = static_cast<std::size_t>(c.get_int("dedupe.entries"));
  r.clock_trust_floor = c.get_int("clock.trust_floor");
  r.clock_require_sync = c.get_bool("clock.require_sync");
  r.sim_reboot = std::chrono::seconds(c.get_int("sim.reboot_s"));
  r.shutdown_timeout = std::chrono::milliseconds(c.get_int("shutdown_timeout_ms"));
  auto& l = r.linux_backend;
  l.wan_interface = c.get_string("wan_interface");
  l.dhcp_leases = c.get_string("dhcp_leases");
  l.model = c.get_string("model");
  l.firmware = c.get_string("firmware");
  l.hook_reboot = c.get_list("hooks.reboot");
  l.hook_config_get = c.get_list("hooks.config_get");
  l.hook_config_set = c.get_list("hooks.config_set");
  l.hook_diag = c.get_list("hooks.diag");
  l.hook_factory_reset = c.get_list("hooks.factory_reset");
  l.hook_timeout = std::chrono::seconds(c.get_int("hooks.timeout_s"));
  l.ping_program = c.get_string("diag.ping_program");
  l.traceroute_program = c.get_string("diag.traceroute_program");
  l.dns_program = c.get_string("diag.dns_program");
  return r;
}

common::result<simulate_settings> simulate_settings_from(const common::config& c) {
  simulate_settings r;
  r.cert_dir = c.get_string("simulate.cert_dir");
  r.ca_cert = c.get_string("simulate.ca_cert");
  r.ca_key = c.get_string("simulate.ca_key");
  r.connect_per_s = c.get_int("simulate.connect_per_s");
  r.connecting_max = static_cast<std::size_t>(c.get_int("simulate.connecting_max"));
  const auto interval_ms = c.get_int("simulate.state_interval_ms");
  if (interval_ms != 0 && interval_ms < limits::k_min_simulate_state_interval_ms)
    return status::error("config_out_of_range",
                         c.source() + ": key \"simulate.state_interval_ms\" must be 0 or in [" +
                             std::to_string(limits::k_min_simulate_state_interval_ms) + ", " +
                             std::to_string(limits::k_max_simulate_state_interval_ms) + "]");
  if (interval_ms != 0) r.state_interval = std::chrono::milliseconds(interval_ms);
  if (r.cert_dir.empty() && (r.ca_cert.empty() || r.ca_key.empty()))
    return status::error("config_missing_key",
                         c.source() +
                             ": simulate needs simulate.cert_dir or simulate.ca_cert + "
                             "simulate.ca_key");
  return r;
}

}  // namespace aterm::agent
