// Every limit of the mail outbox and its SMTP sender, each with its reason.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aterm::cloud::mail::limits {

// RFC 5322 recommends lines of at most 78 characters; base64 bodies use 76 (RFC 2045).
inline constexpr std::size_t k_base64_line = 76;
// Bytes of UTF-8 per RFC 2047 encoded-word: 45 bytes become 60 base64 characters, which with
// "=?UTF-8?B?" and "?=" stays under the 75-character limit of one encoded-word.
inline constexpr std::size_t k_encoded_word_bytes = 45;
// RFC 5321: a mailbox (local part + domain) is at most 254 octets in a path.
inline constexpr std::size_t k_max_address = 254;
// Messages taken from the outbox per worker run; the rest wait for the next tick, so one slow
// SMTP server cannot hold the scheduler's thread for long.
inline constexpr std::size_t k_batch = 20;
// Error text kept per message: the SMTP server's answer, enough to see why without growing rows.
inline constexpr std::size_t k_max_error = 512;

}  // namespace aterm::cloud::mail::limits
