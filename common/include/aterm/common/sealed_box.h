// Authenticated encryption of small texts kept where others can read them (a database row):
// AES-256-GCM over mbedTLS (DESIGN.md section 2), a random 96-bit nonce per message. The sealed
// form is nonce (12 bytes) || ciphertext || tag (16 bytes). `context` is authenticated, not
// encrypted: a sealed text opens only with the context it was sealed with (e.g. its recipient),
// so it cannot be moved to another row. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "aterm/common/crypto.h"
#include "aterm/common/status.h"

namespace aterm::common::sealed_box {

inline constexpr std::size_t k_key_bytes = 32;
inline constexpr std::size_t k_nonce_bytes = 12;
inline constexpr std::size_t k_tag_bytes = 16;

// `plain` sealed under `key`. REQUIRES: key.size() == k_key_bytes.
crypto::bytes seal(std::span<const std::uint8_t> key, std::string_view plain,
                   std::string_view context);

// The text `sealed` holds, when it was sealed under `key` with `context` and not changed since;
// error "sealed_box_refused" otherwise (a wrong key, another context, any changed byte).
// REQUIRES: key.size() == k_key_bytes.
result<std::string> open(std::span<const std::uint8_t> key, std::span<const std::uint8_t> sealed,
                         std::string_view context);

}  // namespace aterm::common::sealed_box
