#include "aterm/common/technician_credential.h"

#include <cassert>

#include "aterm/common/crypto.h"

namespace aterm::common::technician_credential {

namespace {

constexpr unsigned k_bits_per_char = 5;
constexpr unsigned k_counter_bits = 11;
constexpr unsigned k_class_bits = 3;
constexpr std::string_view k_secret_context = "aterm-technician-secret-v1\n";

}  // namespace

unsigned ttl_class_for(std::int64_t ttl_minutes) {
  unsigned c = 0;
  for (unsigned i = 0; i < k_ttl_class_minutes.size(); ++i)
    if (k_ttl_class_minutes[i] <= ttl_minutes) c = i;
  return c;
}

std::string encode_login_id(const fields& f) {
  assert(f.issue_minute >= 0 && f.issue_minute <= k_max_issue_minute);
  assert(f.ttl_class < k_ttl_class_minutes.size() && f.counter <= k_max_counter);
  std::uint64_t v = static_cast<std::uint64_t>(f.issue_minute) << (k_class_bits + k_counter_bits);
  v |= static_cast<std::uint64_t>(f.ttl_class) << k_counter_bits;
  v |= f.counter;
  std::string out(k_id_prefix);
  for (std::size_t i = 0; i < k_id_chars; ++i) {
    const auto shift = static_cast<unsigned>(k_bits_per_char * (k_id_chars - 1 - i));
    out += k_id_alphabet[static_cast<std::size_t>((v >> shift) & 31u)];
  }
  return out;
}

std::optional<fields> decode_login_id(std::string_view login_id) {
  if (login_id.size() != k_id_prefix.size() + k_id_chars || !login_id.starts_with(k_id_prefix))
    return std::nullopt;
  std::uint64_t v = 0;
  for (char ch : login_id.substr(k_id_prefix.size())) {
    const auto pos = k_id_alphabet.find(ch);
    if (pos == std::string_view::npos) return std::nullopt;
    v = (v << k_bits_per_char) | pos;
  }
  fields f;
  f.counter = static_cast<std::uint32_t>(v & k_max_counter);
  f.ttl_class = static_cast<unsigned>((v >> k_counter_bits) & 7u);
  f.issue_minute = static_cast<std::int64_t>(v >> (k_class_bits + k_counter_bits));
  return f;
}

std::string password(std::span<const std::uint8_t> secret, std::string_view device_id,
                     std::string_view login_id) {
  std::string msg(k_context);
  msg += '\n';
  msg += device_id;
  msg += '\n';
  msg += login_id;
  auto mac = crypto::hmac_sha256(
      secret, std::span(reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size()));
  const auto& alphabet = crypto::k_password_alphabet;
  const auto base = static_cast<unsigned>(alphabet.size());
  std::string out;
  // 12 digits use 70 of the 256 bits: the bias of the last digit is below 2^-180.
  for (std::size_t i = 0; i < k_password_chars; ++i) {
    unsigned rem = 0;
    for (auto& b : mac) {
      const unsigned cur = rem * 256u + b;
      b = static_cast<std::uint8_t>(cur / base);
      rem = cur % base;
    }
    out += alphabet[rem];
  }
  return out;
}

bool verify(std::span<const std::uint8_t> secret, std::string_view device_id,
            std::string_view login_id, std::string_view typed) {
  const auto expected = password(secret, device_id, login_id);
  return typed.size() == expected.size() && crypto::constant_time_equal(typed, expected);
}

std::array<std::uint8_t, k_secret_bytes> device_secret(std::span<const std::uint8_t> key,
                                                       std::string_view device_id) {
  std::string msg(k_secret_context);
  msg += device_id;
  auto mac = crypto::hmac_sha256(
      key, std::span(reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size()));
  std::array<std::uint8_t, k_secret_bytes> out{};
  for (std::size_t i = 0; i < k_secret_bytes; ++i) out[i] = mac[i];
  return out;
}

}  // namespace aterm::common::technician_credential
