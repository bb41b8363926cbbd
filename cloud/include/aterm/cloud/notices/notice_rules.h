// The rules of the service document's notices (DESIGN.md section 5): planned maintenance is
// announced at least `lead_business_days` business days ahead (default 3) unless urgent, where
// a business day is a weekday in JST that is not on the holiday list (notices.holidays_file,
// shipped as cloud/data/holidays-jp.txt with Japan's national holidays); and the announcement
// mails of maintenance windows and incidents, in Japanese and English in one mail (accounts
// carry no language).
//
// Pure functions and immutable values: safe from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/cloud/model.h"
#include "aterm/cloud/notices/notice.h"
#include "aterm/common/config.h"
#include "aterm/common/status.h"

namespace aterm::cloud::notices {

// A day of the JST calendar: days since 1970-01-01 (JST).
using jst_day = std::int64_t;

// The JST day holding the instant `unix_s`.
jst_day jst_day_of(std::int64_t unix_s);
// "YYYY-MM-DD" of a JST day.
std::string format_day(jst_day d);

// Days that are not business days although they are weekdays.
class holiday_calendar {
 public:
  holiday_calendar() = default;
  explicit holiday_calendar(std::set<jst_day> days) : days_(std::move(days)) {}
  bool holiday(jst_day d) const { return days_.count(d) != 0; }
  std::size_t size() const { return days_.size(); }

 private:
  std::set<jst_day> days_;
};

// The holiday file's text: one day per line as "YYYY-MM-DD", optionally followed by spaces and
// a name; blank lines and lines starting with '#' are skipped. Error code "bad_holidays" naming
// the line number of the first line that is neither.
common::result<holiday_calendar> parse_holidays(std::string_view text);
// The file at `path`, parsed; "bad_holidays" when it cannot be read.
common::result<holiday_calendar> load_holidays(const std::filesystem::path& path);

// Monday to Friday in JST and not a holiday.
bool business_day(const holiday_calendar& cal, jst_day d);

// The last day on which a window starting on `start` may still be announced: `lead` business
// days before it (the day `lead` business days back from `start`, counting only business
// days). With lead 3 and a Thursday start in a week without holidays: the Monday before.
jst_day last_announcement_day(const holiday_calendar& cal, jst_day start, std::int64_t lead);

struct notice_settings {
  holiday_calendar holidays;  // notices.holidays_file. Default: cloud/data/holidays-jp.txt
  // notices.lead_business_days: how far ahead maintenance is announced. Default: 3.
  std::int64_t lead_business_days = 3;
};

// Why a maintenance window is refused. Closed: each has one string form (to_string).
enum class window_refusal {
  none,
  bad_window,   // ends at or before it starts
  in_the_past,  // ends before now
  too_soon,     // announced later than lead_business_days ahead without urgent
};
std::string_view to_string(window_refusal r);

struct window_check {
  window_refusal refusal = window_refusal::none;
  // For too_soon: the last JST day on which the window could have been announced.
  jst_day last_day = 0;
};

// Whether a window [starts_at_s, ends_at_s) announced at `now_s` may be scheduled.
window_check check_window(const notice_settings& s, std::int64_t now_s, std::int64_t starts_at_s,
                          std::int64_t ends_at_s, bool urgent);

// The announcement of a maintenance window to company administrators: the subject and body
// in Japanese then English (recipient and times left for the store to fill).
mail_message maintenance_mail(const notice& n);
// The announcement of an incident, when posted (`first`) and on each update.
mail_message incident_mail(const notice& n, bool first);

// The notices.* configuration keys.
std::vector<common::config_key> notices_config_schema();
// Reads notices.* and the holiday file; "bad_holidays" when the file is missing or malformed.
common::result<notice_settings> notice_settings_from(const common::config& c);

}  // namespace aterm::cloud::notices
