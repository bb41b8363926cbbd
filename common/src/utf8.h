// The one UTF-8 decoder of common/ (JSON validation and log escaping both use it). Pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace aterm::common::detail {

// The length of the well-formed UTF-8 sequence starting at s[i] (1 for ASCII) and its code point
// in `cp`; 0 when it is not well-formed: a stray continuation byte, a truncated sequence, an
// overlong form, a surrogate or a code point above U+10FFFF. REQUIRES: i < s.size().
inline std::size_t utf8_sequence(std::string_view s, std::size_t i, std::uint32_t& cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  std::size_t n = 0;
  std::uint32_t min = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1Fu, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0Fu, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07u, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace aterm::common::detail
