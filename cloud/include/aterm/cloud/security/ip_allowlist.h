// IP restriction (DESIGN.md section 5): IPv4/IPv6 addresses and CIDRs, a company's allowlist, and
// the client address behind trusted proxies (`X-Forwarded-For` honoured only from
// `http.trusted_proxies`). Parsing uses inet_pton. An IPv4-mapped IPv6 address (::ffff:a.b.c.d)
// is the IPv4 address a.b.c.d everywhere. Immutable values; thread-safe to share.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/common/status.h"

namespace aterm::cloud::security {

class ip_address {
 public:
  ip_address() = default;
  // A plain textual IPv4 or IPv6 address ("192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1" ->
  // IPv4); surrounding spaces and tabs allowed, brackets, ports and zone ids ("%eth0") are not.
  static std::optional<ip_address> parse(std::string_view text);
  static ip_address v4(std::array<std::uint8_t, 4> b);
  static ip_address v6(const std::array<std::uint8_t, 16>& b);  // mapped -> IPv4

  bool is_v4() const { return v4_; }
  // 4 or 16 significant bytes.
  std::size_t size() const { return v4_ ? 4 : 16; }
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  // Canonical text (inet_ntop).
  std::string to_string() const;

  friend bool operator==(const ip_address&, const ip_address&) = default;

 private:
  bool v4_ = true;
  std::array<std::uint8_t, 16> bytes_{};  // IPv4 uses the first 4
};

class cidr {
 public:
  // "10.0.0.0/8", "2001:db8::/32", a bare address (= /32 or /128), "::ffff:10.0.0.0/104" (=
  // 10.0.0.0/8). Errors "bad_cidr" with a message naming the entry: not an address, prefix not a
  // number or out of range (0..32, 0..128), host bits set ("10.0.0.1/8").
  static common::result<cidr> parse(std::string_view text);

  bool contains(const ip_address& a) const;
  const ip_address& network() const { return network_; }
  int prefix() const { return prefix_; }
  // Canonical "network/prefix".
  std::string to_string() const;

 private:
  ip_address network_;
  int prefix_ = 0;
};

// A list of CIDRs. Empty means "no restriction" for an allowlist and "no proxy" for proxies.
class ip_allowlist {
 public:
  ip_allowlist() = default;
  // Every entry must parse; the first bad one fails the whole list ("bad_cidr", naming it). More
  // than limits::k_max_cidrs entries -> "too_many_cidrs".
  static common::result<ip_allowlist> parse(const std::vector<std::string>& entries);

  bool empty() const { return cidrs_.empty(); }
  // True when some CIDR contains `a`.
  bool contains(const ip_address& a) const;
  // The allowlist rule: true when the list is empty (no restriction) or contains `a`.
  bool allows(const ip_address& a) const { return empty() || contains(a); }
  const std::vector<cidr>& cidrs() const { return cidrs_; }
  // Canonical entries, for storing and showing.
  std::vector<std::string> to_strings() const;

 private:
  std::vector<cidr> cidrs_;
};

// The client's address. When `peer` is not in `trusted_proxies`, it is `peer` and
// X-Forwarded-For is ignored (a client can write anything there). When it is, the
// X-Forwarded-For elements are walked right to left, skipping trusted proxies, and the first
// untrusted one is the client; when all are trusted, the left-most. `forwarded_for` holds every
// X-Forwarded-For field of the request joined with ","; absent or empty -> `peer`. Error
// "bad_forwarded_for" (refuse the request: falling back to the proxy's address would let a
// malformed header pass the allowlist as the proxy) when an element reached by the walk is not
// an address, or the header has more than limits::k_max_forwarded_for_elements elements.
common::result<ip_address> client_address(const ip_address& peer,
                                          std::optional<std::string_view> forwarded_for,
                                          const ip_allowlist& trusted_proxies);

}  // namespace aterm::cloud::security
