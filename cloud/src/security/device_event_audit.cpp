#include "aterm/cloud/security/device_event_audit.h"

namespace aterm::cloud::security {

std::string_view to_string(device_event_verdict v) {
  switch (v) {
    case device_event_verdict::record:
      return "record";
    case device_event_verdict::unknown_login:
      return "unknown_login";
    case device_event_verdict::rate_limited:
      return "rate_limited";
  }
  return "record";
}

device_event_verdict judge_device_event(const device_event_facts& f,
                                        const device_event_settings& s) {
  if (!f.login_held) return device_event_verdict::unknown_login;
  if (f.records_in_window >= s.max_records) return device_event_verdict::rate_limited;
  return device_event_verdict::record;
}

bool technician_login_event(std::string_view type) {
  return type == "technician_login.used" || type == "technician_login.failed" ||
         type == "technician_login.locked" || type == "technician_login.ended";
}

}  // namespace aterm::cloud::security
