// Every limit of the cloud's security rules in one place, each with its reason.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aterm::cloud::security::limits {

// PBKDF2 of a very long password costs little more, but nobody types more; a bound keeps request
// bodies and the HMAC key small.
inline constexpr std::size_t k_max_password_bytes = 1024;
// Stored hashes are ours; bounds stop a corrupted or planted hash string from making a login
// hash for minutes.
inline constexpr std::uint32_t k_max_pbkdf2_iterations = 10'000'000;
inline constexpr std::size_t k_min_salt_bytes = 8;
inline constexpr std::size_t k_max_salt_bytes = 64;
inline constexpr std::size_t k_min_hash_bytes = 16;
inline constexpr std::size_t k_max_hash_bytes = 64;
// A login id shorter than this is only refused as the whole password, not as a part of it
// (otherwise a one-letter login id would forbid most passwords).
inline constexpr std::size_t k_min_login_id_for_contains = 3;
// Source addresses and companies tracked by the throttle and the burst detector; past this the
// oldest entries are dropped, so an attacker with many addresses cannot exhaust memory.
inline constexpr std::size_t k_max_tracked_keys = 100'000;
// The login gate sweeps idle entries every this many acquisitions; an entry is idle when nothing
// touched it for this long, far longer than a route takes to write a report to the store.
inline constexpr std::size_t k_gate_sweep_every = 256;
inline constexpr std::int64_t k_gate_idle_s = 60;
// A password verification's lease in the store (verification_gate.h) ends by itself after this:
// a verification waits in the hashing queue and hashes for under a second, far less than this,
// and the leases of an instance that died free their slots of the login gate after it.
inline constexpr std::int64_t k_verification_lease_s = 120;
// An X-Forwarded-For header with more elements than this is refused (a bounded walk).
inline constexpr std::size_t k_max_forwarded_for_elements = 32;
// Anchors of the access-log head: one a day for a century is ~36,500 lines; far more is not an
// anchor file, and a bound keeps audit verify's memory small.
inline constexpr std::size_t k_max_anchors = 1'000'000;
// A company's allowlist or the trusted-proxy list; more is a configuration mistake.
inline constexpr std::size_t k_max_cidrs = 1024;
// The audit verifier names at most this many characters of a record in its message.
inline constexpr std::size_t k_max_report_text = 200;
// Bytes per text field of an access-log record (audit_fields.h): the log is kept a year and
// cannot be deleted, so one request must not add more than a few hundred bytes to it. Ids,
// actions and details of our own fit well within it.
inline constexpr std::size_t k_max_audit_field = 256;

}  // namespace aterm::cloud::security::limits
