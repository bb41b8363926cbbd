// Passwords (DESIGN.md section 5): stored as PBKDF2-HMAC-SHA256 (600,000 iterations, 16-byte
// salt), never stored or logged in plaintext, and chosen by the rules below. The hash string
// stored in the database is
//   "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>"     (lowercase hex, 32-byte hash).
// The cloud computes PBKDF2 through OpenSSL (pbkdf2_sha256_fast, ~3x faster than mbedTLS here,
// MEASURED.md); its output equals common::crypto::pbkdf2_hmac_sha256 (tested on published
// vectors). Every function is thread-safe; hashing takes 0.2 s of a core: never call on an I/O
// thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/cloud/model.h"
#include "aterm/cloud/security/settings.h"
#include "aterm/common/crypto.h"
#include "aterm/common/status.h"

namespace aterm::cloud::security {

inline constexpr std::string_view k_pbkdf2_scheme = "pbkdf2-sha256";

// PBKDF2-HMAC-SHA256 through OpenSSL. REQUIRES: iterations >= 1, length >= 1.
common::crypto::bytes pbkdf2_sha256_fast(std::string_view password,
                                         std::span<const std::uint8_t> salt,
                                         std::uint32_t iterations, std::size_t length);

struct password_hash {
  std::uint32_t iterations = 0;
  common::crypto::bytes salt;
  common::crypto::bytes hash;

  // Error "bad_password_hash" (the message never repeats the string): wrong scheme or shape,
  // iterations not in 1..limits::k_max_pbkdf2_iterations, salt or hash not hex or of a length
  // outside the limits.
  static common::result<password_hash> parse(std::string_view text);
  std::string to_string() const;
};

// A new hash string with a fresh random salt of `salt_bytes`.
std::string make_password_hash(std::string_view password, std::uint32_t iterations = 600000,
                               std::size_t salt_bytes = 16);
// True when `password` matches `stored` (compared in constant time). A malformed `stored` -> false.
bool verify_password(std::string_view password, std::string_view stored);
// A fixed, valid hash string to verify against when the account does not exist, so unknown and
// existing accounts cost the same time. Matches no password anyone can type.
const std::string& dummy_password_hash(std::uint32_t iterations = 600000);

// The rules for a new password; returns the first rule broken. Errors (messages never contain
// the password):
//   "password_invalid"       not valid UTF-8, or a control character
//   "password_too_long"      more than limits::k_max_password_bytes bytes
//   "password_too_short"     fewer than settings.min_length characters (Unicode code points)
//   "password_contains_login" equal to the login id, or containing it (case-insensitive, ASCII
//                            folding; containment only for ids of >= 3 characters)
//   "password_reused"        matches one of the first settings.history entries of
//                            `recent_hashes` (the current hash first, then older ones)
// Checking the history hashes up to `history` times: call on a worker thread.
common::status check_new_password(std::string_view password, std::string_view login_id,
                                  const std::vector<std::string>& recent_hashes,
                                  const password_settings& settings = {});
// The same for a model.h account: its login id, then its current hash followed by its
// password_history (newest first) as the recent hashes.
common::status check_new_password(std::string_view password, const account& a,
                                  const password_settings& settings = {});

}  // namespace aterm::cloud::security
