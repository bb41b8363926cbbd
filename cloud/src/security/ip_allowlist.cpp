#include "aterm/cloud/security/ip_allowlist.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "aterm/cloud/security/limits.h"

namespace aterm::cloud::security {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// ::ffff:0:0/96
bool is_v4_mapped(const std::array<std::uint8_t, 16>& b) {
  return std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; }) &&
         b[10] == 0xff && b[11] == 0xff;
}

// Longest textual IPv6 address plus a little; anything longer is not an address.
constexpr std::size_t k_max_address_text = 64;

// Entries are named in errors; bound what is echoed.
std::string quoted(std::string_view s) {
  constexpr std::size_t k_max_echo = 80;
  std::string out = "\"";
  for (char c : s.substr(0, k_max_echo)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == 0x7f) ? '?' : c;
  }
  if (s.size() > k_max_echo) out += "...";
  return out + "\"";
}

}  // namespace

// ---- ip_address ----

std::optional<ip_address> ip_address::parse(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.size() > k_max_address_text) return std::nullopt;
  const std::string s(text);
  if (s.find(':') == std::string::npos) {
    std::array<std::uint8_t, 4> b{};
    if (inet_pton(AF_INET, s.c_str(), b.data()) != 1) return std::nullopt;
    return v4(b);
  }
  std::array<std::uint8_t, 16> b{};
  if (inet_pton(AF_INET6, s.c_str(), b.data()) != 1) return std::nullopt;
  return v6(b);
}

ip_address ip_address::v4(std::array<std::uint8_t, 4> b) {
  ip_address a;
  a.v4_ = true;
  std::copy(b.begin(), b.end(), a.bytes_.begin());
  return a;
}

ip_address ip_address::v6(const std::array<std::uint8_t, 16>& b) {
  if (is_v4_mapped(b)) return v4({b[12], b[13], b[14], b[15]});
  ip_address a;
  a.v4_ = false;
  a.bytes_ = b;
  return a;
}

std::string ip_address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v4_ ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

// ---- cidr ----

common::result<cidr> cidr::parse(std::string_view text) {
  const std::string_view t = trim(text);
  auto bad = [&](std::string_view why) {
    return common::status::error("bad_cidr", quoted(t) + ": " + std::string(why));
  };
  const std::size_t slash = t.find('/');
  const std::string_view addr_text = t.substr(0, slash);
  // Parsed here rather than by ip_address::parse: a mapped address keeps its IPv6 prefix length
  // until converted.
  const bool v6_text = addr_text.find(':') != std::string_view::npos;
  std::array<std::uint8_t, 16> raw{};
  if (addr_text.empty() || addr_text.size() > k_max_address_text ||
      inet_pton(v6_text ? AF_INET6 : AF_INET, std::string(addr_text).c_str(), raw.data()) != 1) {
    return bad("not an IPv4 or IPv6 address");
  }
  const int max_prefix = v6_text ? 128 : 32;
  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view p = t.substr(slash + 1);
    const bool digits = !p.empty() && p.size() <= 3 && std::all_of(p.begin(), p.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
    if (!digits) return bad("the prefix length is not a number");
    std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (prefix > max_prefix) {
      return bad("the prefix length is out of range (0.." + std::to_string(max_prefix) + ")");
    }
  }
  cidr c;
  if (v6_text && is_v4_mapped(raw) && prefix >= 96) {
    c.network_ = ip_address::v4({raw[12], raw[13], raw[14], raw[15]});
    c.prefix_ = prefix - 96;
  } else if (v6_text) {
    if (is_v4_mapped(raw)) {
      return bad("an IPv4-mapped network needs a prefix length of at least 96");
    }
    c.network_ = ip_address::v6(raw);
    c.prefix_ = prefix;
  } else {
    c.network_ = ip_address::v4({raw[0], raw[1], raw[2], raw[3]});
    c.prefix_ = prefix;
  }
  // Host bits must be zero: "10.0.0.1/8" is a typo for an address or for a network.
  const auto& b = c.network_.bytes();
  for (std::size_t i = 0; i < c.network_.size(); ++i) {
    const int bit_start = static_cast<int>(i) * 8;
    std::uint8_t host_mask = 0xff;
    if (bit_start + 8 <= c.prefix_) {
      host_mask = 0;
    } else if (bit_start < c.prefix_) {
      host_mask = static_cast<std::uint8_t>(0xff >> (c.prefix_ - bit_start));
    }
    if ((b[i] & host_mask) != 0) return bad("host bits are set after the prefix length");
  }
  return c;
}

bool cidr::contains(const ip_address& a) const {
  if (a.is_v4() != network_.is_v4()) return false;
  const auto& x = a.bytes();
  const auto& n = network_.bytes();
  int bits = prefix_;
  for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
    const std::uint8_t mask =
        bits >= 8 ? std::uint8_t{0xff} : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((x[i] & mask) != (n[i] & mask)) return false;
  }
  return true;
}

std::string cidr::to_string() const {
  return network_.to_string() + "/" + std::to_string(prefix_);
}

// ---- ip_allowlist ----

common::result<ip_allowlist> ip_allowlist::parse(const std::vector<std::string>& entries) {
  if (entries.size() > limits::k_max_cidrs) {
    return common::status::error("too_many_cidrs",
                                 "more than " + std::to_string(limits::k_max_cidrs) + " entries");
  }
  ip_allowlist list;
  list.cidrs_.reserve(entries.size());
  for (const auto& e : entries) {
    auto c = cidr::parse(e);
    if (!c) return c.error();
    list.cidrs_.push_back(std::move(*c));
  }
  return list;
}

bool ip_allowlist::contains(const ip_address& a) const {
  return std::any_of(cidrs_.begin(), cidrs_.end(), [&](const cidr& c) { return c.contains(a); });
}

std::vector<std::string> ip_allowlist::to_strings() const {
  std::vector<std::string> out;
  out.reserve(cidrs_.size());
  for (const auto& c : cidrs_) out.push_back(c.to_string());
  return out;
}

// ---- client address ----

common::result<ip_address> client_address(const ip_address& peer,
                                          std::optional<std::string_view> forwarded_for,
                                          const ip_allowlist& trusted_proxies) {
  if (!trusted_proxies.contains(peer)) return peer;
  if (!forwarded_for || trim(*forwarded_for).empty()) return peer;
  std::vector<std::string_view> elements;
  std::string_view rest = *forwarded_for;
  while (true) {
    const std::size_t comma = rest.find(',');
    elements.push_back(rest.substr(0, comma));
    if (elements.size() > limits::k_max_forwarded_for_elements) {
      return common::status::error("bad_forwarded_for", "X-Forwarded-For has too many elements");
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::optional<ip_address> leftmost;
  for (auto it = elements.rbegin(); it != elements.rend(); ++it) {
    auto a = ip_address::parse(*it);
    if (!a) {
      return common::status::error(
          "bad_forwarded_for",
          "X-Forwarded-For element " + quoted(trim(*it)) + " is not an address");
    }
    if (!trusted_proxies.contains(*a)) return *a;
    leftmost = a;
  }
  return *leftmost;
}

}  // namespace aterm::cloud::security
