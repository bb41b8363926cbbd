#include "aterm/cloud/security/failure_burst_detector.h"

#include <algorithm>
#include <cassert>

#include "aterm/cloud/security/limits.h"

namespace aterm::cloud::security {

std::string_view to_string(alarm_scope s) {
  return s == alarm_scope::company ? "company" : "platform";
}

failure_burst_detector::failure_burst_detector(burst_settings settings, const common::clock& clock)
    : settings_(settings), clock_(clock) {
  assert(settings_.threshold >= 1);
}

std::vector<alarm_event> failure_burst_detector::record_failure(std::string_view company_id) {
  const common::wall_time now = clock_.now();
  std::lock_guard lock(mu_);
  std::vector<alarm_event> alarms;
  if (!company_id.empty()) {
    auto it = companies_.find(company_id);
    if (it == companies_.end()) {
      if (companies_.size() >= limits::k_max_tracked_keys) {
        std::erase_if(companies_, [&](const auto& kv) {
          return kv.second.failures.empty() || kv.second.failures.back() <= now - settings_.window;
        });
      }
      if (companies_.size() >= limits::k_max_tracked_keys) companies_.erase(companies_.begin());
      it = companies_.emplace(std::string(company_id), scope_state{}).first;
    }
    if (auto a = count_locked(it->second, alarm_scope::company, company_id, now)) {
      alarms.push_back(std::move(*a));
    }
  }
  if (auto a = count_locked(platform_, alarm_scope::platform, "", now)) {
    alarms.push_back(std::move(*a));
  }
  return alarms;
}

std::optional<alarm_event> failure_burst_detector::count_locked(scope_state& s, alarm_scope scope,
                                                                std::string_view company_id,
                                                                common::wall_time now) {
  while (!s.failures.empty() && s.failures.front() <= now - settings_.window) {
    s.failures.pop_front();
  }
  s.failures.push_back(now);
  while (static_cast<std::int64_t>(s.failures.size()) > settings_.threshold) {
    s.failures.pop_front();
  }
  if (static_cast<std::int64_t>(s.failures.size()) < settings_.threshold) return std::nullopt;
  if (s.last_alarm && now - *s.last_alarm < settings_.window) return std::nullopt;
  s.last_alarm = now;
  alarm_event a;
  a.scope = scope;
  a.company_id = std::string(company_id);
  a.failures = static_cast<std::int64_t>(s.failures.size());
  a.window_start = s.failures.front();
  a.raised_at = now;
  return a;
}

}  // namespace aterm::cloud::security
