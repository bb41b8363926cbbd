// Failed logins throttled per source address (DESIGN.md section 5, "attack alarm"): a per-account
// lock does not stop one guess on each of many accounts, so an address with `max_failures`
// failed logins within the sliding `window` is refused further attempts (without hashing) until
// its oldest failure leaves the window. Key it with throttle_key(), so IPv6 addresses are
// throttled per /64 (one host usually holds a whole /64). Memory is bounded
// (limits::k_max_tracked_keys). Thread-safe (one mutex). Takes now from `clock`.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "aterm/cloud/security/ip_allowlist.h"
#include "aterm/cloud/security/settings.h"
#include "aterm/common/clock.h"

namespace aterm::cloud::security {

// The key an address is throttled under: the IPv4 address, or the IPv6 /64 prefix
// ("2001:db8::/64").
std::string throttle_key(const ip_address& address);

class login_throttle {
 public:
  login_throttle(throttle_settings settings, const common::clock& clock);

  // True when a login attempt from `key` may go on to check a password.
  bool allowed(std::string_view key) const;
  // Seconds until allowed() turns true (0 when allowed now). For a Retry-After header.
  std::chrono::seconds retry_after(std::string_view key) const;
  // Counts a failed login from `key` (refused attempts are not counted).
  void record_failure(std::string_view key);
  // Keys with failures inside the window (for tests and metrics).
  std::size_t tracked_keys() const;

 private:
  // REQUIRES: mu_ held. Drops timestamps outside the window.
  void trim_locked(std::deque<common::wall_time>& q, common::wall_time now) const;
  void bound_locked(common::wall_time now);

  throttle_settings settings_;
  const common::clock& clock_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::deque<common::wall_time>, std::less<>> failures_;
};

}  // namespace aterm::cloud::security
