// The command catalogue of DESIGN.md section 3 and the shape of each op's args. A command that
// passes here is encoded for the device as it stands, so every field is checked for type and
// range and unknown fields are refused: nothing the device would reject is ever stored.
#include <cmath>
#include <string>

#include "api_internal.h"

namespace aterm::cloud::api {

namespace {

// Config keys are dotted lowercase names ("wifi.ssid").
constexpr std::size_t k_max_config_key = 128;
// One config.get/config.set touches a screenful of keys, far below the 64 KiB message limit.
constexpr std::size_t k_max_config_entries = 256;
// Host names are at most 253 characters (RFC 1035); IPv6 literals are shorter.
constexpr std::size_t k_max_host = 253;
// args are part of a message the broker caps at 64 KiB; leave room for the envelope.
constexpr std::size_t k_max_args_bytes = 32 * 1024;

common::status bad(std::string message) {
  return common::status::error("bad_command", std::move(message));
}

bool valid_config_key(std::string_view k) {
  if (k.empty() || k.size() > k_max_config_key) return false;
  bool segment_start = true;
  for (char c : k) {
    if (c == '.') {
      if (segment_start) return false;
      segment_start = true;
      continue;
    }
    bool lower = c >= 'a' && c <= 'z';
    bool digit_or_us = (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!lower && !(digit_or_us && !segment_start)) return false;
    segment_start = false;
  }
  return !segment_start;
}

// Letters, digits, '.', '-', ':' (IPv6); never a leading '-', which a ping tool would read as an
// option.
bool valid_host(std::string_view h) {
  if (h.empty() || h.size() > k_max_host || h.front() == '-') return false;
  for (char c : h) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// Only `allowed` keys in `args`.
common::status only_keys(const cJSON* args, std::initializer_list<std::string_view> allowed) {
  for (const cJSON* item = args->child; item != nullptr; item = item->next) {
    std::string_view k = item->string;
    bool known = false;
    for (auto a : allowed) known = known || a == k;
    if (!known) return bad("unknown argument \"" + std::string(k) + "\"");
  }
  return {};
}

std::optional<std::int64_t> integer_in(const cJSON* v, std::int64_t lo, std::int64_t hi) {
  if (!cJSON_IsNumber(v) || !common::json_is_integer(v)) return std::nullopt;
  double d = v->valuedouble;
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) return std::nullopt;
  return static_cast<std::int64_t>(d);
}

}  // namespace

common::result<validated_command> validate_command(std::string_view op, const cJSON* args) {
  common::json_ptr owned;
  if (args == nullptr) {
    owned.reset(cJSON_CreateObject());
    args = owned.get();
  }
  if (!cJSON_IsObject(args)) return bad("args must be a JSON object");
  common::json_ptr out(cJSON_Duplicate(args, 1));

  if (op == "ping" || op == "state.refresh") {
    if (auto s = only_keys(args, {}); !s.ok()) return s;
  } else if (op == "reboot") {
    if (auto s = only_keys(args, {"delay_s"}); !s.ok()) return s;
    const cJSON* d = cJSON_GetObjectItemCaseSensitive(args, "delay_s");
    if (d != nullptr && !integer_in(d, 0, 3600)) return bad("delay_s must be an integer 0..3600");
  } else if (op == "config.get") {
    if (auto s = only_keys(args, {"keys"}); !s.ok()) return s;
    const cJSON* keys = cJSON_GetObjectItemCaseSensitive(args, "keys");
    if (keys != nullptr) {
      if (!cJSON_IsArray(keys)) return bad("keys must be an array of config keys");
      if (static_cast<std::size_t>(cJSON_GetArraySize(keys)) > k_max_config_entries) {
        return bad("too many keys");
      }
      for (const cJSON* k = keys->child; k != nullptr; k = k->next) {
        if (!cJSON_IsString(k) || !valid_config_key(k->valuestring)) {
          return bad("keys must be dotted config keys like \"wifi.ssid\"");
        }
      }
    }
  } else if (op == "config.set") {
    if (auto s = only_keys(args, {"rev", "values"}); !s.ok()) return s;
    const cJSON* rev = cJSON_GetObjectItemCaseSensitive(args, "rev");
    if (rev == nullptr || !integer_in(rev, 0, std::int64_t{1} << 52)) {
      return bad("rev must be the current config revision (a non-negative integer)");
    }
    const cJSON* values = cJSON_GetObjectItemCaseSensitive(args, "values");
    if (!cJSON_IsObject(values) || values->child == nullptr) {
      return bad("values must be a non-empty object of config keys");
    }
    if (static_cast<std::size_t>(cJSON_GetArraySize(values)) > k_max_config_entries) {
      return bad("too many values");
    }
    for (const cJSON* v = values->child; v != nullptr; v = v->next) {
      if (!valid_config_key(v->string)) {
        return bad("\"" + std::string(v->string) + "\" is not a dotted config key");
      }
      if (!cJSON_IsString(v) && !cJSON_IsNumber(v) && !cJSON_IsBool(v)) {
        return bad("config value of \"" + std::string(v->string) +
                   "\" must be a string, number or boolean");
      }
    }
  } else if (op == "diag.ping") {
    if (auto s = only_keys(args, {"host", "count"}); !s.ok()) return s;
    const cJSON* host = cJSON_GetObjectItemCaseSensitive(args, "host");
    if (!cJSON_IsString(host) || !valid_host(host->valuestring)) {
      return bad("host must be a host name or IP address");
    }
    const cJSON* count = cJSON_GetObjectItemCaseSensitive(args, "count");
    if (count == nullptr) {
      cJSON_AddNumberToObject(out.get(), "count", 4);
    } else if (!integer_in(count, 1, 10)) {
      return bad("count must be an integer 1..10");
    }
  } else if (op == "technician_login.install" || op == "technician_login.revoke") {
    return bad(std::string(op) + " is issued through /devices/{id}/technician-logins");
  } else {
    return bad("unknown op \"" + std::string(op) + "\"");
  }

  validated_command v;
  v.op = std::string(op);
  v.args_json = common::print_json(out.get());
  if (v.args_json.size() > k_max_args_bytes) return bad("args too large");
  return v;
}

}  // namespace aterm::cloud::api
