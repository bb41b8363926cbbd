#include "aterm/cloud/security/settings.h"

#include <limits>

namespace aterm::cloud::security {

namespace {

common::config_key int_key(std::string name, std::int64_t fallback, std::int64_t min,
                           std::int64_t max) {
  return common::config_key{
      std::move(name), common::config_type::integer, fallback, false, min, max};
}

constexpr std::int64_t k_day_s = 86400;

}  // namespace

common::config_schema security_config_schema() {
  const security_settings d;
  return {
      int_key("security.lockout_threshold", d.lockout.threshold, 1, 1000),
      int_key("security.lockout_s", d.lockout.lock_duration.count(), 1, 365 * k_day_s),
      int_key("security.throttle_failures", d.throttle.max_failures, 1, 1'000'000),
      int_key("security.throttle_window_s", d.throttle.window.count(), 1, k_day_s),
      int_key("security.alarm_failures", d.burst.threshold, 1, 1'000'000),
      int_key("security.alarm_window_s", d.burst.window.count(), 1, k_day_s),
      int_key("security.session_idle_s", d.session.idle.count(), 1, 365 * k_day_s),
      int_key("security.session_max_s", d.session.lifetime.count(), 1, 365 * k_day_s),
      int_key("security.session_touch_s", d.session.touch_interval.count(), 0, k_day_s),
      int_key("security.device_event_records", d.device_events.max_records, 1, 1'000'000),
      int_key("security.device_event_window_s", d.device_events.window.count(), 1, k_day_s),
      // Policy lengths below 12 only for tests; the bound keeps a typo from allowing 1.
      int_key("security.password_min_length", static_cast<std::int64_t>(d.password.min_length), 8,
              256),
      int_key("security.password_history", static_cast<std::int64_t>(d.password.history), 0, 24),
      // Tests shorten hashing; 1,000 is the floor so a typo cannot make hashes trivial.
      int_key("security.password_iterations", d.password.iterations, 1000, 10'000'000),
  };
}

security_settings security_settings_from(const common::config& c) {
  security_settings s;
  s.lockout.threshold = c.get_int("security.lockout_threshold");
  s.lockout.lock_duration = std::chrono::seconds{c.get_int("security.lockout_s")};
  s.throttle.max_failures = c.get_int("security.throttle_failures");
  s.throttle.window = std::chrono::seconds{c.get_int("security.throttle_window_s")};
  s.burst.threshold = c.get_int("security.alarm_failures");
  s.burst.window = std::chrono::seconds{c.get_int("security.alarm_window_s")};
  s.session.idle = std::chrono::seconds{c.get_int("security.session_idle_s")};
  s.session.lifetime = std::chrono::seconds{c.get_int("security.session_max_s")};
  s.session.touch_interval = std::chrono::seconds{c.get_int("security.session_touch_s")};
  s.device_events.max_records = c.get_int("security.device_event_records");
  s.device_events.window = std::chrono::seconds{c.get_int("security.device_event_window_s")};
  s.password.min_length = static_cast<std::size_t>(c.get_int("security.password_min_length"));
  s.password.history = static_cast<std::size_t>(c.get_int("security.password_history"));
  s.password.iterations = static_cast<std::uint32_t>(c.get_int("security.password_iterations"));
  return s;
}

}  // namespace aterm::cloud::security
