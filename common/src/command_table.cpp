#include "aterm/common/command_table.h"

#include <algorithm>
#include <array>
#include <cassert>

#include "aterm/common/limits.h"

namespace aterm::common::commands {

namespace {

namespace lim = common::limits;

constexpr std::array<arg_spec, 0> k_no_args{};
constexpr std::array<std::string_view, 0> k_no_fields{};

constexpr std::array k_reboot_args{
    arg_spec{"delay_s", arg_type::integer, false, 0, lim::k_max_reboot_delay_s, 2}};
constexpr std::array k_config_get_args{
    arg_spec{"keys", arg_type::config_keys, false, 0, lim::k_max_config_entries}};
constexpr std::array k_config_set_args{
    arg_spec{"rev", arg_type::integer, true, 0, lim::k_max_config_rev},
    arg_spec{"values", arg_type::config_values, true, 1, lim::k_max_config_entries}};
constexpr std::array k_diag_ping_args{
    arg_spec{"host", arg_type::host, true},
    arg_spec{"count", arg_type::integer, false, lim::k_diag_min_count, lim::k_diag_max_count,
             lim::k_diag_default_count}};
constexpr std::array k_traceroute_args{
    arg_spec{"host", arg_type::host, true},
    arg_spec{"max_hops", arg_type::integer, false, 1, lim::k_traceroute_max_hops,
             lim::k_traceroute_default_hops}};
constexpr std::array k_dns_args{arg_spec{"name", arg_type::host, true},
                                arg_spec{"server", arg_type::host, false}};
constexpr std::array k_factory_reset_args{
    arg_spec{"confirm", arg_type::literal, true, 0, 0, std::nullopt, "factory_reset"}};
constexpr std::array k_log_tail_args{arg_spec{"lines", arg_type::integer, false, 1,
                                              lim::k_log_tail_max_lines,
                                              lim::k_log_tail_default_lines}};
constexpr std::array k_install_args{
    arg_spec{"login_id", arg_type::login_id, true},
    arg_spec{"salt", arg_type::hex, true, 2, lim::k_max_login_salt_hex},
    arg_spec{"iterations", arg_type::integer, true, 1, lim::k_max_login_iterations},
    arg_spec{"hash", arg_type::hex, true, lim::k_login_hash_hex, lim::k_login_hash_hex},
    arg_spec{"expires_at", arg_type::integer, true, 0, lim::k_max_timestamp_s},
    arg_spec{"ttl_s", arg_type::integer, true, 1, lim::k_max_login_ttl_s}};
constexpr std::array k_revoke_args{arg_spec{"login_id", arg_type::login_id, true}};
constexpr std::array k_secret_args{arg_spec{
    "secret", arg_type::hex, true, lim::k_technician_secret_hex, lim::k_technician_secret_hex}};

constexpr std::array<std::string_view, 1> k_ping_fields{"pong"};
constexpr std::array<std::string_view, 2> k_config_get_fields{"rev", "values"};
constexpr std::array<std::string_view, 1> k_config_set_fields{"rev"};
constexpr std::array<std::string_view, 3> k_diag_ping_fields{"sent", "received", "rtt_ms"};
constexpr std::array<std::string_view, 3> k_traceroute_fields{"host", "reached", "hops"};
constexpr std::array<std::string_view, 3> k_dns_fields{"name", "server", "addresses"};
constexpr std::array<std::string_view, 1> k_log_tail_fields{"lines"};

constexpr std::array k_ops{
    op_spec{op_id::ping, "ping", k_no_args, k_ping_fields, capability::none, true, false},
    op_spec{op_id::state_refresh, "state.refresh", k_no_args, k_no_fields, capability::none, true,
            false},
    op_spec{op_id::reboot, "reboot", k_reboot_args, k_no_fields, capability::reboot, true, false},
    op_spec{op_id::config_get, "config.get", k_config_get_args, k_config_get_fields,
            capability::config, true, false},
    op_spec{op_id::config_set, "config.set", k_config_set_args, k_config_set_fields,
            capability::config, true, false},
    op_spec{op_id::diag_ping, "diag.ping", k_diag_ping_args, k_diag_ping_fields, capability::diag,
            true, false},
    op_spec{op_id::diag_traceroute, "diag.traceroute", k_traceroute_args, k_traceroute_fields,
            capability::diag, true, false},
    op_spec{op_id::diag_dns, "diag.dns", k_dns_args, k_dns_fields, capability::diag, true, false},
    op_spec{op_id::factory_reset, "factory_reset", k_factory_reset_args, k_no_fields,
            capability::factory_reset, true, true},
    op_spec{op_id::log_tail, "log.tail", k_log_tail_args, k_log_tail_fields, capability::logs, true,
            false},
    op_spec{op_id::technician_login_install, "technician_login.install", k_install_args,
            k_no_fields, capability::logins, false, false},
    op_spec{op_id::technician_login_revoke, "technician_login.revoke", k_revoke_args, k_no_fields,
            capability::logins, false, false},
    op_spec{op_id::technician_login_secret, "technician_login.secret", k_secret_args, k_no_fields,
            capability::logins, false, false},
};

// spec_of indexes the table by op_id.
constexpr bool ordered_by_id() {
  for (std::size_t i = 0; i < k_ops.size(); ++i) {
    if (static_cast<std::size_t>(k_ops[i].id) != i) return false;
  }
  return true;
}
static_assert(ordered_by_id(), "k_ops must list the ops in the order of op_id");

status bad_args(std::string message) {
  return op_failure(op_error::bad_args, std::move(message));
}

// What an argument of `a`'s type must be, for the error that names it.
std::string expected(const arg_spec& a) {
  const std::string bounds = std::to_string(a.min) + ".." + std::to_string(a.max);
  switch (a.type) {
    case arg_type::integer:
      return "an integer " + bounds;
    case arg_type::host:
      return "a host name or IP address";
    case arg_type::literal:
      return "\"" + std::string(a.literal) + "\"";
    case arg_type::login_id:
      return "a technician login id";
    case arg_type::hex:
      return "lowercase hex of " + bounds + " characters";
    case arg_type::config_keys:
      return "an array of at most " + std::to_string(a.max) +
             " dotted config keys like \"wifi.ssid\"";
    case arg_type::config_values:
      return "a non-empty object of at most " + std::to_string(a.max) +
             " dotted config keys to strings, numbers or booleans";
  }
  return "?";
}

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

std::optional<std::int64_t> integer_in(const cJSON* v, std::int64_t lo, std::int64_t hi) {
  if (!cJSON_IsNumber(v) || !json_is_integer(v)) return std::nullopt;
  const double d = v->valuedouble;
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) return std::nullopt;
  return static_cast<std::int64_t>(d);
}

// True when `v` is a valid `a`. For the config types, `entry` names the first entry that is
// not a valid one, when the container itself was.
bool fits(const arg_spec& a, const cJSON* v, const char*& entry) {
  const char* text = cJSON_IsString(v) ? v->valuestring : nullptr;
  switch (a.type) {
    case arg_type::integer:
      return integer_in(v, a.min, a.max).has_value();
    case arg_type::host:
      return text != nullptr && valid_host(text);
    case arg_type::literal:
      return text != nullptr && a.literal == text;
    case arg_type::login_id:
      return text != nullptr && valid_login_id(text);
    case arg_type::hex: {
      const std::string_view h = text != nullptr ? text : "";
      const auto n = static_cast<std::int64_t>(h.size());
      return n >= a.min && n <= a.max && n % 2 == 0 &&
             std::all_of(h.begin(), h.end(), is_lower_hex);
    }
    case arg_type::config_keys:
    case arg_type::config_values: {
      const bool keys = a.type == arg_type::config_keys;
      if (keys ? !cJSON_IsArray(v) : (!cJSON_IsObject(v) || v->child == nullptr)) return false;
      if (cJSON_GetArraySize(v) > a.max) return false;
      for (const cJSON* k = v->child; k != nullptr; k = k->next) {
        const bool ok = keys ? cJSON_IsString(k) && valid_config_key(k->valuestring)
                             : valid_config_key(k->string) &&
                                   (cJSON_IsString(k) || cJSON_IsNumber(k) || cJSON_IsBool(k));
        if (!ok) {
          entry = keys ? (cJSON_IsString(k) ? k->valuestring : "") : k->string;
          return false;
        }
      }
      return true;
    }
  }
  return false;
}

status check_one(const arg_spec& a, const cJSON* v) {
  const char* entry = nullptr;
  if (fits(a, v, entry)) return {};
  std::string message = std::string(a.name) + " must be " + expected(a);
  if (entry != nullptr) message += std::string(" (\"") + entry + "\" is not one)";
  return bad_args(std::move(message));
}

}  // namespace

std::string_view to_string(arg_type t) {
  switch (t) {
    case arg_type::integer:
      return "integer";
    case arg_type::host:
      return "host";
    case arg_type::literal:
      return "literal";
    case arg_type::login_id:
      return "login_id";
    case arg_type::hex:
      return "hex";
    case arg_type::config_keys:
      return "config_keys";
    case arg_type::config_values:
      return "config_values";
  }
  return "?";
}

std::string_view to_string(capability c) {
  switch (c) {
    case capability::none:
      return "none";
    case capability::reboot:
      return "reboot";
    case capability::config:
      return "config";
    case capability::diag:
      return "diag";
    case capability::factory_reset:
      return "factory_reset";
    case capability::logs:
      return "logs";
    case capability::logins:
      return "logins";
  }
  return "?";
}

std::span<const op_spec> op_table() {
  return k_ops;
}

const op_spec* find_op(std::string_view name) {
  for (const auto& op : k_ops) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

const op_spec& spec_of(op_id id) {
  const auto& op = k_ops[static_cast<std::size_t>(id)];
  assert(op.id == id);
  return op;
}

std::string_view to_string(op_id id) {
  return spec_of(id).name;
}

result<json_ptr> check_args(const op_spec& op, const cJSON* args) {
  json_ptr out(args == nullptr ? cJSON_CreateObject() : cJSON_Duplicate(args, 1));
  if (!cJSON_IsObject(out.get())) return bad_args("args must be a JSON object");
  for (const cJSON* item = out->child; item != nullptr; item = item->next) {
    const std::string_view k = item->string;
    const bool known =
        std::any_of(op.args.begin(), op.args.end(), [&](const arg_spec& a) { return a.name == k; });
    if (!known) return bad_args("unknown argument \"" + std::string(k) + "\"");
  }
  for (const auto& a : op.args) {
    const std::string name(a.name);
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(out.get(), name.c_str());
    if (v == nullptr) {
      if (a.required) return bad_args(name + " is required");
      if (a.default_value)
        cJSON_AddNumberToObject(out.get(), name.c_str(), static_cast<double>(*a.default_value));
      continue;
    }
    if (auto s = check_one(a, v); !s.ok()) return s;
  }
  return out;
}

bool valid_host(std::string_view h) {
  if (h.empty() || h.size() > limits::k_max_host) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  // An IPv6 literal may start with "::"; nothing may start with '-' (an option) or '.'.
  if (!alnum(h.front()) && h.front() != ':') return false;
  return std::all_of(h.begin(), h.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '-' || c == ':'; });
}

bool valid_config_key(std::string_view k) {
  if (k.empty() || k.size() > limits::k_max_config_key) return false;
  bool segment_start = true;
  for (char c : k) {
    if (c == '.') {
      if (segment_start) return false;
      segment_start = true;
      continue;
    }
    const bool lower = c >= 'a' && c <= 'z';
    const bool digit_or_us = (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!lower && !(digit_or_us && !segment_start)) return false;
    segment_start = false;
  }
  return !segment_start;
}

bool valid_login_id(std::string_view id) {
  if (id.empty() || id.size() > limits::k_max_login_id) return false;
  return std::all_of(id.begin(), id.end(), [](char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
  });
}

namespace {

constexpr std::array<std::pair<event_type, std::string_view>, 6> k_events{{
    {event_type::boot, "boot"},
    {event_type::config_changed, "config.changed"},
    {event_type::technician_login_used, "technician_login.used"},
    {event_type::technician_login_failed, "technician_login.failed"},
    {event_type::technician_login_locked, "technician_login.locked"},
    {event_type::technician_login_ended, "technician_login.ended"},
}};

constexpr std::array<std::pair<op_error, std::string_view>, 5> k_errors{{
    {op_error::bad_args, "bad_args"},
    {op_error::stale_rev, "stale_rev"},
    {op_error::unsupported, "unsupported"},
    {op_error::failed, "error"},
    {op_error::io, "io"},
}};

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& names, E e) {
  for (const auto& [v, s] : names) {
    if (v == e) return s;
  }
  return "?";
}

template <typename E, std::size_t N>
std::optional<E> value_of(const std::array<std::pair<E, std::string_view>, N>& names,
                          std::string_view s) {
  for (const auto& [v, n] : names) {
    if (n == s) return v;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(event_type t) {
  return name_of(k_events, t);
}

std::optional<event_type> parse_event_type(std::string_view s) {
  return value_of(k_events, s);
}

std::string_view to_string(op_error e) {
  return name_of(k_errors, e);
}

std::optional<op_error> parse_op_error(std::string_view s) {
  return value_of(k_errors, s);
}

status op_failure(op_error e, std::string message) {
  return status::error(std::string(to_string(e)), std::move(message));
}

op_error error_of(const status& s) {
  assert(!s.ok());
  return parse_op_error(s.code()).value_or(op_error::failed);
}

bool failed_with(const status& s, op_error e) {
  return !s.ok() && parse_op_error(s.code()) == e;
}

std::string encode(const technician_login_install& a) {
  json_ptr o(cJSON_CreateObject());
  cJSON_AddStringToObject(o.get(), "login_id", a.login_id.c_str());
  cJSON_AddStringToObject(o.get(), "salt", a.salt_hex.c_str());
  cJSON_AddNumberToObject(o.get(), "iterations", static_cast<double>(a.iterations));
  cJSON_AddStringToObject(o.get(), "hash", a.hash_hex.c_str());
  cJSON_AddNumberToObject(o.get(), "expires_at", static_cast<double>(a.expires_at));
  cJSON_AddNumberToObject(o.get(), "ttl_s", static_cast<double>(a.ttl_s));
  return print_json(o.get());
}

result<technician_login_install> decode_technician_login_install(std::string_view args_json) {
  auto parsed = parse_json(args_json);
  if (!parsed.ok()) return bad_args("technician_login.install: args are not JSON");
  auto checked = check_args(spec_of(op_id::technician_login_install), parsed->get());
  if (!checked.ok()) return bad_args("technician_login.install: " + checked.error().message());
  const cJSON* o = checked->get();
  technician_login_install a;
  a.login_id = *json_string(o, "login_id");
  a.salt_hex = *json_string(o, "salt");
  a.iterations = *json_int(o, "iterations");
  a.hash_hex = *json_string(o, "hash");
  a.expires_at = *json_int(o, "expires_at");
  a.ttl_s = *json_int(o, "ttl_s");
  return a;
}

}  // namespace aterm::common::commands
