#include "aterm/agent/agent_config.h"

#include <cstdint>
#include <iterator>

#include "aterm/agent/limits.h"
#include "aterm/common/protocol.h"

namespace aterm::agent {

using common::config_type;
using common::status;

namespace {

constexpr std::int64_t k_unbounded = INT64_MAX;

// One key of the schema as plain data (a table of rows costs the router build bytes where 44
// config_key constructions cost code). Not required: the default is `text` (string), `value`
// (integer, boolean) or the empty list; integers are bounded by [min, max].
struct key_row {
  const char* name;
  config_type type;
  std::int64_t value;
  std::int64_t min;
  std::int64_t max;
  const char* text;
  bool required;
};

using t = config_type;

constexpr key_row text_key(const char* name, const char* fallback = "") {
  return {name, t::string, 0, 0, k_unbounded, fallback, false};
}
constexpr key_row required_text_key(const char* name) {
  return {name, t::string, 0, 0, k_unbounded, "", true};
}
constexpr key_row int_key(const char* name, std::int64_t fallback, std::int64_t min,
                          std::int64_t max = k_unbounded) {
  return {name, t::integer, fallback, min, max, "", false};
}
constexpr key_row bool_key(const char* name, bool fallback) {
  return {name, t::boolean, fallback ? 1 : 0, 0, k_unbounded, "", false};
}
constexpr key_row list_key(const char* name) {
  return {name, t::string_list, 0, 0, k_unbounded, "", false};
}

constexpr key_row k_keys[] = {
    text_key("device_id"),
    required_text_key("broker.uri"),
    required_text_key("broker.ca"),
    text_key("broker.cert"),
    text_key("broker.key"),
    required_text_key("data_dir"),
    text_key("claim_code_file"),
    text_key("backend.type", "sim"),
    text_key("backend.file"),
    text_key("local_socket"),
    text_key("local_socket_group"),
    int_key("state_interval_s", 300, 1, 86400),
    int_key("state_poll_s", 30, 1, 86400),
    int_key("keepalive_s", 60, 5, 3600),
    int_key("connect_timeout_s", 30, 1, 600),
    int_key("reconnect.base_ms", 1000, 1, 3600000),
    int_key("reconnect.cap_s", 300, 1, 86400),
    int_key("reconnect.stable_s", 60, 0, 86400),
    int_key("outbox.max_entries", 1000, 1, 100000),
    int_key("outbox.max_bytes", 1048576, 1024, 64 * 1048576),
    int_key("dedupe.entries", 1000, 1, 100000),
    int_key("clock.trust_floor", k_default_trust_floor, 0),
    bool_key("clock.require_sync", false),
    int_key("technician.failure_limit", 10, 1, 1000),
    int_key("technician.failure_window_s", 600, 1, 86400),
    int_key("technician.max_clock_skew_s", 300, 0, 86400),
    text_key("wan_interface"),
    text_key("dhcp_leases"),
    text_key("model"),
    text_key("firmware"),
    list_key("hooks.reboot"),
    list_key("hooks.config_get"),
    list_key("hooks.config_set"),
    list_key("hooks.diag"),
    list_key("hooks.factory_reset"),
    int_key("hooks.timeout_s", 10, 1, 600),
    text_key("diag.ping_program", "/bin/ping"),
    text_key("diag.traceroute_program", "/usr/bin/traceroute"),
    text_key("diag.dns_program", "/usr/bin/host"),
    int_key("sim.reboot_s", 1, 0, 3600),
    text_key("simulate.cert_dir"),
    text_key("simulate.ca_cert"),
    text_key("simulate.ca_key"),
    int_key("simulate.connect_per_s", 50, 1, 100000),
    int_key("simulate.connecting_max", 16, 1, 10000),
    int_key("simulate.state_interval_ms", 0, 0, limits::k_max_simulate_state_interval_ms),
    int_key("shutdown_timeout_ms", 2000, 0, 60000),
};

common::config_key key_of(const key_row& r) {
  common::config_key k{r.name, r.type, {}, r.required, {}, {}};
  if (r.type == t::integer) {
    k.min = r.min;
    if (r.max != k_unbounded) k.max = r.max;
  }
  if (r.required) return k;
  switch (r.type) {
    case t::string:
      k.fallback = std::string(r.text);
      break;
    case t::integer:
      k.fallback = r.value;
      break;
    case t::number:
      k.fallback = static_cast<double>(r.value);
      break;
    case t::boolean:
      k.fallback = r.value != 0;
      break;
    case t::string_list:
      k.fallback = std::vector<std::string>{};
      break;
  }
  return k;
}

}  // namespace

const common::config_schema& agent_config_schema() {
  static const common::config_schema schema = [] {
    common::config_schema out;
    out.reserve(std::size(k_keys));
    for (const auto& r : k_keys) out.push_back(key_of(r));
    return out;
  }();
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
  r.technician_failure_limit = static_cast<int>(c.get_int("technician.failure_limit"));
  r.technician_failure_window_s = c.get_int("technician.failure_window_s");
  r.technician_max_clock_skew_s = c.get_int("technician.max_clock_skew_s");
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

offline_rules technician_rules(const router_settings& s) {
  offline_rules r;
  r.device_id = s.device_id;
  r.failure_limit = s.technician_failure_limit;
  r.failure_window_s = s.technician_failure_window_s;
  r.max_clock_skew_s = s.technician_max_clock_skew_s;
  r.trust_floor = s.clock_trust_floor;
  r.require_sync = s.clock_require_sync;
  return r;
}

}  // namespace aterm::agent
