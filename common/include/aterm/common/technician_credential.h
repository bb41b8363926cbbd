// Technician credentials a router verifies offline (docs/security.md, "Offline technician
// logins"). The router and the cloud share a per-device secret of k_secret_bytes; a credential
// is
//
//   login_id = "T-" + 8 characters of k_id_alphabet, the 40-bit number
//              issue_minute << 14 | ttl_class << 11 | counter
//              written most significant 5 bits first;
//   password = 12 characters of crypto::k_password_alphabet: the first 12 base-56 digits
//              (least significant first) of the 256-bit big-endian number
//              HMAC-SHA-256(secret, k_context || "\n" || device_id || "\n" || login_id)
//
// where issue_minute counts minutes since k_epoch_s (26 bits: until the year 2153), ttl_class
// indexes k_ttl_class_minutes and counter tells apart credentials of one minute. The login id
// carries the issue time and the lifetime, so a router checks a credential with no contact with
// the cloud, and any change to them changes the password. Pure functions, thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace aterm::common::technician_credential {

inline constexpr std::string_view k_id_alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
inline constexpr std::string_view k_id_prefix = "T-";
inline constexpr std::size_t k_id_chars = 8;
inline constexpr std::size_t k_password_chars = 12;
inline constexpr std::size_t k_secret_bytes = 32;
// Domain separation: a per-device secret signs nothing but credentials of this version.
inline constexpr std::string_view k_context = "aterm-technician-login-v1";
// 2026-01-01T00:00:00Z: no credential was issued before it.
inline constexpr std::int64_t k_epoch_s = 1767225600;
inline constexpr std::int64_t k_max_issue_minute = (std::int64_t{1} << 26) - 1;
inline constexpr std::uint32_t k_max_counter = (1u << 11) - 1;
// The lifetimes a credential can carry; a company's ttl is rounded down to one of them.
inline constexpr std::array<std::int64_t, 8> k_ttl_class_minutes = {1,  5,   15,  30,
                                                                    60, 120, 480, 1440};

struct fields {
  std::int64_t issue_minute = 0;  // minutes since k_epoch_s
  unsigned ttl_class = 0;         // index into k_ttl_class_minutes
  std::uint32_t counter = 0;      // 0 .. k_max_counter
  std::int64_t issued_at_s() const { return k_epoch_s + issue_minute * 60; }
  std::int64_t ttl_s() const { return k_ttl_class_minutes[ttl_class] * 60; }
};

// The class of the longest lifetime not above ttl_minutes (the shortest when all are above).
unsigned ttl_class_for(std::int64_t ttl_minutes);

// REQUIRES: issue_minute in [0, k_max_issue_minute], ttl_class < 8, counter <= k_max_counter.
std::string encode_login_id(const fields& f);
// nullopt when `login_id` is not "T-" + 8 characters of k_id_alphabet.
std::optional<fields> decode_login_id(std::string_view login_id);

std::string password(std::span<const std::uint8_t> secret, std::string_view device_id,
                     std::string_view login_id);

// True when `typed` is the password of `login_id`; compares in constant time.
bool verify(std::span<const std::uint8_t> secret, std::string_view device_id,
            std::string_view login_id, std::string_view typed);

// The per-device secret the cloud derives from its technician key (never stored):
// HMAC-SHA-256(key, "aterm-technician-secret-v1\n" || device_id).
std::array<std::uint8_t, k_secret_bytes> device_secret(std::span<const std::uint8_t> key,
                                                       std::string_view device_id);

}  // namespace aterm::common::technician_credential
