// Failed logins throttled per source address (DESIGN.md section 5, "attack alarm"): a per-account
// lock does not stop one guess on each of many accounts, so an address with `max_failures`
// failed logins within the sliding `window` is refused further attempts (without hashing) until
// its oldest failure leaves the window. Key it with throttle_key(), so IPv6 addresses are
// throttled per /64 (one host usually holds a whole /64). The failures are counted in the store
// (shared_counters.h), so every instance on one database throttles an address alike; the store
// deletes them once they left the window. Thread-safe. Takes now from `clock`.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "aterm/cloud/security/ip_allowlist.h"
#include "aterm/cloud/security/settings.h"
#include "aterm/cloud/shared_counters.h"
#include "aterm/common/clock.h"

namespace aterm::cloud::security {

// The key an address is throttled under: the IPv4 address, or the IPv6 /64 prefix
// ("2001:db8::/64").
std::string throttle_key(const ip_address& address);

class login_throttle {
 public:
  // `counters` and `clock` must outlive the throttle.
  login_throttle(throttle_settings settings, shared_counters& counters, const common::clock& clock);

  // True when a login attempt from `key` may go on to check a password. A store that cannot be
  // read allows it (the login's own store calls then fail).
  bool allowed(std::string_view key) const;
  // Seconds until allowed() turns true (0 when allowed now). For a Retry-After header.
  std::chrono::seconds retry_after(std::string_view key) const;
  // Counts a failed login from `key` (refused attempts are not counted).
  void record_failure(std::string_view key);

 private:
  std::string counter_of(std::string_view key) const;

  throttle_settings settings_;
  shared_counters& counters_;
  const common::clock& clock_;
};

}  // namespace aterm::cloud::security
