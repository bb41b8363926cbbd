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

// Command arguments (command_table.h).
// reboot delay: longer than an hour is surely a mistake in the command.
inline constexpr long long k_max_reboot_delay_s = 3600;
// diag.ping counts (DESIGN.md section 3); 4 when absent, as a desktop ping run by hand.
inline constexpr long long k_diag_min_count = 1;
inline constexpr long long k_diag_max_count = 10;
inline constexpr long long k_diag_default_count = 4;
// diag.traceroute hops: 30 is traceroute's own default and reaches any host on the Internet;
// 15 by default keeps a run to an unreachable host within a few seconds per hop missing.
inline constexpr long long k_traceroute_max_hops = 30;
inline constexpr long long k_traceroute_default_hops = 15;
// log.tail: a screenful by default; 500 lines at most keep the result under the 64 KiB payload.
inline constexpr long long k_log_tail_max_lines = 500;
inline constexpr long long k_log_tail_default_lines = 100;
// Host names are at most 253 characters (RFC 1035); IPv6 literals are shorter.
inline constexpr std::size_t k_max_host = 253;
// Config keys are dotted lowercase names ("wifi.ssid").
inline constexpr std::size_t k_max_config_key = 128;
// One config.get/config.set touches a screenful of keys, far below the 64 KiB message limit.
inline constexpr long long k_max_config_entries = 256;
// config.set rev: a JSON integer exact in a double.
inline constexpr long long k_max_config_rev = 1LL << 52;
// Technician logins (DESIGN.md section 4): the cloud issues "T-" + 8 characters, 16-byte salts,
// 10,000 iterations and 32-byte hashes; the bounds keep one check under ~1 s of router CPU.
inline constexpr std::size_t k_max_login_id = 64;
inline constexpr long long k_max_login_iterations = 200000;
inline constexpr long long k_max_login_salt_hex = 128;
inline constexpr long long k_login_hash_hex = 64;
// A technician login lives at most a day after receipt.
inline constexpr long long k_max_login_ttl_s = 24 * 3600;
// technician_login.secret: the per-device secret of offline technician credentials, 32 bytes
// (common/technician_credential.h).
inline constexpr long long k_technician_secret_hex = 64;

}  // namespace aterm::common::limits
