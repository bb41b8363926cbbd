// The attack alarm (DESIGN.md section 5): `threshold` failed logins within the sliding `window`,
// counted per company and platform-wide, raise an alarm for the system administrators. Each scope
// alarms at most once per window (the first failure that reaches the threshold alarms; an ongoing
// burst alarms again once a full window has passed since the last alarm of that scope), not per
// failure. The failures are counted and the alarm is claimed in the store (shared_counters.h: a
// lease of the scope for one window), so several instances on one database raise one alarm per
// burst between them. The caller stores the alarm and queues the mail. Thread-safe. Takes now
// from `clock`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/cloud/security/settings.h"
#include "aterm/cloud/shared_counters.h"
#include "aterm/common/clock.h"

namespace aterm::cloud::security {

enum class alarm_scope { company, platform };

// "company", "platform".
std::string_view to_string(alarm_scope s);

struct alarm_event {
  alarm_scope scope = alarm_scope::platform;
  std::string company_id;     // empty for the platform scope
  std::int64_t failures = 0;  // failures inside the window when the alarm was raised
  common::wall_time window_start;
  common::wall_time raised_at;
};

class failure_burst_detector {
 public:
  // `counters` and `clock` must outlive the detector.
  failure_burst_detector(burst_settings settings, shared_counters& counters,
                         const common::clock& clock);

  // Counts one failed login. `company_id`: only when it names an existing company (an unknown
  // id typed by an attacker must not create state) — empty counts platform-wide only. Returns
  // the alarms this failure raised: none, one, or two (company and platform). A store that
  // cannot be written raises none (logged).
  std::vector<alarm_event> record_failure(std::string_view company_id);

 private:
  std::optional<alarm_event> count(alarm_scope scope, std::string_view company_id,
                                   common::wall_time now);

  burst_settings settings_;
  shared_counters& counters_;
  const common::clock& clock_;
};

}  // namespace aterm::cloud::security
