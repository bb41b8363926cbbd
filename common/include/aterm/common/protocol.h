// MQTT wire protocol version 1 (DESIGN.md section 3): topics and the five message kinds.
// Decoders are strict: exact types, required fields, "v" == 1, the id formats, the 64 KiB limit
// and the nesting bound; every failure is a status naming what is wrong. Nested JSON values
// (args, result, config values, extra event fields) are carried as compact JSON text so the
// structs stay plain values. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aterm/common/status.h"

namespace aterm::common::protocol {

inline constexpr int k_version = 1;
inline constexpr std::string_view k_topic_root = "aterm/v1/";

enum class topic_kind { presence, state, cmd, result, event };

// "presence", "state", "cmd", "result", "event".
std::string_view to_string(topic_kind k);

// ^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$
bool valid_device_id(std::string_view id);
// ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$
bool valid_command_id(std::string_view id);
// ^[a-z][a-z0-9_.]{0,63}$ (op names and event types)
bool valid_name(std::string_view name);

// "aterm/v1/{device_id}/{kind}". REQUIRES: valid_device_id(device_id).
std::string topic(std::string_view device_id, topic_kind kind);
// "aterm/v1/+/{kind}", for the cloud's subscriptions.
std::string topic_filter(topic_kind kind);

struct parsed_topic {
  std::string device_id;
  topic_kind kind;
};
// Errors: "bad_topic" (wrong root, segment count, unknown kind, invalid device id).
result<parsed_topic> parse_topic(std::string_view topic);

struct presence {
  bool online = false;
  std::string agent;  // agent version
  int64_t ts = 0;     // unix seconds
};

// Fields are absent (nullopt) where the backend cannot read them.
struct state_snapshot {
  int64_t ts = 0;
  int64_t seq = 0;
  std::optional<std::string> model;
  std::optional<std::string> fw;
  std::optional<int64_t> uptime_s;
  std::optional<std::string> wan_ip;
  std::optional<bool> wan_up;
  std::optional<int64_t> lan_clients;
  std::optional<double> cpu_load1;
  std::optional<int64_t> mem_total_kb;
  std::optional<int64_t> mem_free_kb;
  std::optional<int64_t> config_rev;
};

struct command {
  std::string id;
  std::string op;
  std::string args_json = "{}";  // compact JSON object
  int64_t deadline = 0;          // unix seconds
};

enum class result_status { ok, error, rejected, expired, unsupported, progress };
std::string_view to_string(result_status s);
std::optional<result_status> parse_result_status(std::string_view s);
// Everything but progress ends a command.
inline bool is_final(result_status s) {
  return s != result_status::progress;
}

struct command_result {
  std::string id;
  result_status status = result_status::ok;
  std::string result_json = "{}";  // compact JSON object
  std::string error;               // empty when none; truncated to limits::k_max_error_text
};

struct event {
  int64_t ts = 0;
  std::string type;
  std::string fields_json = "{}";  // compact JSON object of every field except v, ts and type
};

// Compact JSON of DESIGN.md section 3. What the decoders accept encodes to text they accept
// again (round trip). REQUIRES: valid ids and names, ts/deadline in [0,
// limits::k_max_timestamp_s], counts >= 0, *_json holding a JSON object (asserted; "{}" is sent
// in a release build); an error longer than limits::k_max_error_text is cut on a UTF-8 boundary.
std::string encode(const presence& p);
std::string encode(const state_snapshot& s);
std::string encode(const command& c);
std::string encode(const command_result& r);
std::string encode(const event& e);

// Each decoder checks size (64 KiB), depth, UTF-8, "v" == 1, required fields and their types,
// the id formats, and ranges: timestamps in [0, limits::k_max_timestamp_s], counts >= 0. Unknown
// extra fields are ignored, except in events where they are kept. When `topic_device_id` is given
// and the payload carries a "device_id" field, the two must be equal. Error codes: "too_large",
// "bad_json", "bad_version", "missing_field", "wrong_type", "bad_value", "id_mismatch". The message
// names the field.
result<presence> decode_presence(std::string_view payload, std::string_view topic_device_id = {});
result<state_snapshot> decode_state(std::string_view payload,
                                    std::string_view topic_device_id = {});
result<command> decode_command(std::string_view payload, std::string_view topic_device_id = {});
result<command_result> decode_result(std::string_view payload,
                                     std::string_view topic_device_id = {});
result<event> decode_event(std::string_view payload, std::string_view topic_device_id = {});

// For a command that failed decode_command: the id when the payload is JSON with a valid "id"
// string, so the agent can answer `rejected` with the reason.
std::optional<std::string> peek_command_id(std::string_view payload);

}  // namespace aterm::common::protocol
