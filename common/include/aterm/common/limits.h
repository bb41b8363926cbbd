// Every limit of common/ in one place, each with its reason.
#pragma once

#include <cstddef>

namespace aterm::common::limits {

// The broker refuses larger payloads (DESIGN.md section 3); we refuse them before parsing too.
inline constexpr std::size_t k_max_payload_bytes = 64 * 1024;
// Device messages are shallow; a small depth bound stops stack-exhaustion input long before
// cJSON's own limit of 1000.
inline constexpr int k_max_json_depth = 16;
// Configuration files are small hand-written JSON; bound them like payloads but a bit deeper.
inline constexpr std::size_t k_max_config_bytes = 1024 * 1024;
inline constexpr int k_max_config_depth = 8;
// device_id is ^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$.
inline constexpr std::size_t k_max_device_id = 64;
// Command ids are ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$.
inline constexpr std::size_t k_max_command_id = 64;
// Op names, event types and the agent version string are short identifiers.
inline constexpr std::size_t k_max_name = 64;
// Error text in a result is for humans; longer text is truncated by the encoder.
inline constexpr std::size_t k_max_error_text = 1024;
// Timestamps on the wire (ts, deadline) are unix seconds in [0, 2100-01-01): later values are
// bogus and would overflow nanosecond time points near the year 2262.
inline constexpr long long k_max_timestamp_s = 4102444800;

}  // namespace aterm::common::limits
