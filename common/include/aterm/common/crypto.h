// Cryptographic primitives over mbedTLS (DESIGN.md section 2). Every function is thread-safe:
// random numbers come from a CTR_DRBG per thread, seeded from the OS entropy source.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/common/status.h"

namespace aterm::common::crypto {

using bytes = std::vector<std::uint8_t>;
using digest = std::array<std::uint8_t, 32>;

// Fills `out` from the CTR_DRBG. Aborts if the DRBG cannot be seeded (a broken invariant).
void random_fill(std::span<std::uint8_t> out);
bytes random_bytes(std::size_t n);
// Uniform in [0, bound). REQUIRES: bound > 0.
std::uint32_t random_below(std::uint32_t bound);

digest sha256(std::span<const std::uint8_t> data);
digest sha256(std::string_view data);
digest hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);
digest hmac_sha256(std::string_view key, std::string_view data);
// PBKDF2-HMAC-SHA256. REQUIRES: iterations >= 1, length >= 1.
bytes pbkdf2_hmac_sha256(std::string_view password, std::span<const std::uint8_t> salt,
                         std::uint32_t iterations, std::size_t length);

// Compares in time that depends only on the lengths.
bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);
bool constant_time_equal(std::string_view a, std::string_view b);

// Lowercase hex.
std::string to_hex(std::span<const std::uint8_t> data);
// Accepts upper and lower case; error "bad_hex" on odd length or a non-hex character.
result<bytes> from_hex(std::string_view hex);
// RFC 4648 base64url without padding.
std::string base64url_encode(std::span<const std::uint8_t> data);
result<bytes> base64url_decode(std::string_view text);

// A session or API token: `n_bytes` random bytes as base64url. Default 32 bytes (256 bits).
std::string generate_token(std::size_t n_bytes = 32);
// Passwords without look-alikes (no 0/O/o, 1/l/I, ...). Default length 12.
inline constexpr std::string_view k_password_alphabet =
    "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
std::string generate_password(std::size_t length = 12);
// Random characters drawn uniformly from `alphabet` (e.g. technician login ids "T-" + 8).
std::string generate_from(std::string_view alphabet, std::size_t length);

}  // namespace aterm::common::crypto
