// The alert evaluator of `serve` (docs/alerts.md): every alerts.interval_ms it judges each
// registered router of each company against the company's rules (alert_rules.h) and raises or
// clears alarms through the alert port, which queues their notices to the company's channels.
// Every instance may run it: the port's unique key raises an alarm once.
// Owned and run by one thread (the scheduler's).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aterm/cloud/alerts/alert_port.h"
#include "aterm/common/clock.h"
#include "aterm/common/config.h"

namespace aterm::cloud::alerts {

struct alert_settings {
  // alerts.offline_after_s: the offline rule's window for a company that set none. Default:
  // 1800 (the service's 30 minutes).
  std::int64_t offline_after_s = 1800;
};
alert_settings alert_settings_from(const common::config& c);

// The notice of an alarm event ("alarm.raised", "alarm.cleared", "test"): the webhook's JSON
//   {"id":"<event id>","type":"alarm.raised","sent_at":"<UTC ISO 8601>","alarm":{...}}
// and a mail in Japanese and English.
alarm_notice notice_for(const alarm_record& a, std::string_view event, std::int64_t now_s);
// The JSON of a test event of a webhook channel.
std::string test_event_json(const std::string& company_id, std::int64_t now_s);
// An alarm as JSON (the API's and the events' shape).
std::string alarm_json(const alarm_record& a);

struct evaluation {
  std::size_t raised = 0;
  std::size_t cleared = 0;
  std::size_t failures = 0;
};

class alert_evaluator {
 public:
  alert_evaluator(store& db, alert_port& port, alert_settings settings, const common::clock& clock);
  evaluation run_once();

 private:
  void judge_company(const std::string& company_id, evaluation& out);

  store& db_;
  alert_port& port_;
  alert_settings settings_;
  const common::clock& clock_;
};

}  // namespace aterm::cloud::alerts
