// The settings of the account-security rules (DESIGN.md sections 5 and 7). Every duration the
// service document fixes is a setting with the document's value as default, so tests can shorten
// it. Plain values; copy freely.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "aterm/common/config.h"

namespace aterm::cloud::security {

struct lockout_settings {
  std::int64_t threshold = 5;                // security.lockout_threshold. Default: 5 failures.
  std::chrono::seconds lock_duration{1800};  // security.lockout_s. Default: 30 min.
};

struct throttle_settings {
  std::int64_t max_failures = 10;   // security.throttle_failures. Default: 10 per address.
  std::chrono::seconds window{60};  // security.throttle_window_s. Default: 60 s (sliding).
};

struct burst_settings {
  std::int64_t threshold = 20;       // security.alarm_failures. Default: 20 failures.
  std::chrono::seconds window{300};  // security.alarm_window_s. Default: 5 min (sliding).
};

struct session_settings {
  std::chrono::seconds idle{3600};       // security.session_idle_s. Default: 60 min.
  std::chrono::seconds lifetime{43200};  // security.session_max_s. Default: 12 h.
  // last_seen is written back at most this often (a write per request is wasted I/O); the idle
  // judgement is therefore at most this much generous. Default: 60 s.
  std::chrono::seconds touch_interval{60};  // security.session_touch_s
};

// Technician-login event records per device (device_event_audit.h): a router reports a use, a
// few failures and a lock per login, far below this.
struct device_event_settings {
  std::int64_t max_records = 30;    // security.device_event_records. Default: 30 per device.
  std::chrono::seconds window{60};  // security.device_event_window_s. Default: 60 s (sliding).
};

struct password_settings {
  std::size_t min_length = 12;        // security.password_min_length. Default: 12 characters.
  std::size_t history = 3;            // security.password_history. Default: the last 3.
  std::uint32_t iterations = 600000;  // security.password_iterations. Default: 600,000.
  std::size_t salt_bytes = 16;        // fixed by the service document: 16-byte salt
};

struct security_settings {
  lockout_settings lockout;
  throttle_settings throttle;
  burst_settings burst;
  session_settings session;
  password_settings password;
  device_event_settings device_events;
};

// The `security.*` keys above with their defaults and bounds. The cloud's configuration schema
// appends these (other `security.`/`retention.` keys, e.g. the inactivity durations, belong to
// the jobs and are not here).
common::config_schema security_config_schema();

// REQUIRES: `c` was loaded with a schema that contains security_config_schema().
security_settings security_settings_from(const common::config& c);

}  // namespace aterm::cloud::security
