#include "aterm/common/claim_code.h"

#include <fstream>
#include <sstream>

#include "aterm/common/crypto.h"

namespace aterm::common::claim {

namespace {

constexpr std::size_t k_code_bytes = k_code_chars * 5 / 8;
static_assert(k_code_chars * 5 % 8 == 0, "a code is a whole number of bytes");
static_assert(k_alphabet.size() == 32, "5 bits per character");

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

}  // namespace

std::string derive(std::span<const std::uint8_t> key, std::string_view device_id) {
  std::string message(k_context);
  message += device_id;
  const auto mac = crypto::hmac_sha256(
      key, std::span(reinterpret_cast<const std::uint8_t*>(message.data()), message.size()));
  std::string code;
  code.reserve(k_code_chars);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < k_code_bytes; ++i) {
    buffer = (buffer << 8) | mac[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      code += k_alphabet[(buffer >> bits) & 0x1f];
    }
  }
  return code;
}

std::string format(std::string_view canonical) {
  std::string out;
  out.reserve(canonical.size() + canonical.size() / k_group_chars);
  for (std::size_t i = 0; i < canonical.size(); ++i) {
    if (i != 0 && i % k_group_chars == 0) out += '-';
    out += canonical[i];
  }
  return out;
}

result<std::string> normalise(std::string_view typed) {
  std::string out;
  for (char c : typed) {
    if (c == '-' || c == ' ') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (k_alphabet.find(c) == std::string_view::npos || out.size() == k_code_chars) {
      return status::error("bad_claim_code", "a claim code is 16 characters of " +
                                                 std::string(k_alphabet) +
                                                 " (case and dashes ignored)");
    }
    out += c;
  }
  if (out.size() != k_code_chars) {
    return status::error("bad_claim_code", "a claim code is 16 characters");
  }
  return out;
}

bool verify(std::span<const std::uint8_t> key, std::string_view device_id, std::string_view typed) {
  auto code = normalise(typed);
  // A malformed code is compared against the right one anyway, so both answers take the time
  // of one HMAC.
  const std::string expected = derive(key, device_id);
  const std::string given = code.ok() ? *code : std::string(k_code_chars, '\0');
  return crypto::constant_time_equal(expected, given) && code.ok();
}

result<std::vector<std::uint8_t>> parse_key(std::string_view file_text) {
  while (!file_text.empty() && is_space(file_text.front())) file_text.remove_prefix(1);
  while (!file_text.empty() && is_space(file_text.back())) file_text.remove_suffix(1);
  auto key = crypto::from_hex(file_text);
  if (!key.ok() || key->size() != k_key_bytes) {
    return status::error("bad_claim_key", "a claim key is " + std::to_string(k_key_bytes) +
                                              " bytes as " + std::to_string(k_key_bytes * 2) +
                                              " hex digits");
  }
  return std::move(*key);
}

result<std::vector<std::uint8_t>> load_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return status::error("io_error", "cannot read the claim key file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  auto key = parse_key(text.str());
  if (!key.ok()) return status::error("bad_claim_key", path + ": " + key.error().message());
  return key;
}

}  // namespace aterm::common::claim
