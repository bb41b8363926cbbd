#include "aterm/cloud/security/login_throttle.h"

#include <algorithm>
#include <cassert>

#include "aterm/common/log.h"

namespace aterm::cloud::security {

std::string throttle_key(const ip_address& address) {
  if (address.is_v4()) return address.to_string();
  std::array<std::uint8_t, 16> prefix{};
  std::copy_n(address.bytes().begin(), 8, prefix.begin());
  return ip_address::v6(prefix).to_string() + "/64";
}

login_throttle::login_throttle(throttle_settings settings, shared_counters& counters,
                               const common::clock& clock)
    : settings_(settings), counters_(counters), clock_(clock) {
  assert(settings_.max_failures >= 1);
}

std::string login_throttle::counter_of(std::string_view key) const {
  return "login_throttle:" + std::string(key);
}

bool login_throttle::allowed(std::string_view key) const {
  return retry_after(key) == std::chrono::seconds{0};
}

std::chrono::seconds login_throttle::retry_after(std::string_view key) const {
  const std::int64_t now_ms = clock_.now_ms();
  // A failure exactly `window` old has left the window (the store keeps it until then).
  auto recent = counters_.counter_events(counter_of(key), now_ms,
                                         static_cast<std::size_t>(settings_.max_failures));
  if (!recent.ok()) {
    common::log(common::log_level::error, "security", "throttle count not read",
                {{"error", recent.error().to_string()}});
    return std::chrono::seconds{0};
  }
  if (static_cast<std::int64_t>(recent->size()) < settings_.max_failures) {
    return std::chrono::seconds{0};
  }
  // Allowed again when the failure that keeps the count at the limit (the oldest of the newest
  // max_failures) leaves the window.
  const std::int64_t leaves_ms =
      recent->back() +
      std::chrono::duration_cast<std::chrono::milliseconds>(settings_.window).count();
  const auto wait =
      std::chrono::ceil<std::chrono::seconds>(std::chrono::milliseconds(leaves_ms - now_ms));
  return std::max(std::chrono::seconds{1}, wait);
}

void login_throttle::record_failure(std::string_view key) {
  const std::int64_t now_ms = clock_.now_ms();
  const std::int64_t window_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(settings_.window).count();
  if (auto r = counters_.add_counter_event(counter_of(key), now_ms, now_ms + window_ms, 0);
      !r.ok()) {
    common::log(common::log_level::error, "security", "throttle failure not counted",
                {{"error", r.error().to_string()}});
  }
}

}  // namespace aterm::cloud::security
