// Device registration by a company (DESIGN.md section 5, "device registration";
// docs/device-claim.md). A company registers a device only with proof of possession: the
// device's claim code (common/claim_code.h), which the cloud recomputes from the factory's
// claim key. Wrong claims count per company in the store; past `max_failures` within the
// sliding `window` the company's claims are refused (429) until its oldest counted failure
// leaves the window. A site administrator's assignment needs no code.
// Plain values and pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aterm/cloud/model.h"
#include "aterm/common/config.h"

namespace aterm::cloud::security {

struct device_claim_settings {
  // The factory's claim key, read from device.claim_key_file. Default: none, and then no
  // company can claim a device (only site administrators assign them).
  std::vector<std::uint8_t> key;
  std::int64_t max_failures = 10;    // device.claim_failures. Default: 10 wrong claims.
  std::chrono::seconds window{900};  // device.claim_window_s. Default: 15 min (sliding).
};

// device.claim_key_file, device.claim_failures and device.claim_window_s with their defaults.
common::config_schema device_claim_config_schema();

// REQUIRES: `c` was loaded with a schema holding device_claim_config_schema(). Reads the key
// file when one is configured; its errors ("io_error", "bad_claim_key") name the file only.
common::result<device_claim_settings> device_claim_settings_from(const common::config& c);

// One device of a claim and the code given for it.
struct device_claim {
  std::string device_id;
  std::string claim_code;
  // The CSV upload's optional third column: the router's tags once it is registered; nullopt
  // when the line has no such column.
  std::optional<std::vector<std::string>> tags;
};

// True when every code is its device's code under `settings.key` (false without a key). Checks
// every item, so the time does not tell which one was wrong.
bool proves_possession(const device_claim_settings& settings, std::span<const device_claim> claims);

// The start of the throttle's window at `now_s`: failures at or after it count.
std::int64_t claim_window_start(const device_claim_settings& settings, std::int64_t now_s);

// nullopt when the company may claim now; else how long until it may (for Retry-After).
std::optional<std::chrono::seconds> claim_retry_after(const device_claim_settings& settings,
                                                      const claim_failures& recent,
                                                      std::int64_t now_s);

}  // namespace aterm::cloud::security
