// Which technician-login events of a device become access-log records (DESIGN.md section 4 step
// 4 and section 5, "access log"). A device is not trusted to name what it reports on: an event
// is recorded only for a login id the device holds (issued to that device by its company and not
// yet deleted, whatever its status), and at most `max_records` such records per device within
// any `window`, so a compromised router cannot grow the log that nobody may delete. The store
// reads the facts in the transaction that would append the record (the records counted are the
// store's own, so every instance sharing it counts the same); this rule decides. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "aterm/cloud/security/settings.h"

namespace aterm::cloud::security {

// What the store knows when a technician-login event of a registered device arrives.
struct device_event_facts {
  bool login_held = false;             // the login id is one issued to this device and kept
  std::int64_t records_in_window = 0;  // this device's event records within the window so far
};

enum class device_event_verdict {
  record,         // append the access-log record
  unknown_login,  // the device does not hold that login id: no record
  rate_limited,   // the device reached its records for the window: no record
};

// "record", "unknown_login", "rate_limited".
std::string_view to_string(device_event_verdict v);

device_event_verdict judge_device_event(const device_event_facts& f,
                                        const device_event_settings& s);

// True when `type` is one of the technician-login events (DESIGN.md section 3, "Events").
bool technician_login_event(std::string_view type);

}  // namespace aterm::cloud::security
