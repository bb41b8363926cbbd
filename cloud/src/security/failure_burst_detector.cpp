#include "aterm/cloud/security/failure_burst_detector.h"

#include <cassert>

#include "aterm/common/crypto.h"
#include "aterm/common/log.h"

namespace aterm::cloud::security {

std::string_view to_string(alarm_scope s) {
  return s == alarm_scope::company ? "company" : "platform";
}

failure_burst_detector::failure_burst_detector(burst_settings settings, shared_counters& counters,
                                               const common::clock& clock)
    : settings_(settings), counters_(counters), clock_(clock) {
  assert(settings_.threshold >= 1);
}

std::vector<alarm_event> failure_burst_detector::record_failure(std::string_view company_id) {
  const common::wall_time now = clock_.now();
  std::vector<alarm_event> alarms;
  if (!company_id.empty()) {
    if (auto a = count(alarm_scope::company, company_id, now)) alarms.push_back(std::move(*a));
  }
  if (auto a = count(alarm_scope::platform, "", now)) alarms.push_back(std::move(*a));
  return alarms;
}

std::optional<alarm_event> failure_burst_detector::count(alarm_scope scope,
                                                         std::string_view company_id,
                                                         common::wall_time now) {
  const std::string counter = scope == alarm_scope::company
                                  ? "login_burst:company:" + std::string(company_id)
                                  : std::string("login_burst:platform");
  const std::int64_t now_ms = common::to_unix_ms(now);
  const std::int64_t window_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(settings_.window).count();
  // A failure exactly `window` old has left the window.
  auto recent = counters_.add_counter_event(counter, now_ms, now_ms + window_ms,
                                            static_cast<std::size_t>(settings_.threshold));
  if (!recent.ok()) {
    common::log(common::log_level::error, "security", "login failure not counted for the alarm",
                {{"error", recent.error().to_string()}});
    return std::nullopt;
  }
  if (static_cast<std::int64_t>(recent->size()) < settings_.threshold) return std::nullopt;
  // The alarm of this scope for one window: whichever instance takes the lease raises it; the
  // holder is this claim alone, so no instance extends it.
  const std::string holder = common::crypto::to_hex(common::crypto::random_bytes(8));
  auto claimed = counters_.take_lease("alarm:" + counter, holder, now_ms, now_ms + window_ms);
  if (!claimed.ok()) {
    common::log(common::log_level::error, "security", "alarm not claimed",
                {{"error", claimed.error().to_string()}});
    return std::nullopt;
  }
  if (!*claimed) return std::nullopt;
  alarm_event a;
  a.scope = scope;
  a.company_id = std::string(company_id);
  a.failures = static_cast<std::int64_t>(recent->size());
  a.window_start = common::from_unix_ms(recent->back());
  a.raised_at = now;
  return a;
}

}  // namespace aterm::cloud::security
