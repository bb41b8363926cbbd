// Device claim codes (docs/device-claim.md): the proof of possession a company gives when it
// registers a device. The factory holds one secret claim key; a device's code is
//
//   code = encode(HMAC-SHA-256(claim_key, "aterm-claim-v1" || device_id)[0..10))
//
// where encode writes the 80 bits, most significant first, as 16 characters of k_alphabet
// (5 bits each: RFC 4648 base32 with its alphabet replaced index by index, so
// `base32 | tr` computes the same code in scripts/dev-pki). The code is printed on the
// router's label in four groups (ABCD-EFGH-JKLM-NPQR) and provisioned into the router; the
// cloud recomputes it from the key, so no table of codes is stored anywhere.
// Every function is thread-safe and pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/common/status.h"

namespace aterm::common::claim {

// The upper-case letters and digits of crypto::k_password_alphabet: no 0/O, 1/I/l look-alikes.
inline constexpr std::string_view k_alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
// Domain separation: a claim key is never used for anything but claim codes of this version.
inline constexpr std::string_view k_context = "aterm-claim-v1";
// 16 characters of 5 bits: 80 bits of the HMAC, beyond guessing at any request rate.
inline constexpr std::size_t k_code_chars = 16;
inline constexpr std::size_t k_group_chars = 4;
// A claim key file holds this many random bytes as hex (one line; dev-pki init writes it).
inline constexpr std::size_t k_key_bytes = 32;

// The canonical code (16 characters, no separators) of `device_id` under `key`.
std::string derive(std::span<const std::uint8_t> key, std::string_view device_id);

// "ABCDEFGH..." -> "ABCD-EFGH-...": the form printed on labels. REQUIRES: a canonical code.
std::string format(std::string_view canonical);

// What a person typed -> the canonical code: case is ignored, '-' and spaces are dropped.
// Error "bad_claim_code" when the rest is not 16 characters of k_alphabet.
result<std::string> normalise(std::string_view typed);

// True when `typed` is the code of `device_id` under `key`; compares in constant time.
bool verify(std::span<const std::uint8_t> key, std::string_view device_id, std::string_view typed);

// The contents of a claim key file: k_key_bytes as hex, surrounding whitespace ignored.
// Error "bad_claim_key" otherwise (the message never quotes the file).
result<std::vector<std::uint8_t>> parse_key(std::string_view file_text);

// Reads and parses a claim key file. Errors "bad_claim_key" (as parse_key, naming `path`) and
// "io_error" (cannot read `path`).
result<std::vector<std::uint8_t>> load_key_file(const std::string& path);

}  // namespace aterm::common::claim
