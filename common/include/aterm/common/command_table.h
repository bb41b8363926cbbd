// The command vocabulary of DESIGN.md section 3, defined once as data: every op with its
// arguments (type, bounds, default), the fields of its `ok` result and the backend capability it
// needs; the event types; the error codes of a failed op; the technician_login.install
// arguments. The cloud validates a command against this table before storing it and the agent
// dispatches from it, so both ends read one definition (as OB-USP-Agent registers each operation
// with its argument schema). Adding an op is one entry in k_ops plus one handler in the agent.
// Everything here is constant data and pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aterm/common/json.h"
#include "aterm/common/status.h"

namespace aterm::common::commands {

enum class op_id {
  ping,
  state_refresh,
  reboot,
  config_get,
  config_set,
  diag_ping,
  diag_traceroute,
  diag_dns,
  factory_reset,
  log_tail,
  technician_login_install,
  technician_login_revoke,
  technician_login_secret,
};

enum class arg_type {
  integer,        // a JSON integer in [min, max]
  host,           // a host name or IP literal (valid_host)
  literal,        // a string equal to `literal` (a confirmation)
  login_id,       // a technician login id (valid_login_id)
  hex,            // lowercase hex of min..max characters, even length
  config_keys,    // an array of at most max dotted config keys
  config_values,  // a non-empty object of at most max dotted config keys to scalars
};
// "integer", "host", "literal", "login_id", "hex", "config_keys", "config_values".
std::string_view to_string(arg_type t);

struct arg_spec {
  std::string_view name;
  arg_type type;
  bool required;
  std::int64_t min = 0;  // integer: lowest value; hex: fewest characters
  std::int64_t max = 0;  // integer: highest value; hex: most characters; config_*: most entries
  std::optional<std::int64_t> default_value = std::nullopt;  // integer only
  std::string_view literal = {};                             // literal only
};

// What a backend must provide for the op; the agent answers `unsupported` without it.
enum class capability { none, reboot, config, diag, factory_reset, logs, logins };
std::string_view to_string(capability c);

struct op_spec {
  op_id id;
  std::string_view name;
  std::span<const arg_spec> args;
  std::span<const std::string_view> result_fields;  // top-level fields of the `ok` result
  capability needs;
  // False for ops the cloud issues itself (technician_login.*): the command API refuses them.
  bool operator_issued;
  // The cloud records the command in the audit log as a warning (destructive ops).
  bool audit_warning;
};

// Every op, in the order of DESIGN.md section 3 followed by the later ones.
std::span<const op_spec> op_table();
// nullptr for an unknown op name.
const op_spec* find_op(std::string_view name);
const op_spec& spec_of(op_id id);
std::string_view to_string(op_id id);

// Checks `args` (nullptr: absent, taken as {}) against `op`: only the op's arguments, each of its
// type and within its bounds, every required one present. Returns a copy with every absent
// optional argument that has a default filled in, so the cloud stores and the agent runs the
// same values. Error "bad_args" naming the argument.
result<json_ptr> check_args(const op_spec& op, const cJSON* args);

// Host names and IP literals handed to a program as one argument: 1..253 characters of
// [A-Za-z0-9.:-], starting with a letter or digit, so never an option ("-f") and never
// anything a shell would read.
bool valid_host(std::string_view host);
// Dotted lowercase config keys ("wifi.ssid"): segments of [a-z][a-z0-9_-]*, at most 128.
bool valid_config_key(std::string_view key);
// Technician login ids: 1..64 of [A-Za-z0-9_-] (the cloud issues "T-" + 8 characters).
bool valid_login_id(std::string_view id);

// The events a device publishes (DESIGN.md section 3).
enum class event_type {
  boot,
  config_changed,
  technician_login_used,
  technician_login_failed,
  technician_login_locked,
  technician_login_ended,  // the local session a use opened ended (logout, expiry, reboot)
};
std::string_view to_string(event_type t);
std::optional<event_type> parse_event_type(std::string_view s);

// Why an op failed; each maps to one result status. Backends and the agent's handlers return
// op_failure(...) statuses, whose code() is to_string(code).
enum class op_error {
  bad_args,     // `rejected`: the arguments do not fit (also from a hook)
  stale_rev,    // `rejected`: config.set with a rev that is not the current one
  unsupported,  // `unsupported`: the backend cannot do this
  failed,       // `error`: the op ran and failed (a hook exited non-zero, a program timed out)
  io,           // `error`: the router could not write its own files
};
std::string_view to_string(op_error e);
std::optional<op_error> parse_op_error(std::string_view s);
status op_failure(op_error e, std::string message);
// The op_error of a failed status; `failed` for a code outside the enum. REQUIRES: !s.ok().
op_error error_of(const status& s);
// True when `s` failed with exactly `e` (a code outside the enum is none of them).
bool failed_with(const status& s, op_error e);

// The arguments of technician_login.install (DESIGN.md section 4), one struct for both ends.
struct technician_login_install {
  std::string login_id;
  std::string salt_hex;  // lowercase hex
  std::int64_t iterations = 0;
  std::string hash_hex;  // lowercase hex of PBKDF2-HMAC-SHA256(password, salt, iterations, 32)
  std::int64_t expires_at = 0;  // unix seconds
  std::int64_t ttl_s = 0;       // lifetime from receipt on the router
};
// Compact JSON object. REQUIRES: the fields pass the table's checks.
std::string encode(const technician_login_install& a);
// Error "bad_args" naming the field.
result<technician_login_install> decode_technician_login_install(std::string_view args_json);

}  // namespace aterm::common::commands
