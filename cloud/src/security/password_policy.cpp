#include "aterm/cloud/security/password_policy.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <map>
#include <mutex>

#include "aterm/cloud/security/limits.h"
#include "aterm/common/json.h"

namespace aterm::cloud::security {

namespace crypto = common::crypto;

crypto::bytes pbkdf2_sha256_fast(std::string_view password, std::span<const std::uint8_t> salt,
                                 std::uint32_t iterations, std::size_t length) {
  assert(iterations >= 1 && length >= 1);
  assert(password.size() <= INT_MAX && salt.size() <= INT_MAX && iterations <= INT_MAX &&
         length <= INT_MAX);
  crypto::bytes out(length);
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(length), out.data()) != 1) {
    // Only an allocation failure inside OpenSSL gets here; a login cannot go on without it.
    std::abort();
  }
  return out;
}

// ---- password_hash ----

common::result<password_hash> password_hash::parse(std::string_view text) {
  auto bad = [](std::string_view why) {
    return common::status::error("bad_password_hash", std::string(why));
  };
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t dollar = text.find('$', start);
    parts.push_back(text.substr(start, dollar == std::string_view::npos ? dollar : dollar - start));
    if (dollar == std::string_view::npos) break;
    start = dollar + 1;
    if (parts.size() > 4) break;
  }
  if (parts.size() != 4 || parts[0] != k_pbkdf2_scheme) {
    return bad("not a \"pbkdf2-sha256$<iterations>$<salt>$<hash>\" string");
  }
  const std::string_view it = parts[1];
  std::uint64_t iterations = 0;
  const bool digits =
      !it.empty() && it.size() <= 9 && it.front() != '0' &&
      std::all_of(it.begin(), it.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) return bad("the iteration count is not a number");
  std::from_chars(it.data(), it.data() + it.size(), iterations);
  if (iterations > limits::k_max_pbkdf2_iterations) return bad("the iteration count is too large");
  auto salt = crypto::from_hex(parts[2]);
  if (!salt || salt->size() < limits::k_min_salt_bytes || salt->size() > limits::k_max_salt_bytes) {
    return bad("the salt is not hex of a valid length");
  }
  auto hash = crypto::from_hex(parts[3]);
  if (!hash || hash->size() < limits::k_min_hash_bytes || hash->size() > limits::k_max_hash_bytes) {
    return bad("the hash is not hex of a valid length");
  }
  password_hash h;
  h.iterations = static_cast<std::uint32_t>(iterations);
  h.salt = std::move(*salt);
  h.hash = std::move(*hash);
  return h;
}

std::string password_hash::to_string() const {
  return std::string(k_pbkdf2_scheme) + "$" + std::to_string(iterations) + "$" +
         crypto::to_hex(salt) + "$" + crypto::to_hex(hash);
}

std::string make_password_hash(std::string_view password, std::uint32_t iterations,
                               std::size_t salt_bytes) {
  assert(iterations >= 1 && iterations <= limits::k_max_pbkdf2_iterations);
  assert(salt_bytes >= limits::k_min_salt_bytes && salt_bytes <= limits::k_max_salt_bytes);
  password_hash h;
  h.iterations = iterations;
  h.salt = crypto::random_bytes(salt_bytes);
  h.hash = pbkdf2_sha256_fast(password, h.salt, iterations, 32);
  return h.to_string();
}

bool verify_password(std::string_view password, std::string_view stored) {
  auto h = password_hash::parse(stored);
  if (!h) return false;
  const crypto::bytes computed =
      pbkdf2_sha256_fast(password, h->salt, h->iterations, h->hash.size());
  return crypto::constant_time_equal(computed, h->hash);
}

const std::string& dummy_password_hash(std::uint32_t iterations) {
  static std::mutex mu;
  static std::map<std::uint32_t, std::string> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(iterations);
  if (it == cache.end()) {
    // The password is 256 random bits that are never kept: nothing typed can match.
    it = cache.emplace(iterations, make_password_hash(crypto::generate_token(), iterations)).first;
  }
  return it->second;
}

// ---- the rules for a new password ----

namespace {

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

std::size_t code_points(std::string_view utf8) {
  return static_cast<std::size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

common::status check_new_password(std::string_view password, std::string_view login_id,
                                  const std::vector<std::string>& recent_hashes,
                                  const password_settings& settings) {
  if (password.size() > limits::k_max_password_bytes) {
    return common::status::error(
        "password_too_long",
        "the password is longer than " + std::to_string(limits::k_max_password_bytes) + " bytes");
  }
  const bool control = std::any_of(password.begin(), password.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (control || !common::valid_utf8(password)) {
    return common::status::error("password_invalid",
                                 "the password holds a control character or is not UTF-8");
  }
  if (code_points(password) < settings.min_length) {
    return common::status::error(
        "password_too_short",
        "the password needs at least " + std::to_string(settings.min_length) + " characters");
  }
  const std::string pw = ascii_lower(password);
  const std::string id = ascii_lower(login_id);
  if (!id.empty() && (pw == id || (id.size() >= limits::k_min_login_id_for_contains &&
                                   pw.find(id) != std::string::npos))) {
    return common::status::error("password_contains_login",
                                 "the password must not contain the login id");
  }
  const std::size_t n = std::min(settings.history, recent_hashes.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (verify_password(password, recent_hashes[i])) {
      return common::status::error("password_reused", "the password must differ from the last " +
                                                          std::to_string(settings.history) +
                                                          " passwords");
    }
  }
  return {};
}

common::status check_new_password(std::string_view password, const account& a,
                                  const password_settings& settings) {
  std::vector<std::string> recent;
  recent.reserve(a.password_history.size() + 1);
  if (!a.password_hash.empty()) recent.push_back(a.password_hash);
  recent.insert(recent.end(), a.password_history.begin(), a.password_history.end());
  return check_new_password(password, a.login_id, recent, settings);
}

}  // namespace aterm::cloud::security
