#include "aterm/cloud/notices/notice_rules.h"

#include <cstdio>
#include <fstream>
#include <iterator>

#include "aterm/cloud/notices/limits.h"
#include "aterm/common/clock.h"

namespace aterm::cloud::notices {

namespace {

constexpr std::int64_t k_day_s = 86400;
constexpr std::int64_t k_jst_offset_s = 9 * 3600;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, std::int64_t m, std::int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = floor_div(y, 400);
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

std::int64_t month_days(std::int64_t y, std::int64_t m) {
  constexpr std::int64_t k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : k_days[m - 1];
}

// "YYYY-MM-DD" at the start of `s`, else nullopt.
std::optional<jst_day> parse_day(std::string_view s) {
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  auto digits = [&](std::size_t from, std::size_t n) -> std::optional<std::int64_t> {
    std::int64_t v = 0;
    for (std::size_t i = from; i < from + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  auto y = digits(0, 4);
  auto m = digits(5, 2);
  auto d = digits(8, 2);
  if (!y || !m || !d || *m < 1 || *m > 12 || *d < 1 || *d > month_days(*y, *m)) {
    return std::nullopt;
  }
  return days_from_civil(*y, *m, *d);
}

bool weekend(jst_day d) {
  // 1970-01-01 was a Thursday: 0 Thursday ... 2 Saturday, 3 Sunday.
  const std::int64_t w = ((d % 7) + 7) % 7;
  return w == 2 || w == 3;
}

std::string jst_time(std::int64_t unix_s) {
  // "2027-01-14T02:00:00+09:00" -> "2027-01-14 02:00 JST"
  auto t = common::format_jst(common::from_unix_s(unix_s));
  return t.substr(0, 10) + " " + t.substr(11, 5) + " JST";
}

std::string window_line(const notice& n) {
  return jst_time(n.starts_at_s) + " - " + jst_time(n.ends_at_s);
}

std::string_view status_ja(incident_status s) {
  switch (s) {
    case incident_status::investigating:
      return "調査中";
    case incident_status::identified:
      return "原因特定";
    case incident_status::monitoring:
      return "経過観察中";
    case incident_status::resolved:
      return "解決済み";
  }
  return "調査中";
}

}  // namespace

jst_day jst_day_of(std::int64_t unix_s) {
  return floor_div(unix_s + k_jst_offset_s, k_day_s);
}

std::string format_day(jst_day d) {
  return common::format_utc(common::from_unix_s(d * k_day_s)).substr(0, 10);
}

common::result<holiday_calendar> parse_holidays(std::string_view text) {
  std::set<jst_day> days;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    line.remove_prefix(first);
    auto d = parse_day(line);
    if (!d || (line.size() > 10 && line[10] != ' ' && line[10] != '\t')) {
      return common::status::error(
          "bad_holidays",
          "line " + std::to_string(line_no) + ": expected YYYY-MM-DD and an optional name");
    }
    if (days.size() >= limits::k_max_holidays) {
      return common::status::error(
          "bad_holidays", "more than " + std::to_string(limits::k_max_holidays) + " holidays");
    }
    days.insert(*d);
  }
  return holiday_calendar(std::move(days));
}

common::result<holiday_calendar> load_holidays(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return common::status::error("bad_holidays", path.string() + ": cannot be read");
  std::string text;
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (text.size() > limits::k_max_holidays_file_bytes) {
    return common::status::error("bad_holidays", path.string() + ": too large");
  }
  auto cal = parse_holidays(text);
  if (!cal.ok()) {
    return common::status::error("bad_holidays", path.string() + ": " + cal.error().message());
  }
  return cal;
}

bool business_day(const holiday_calendar& cal, jst_day d) {
  return !weekend(d) && !cal.holiday(d);
}

jst_day last_announcement_day(const holiday_calendar& cal, jst_day start, std::int64_t lead) {
  jst_day d = start;
  for (std::int64_t counted = 0; counted < lead;) {
    --d;
    if (business_day(cal, d)) ++counted;
  }
  return d;
}

std::string_view to_string(window_refusal r) {
  switch (r) {
    case window_refusal::none:
      return "none";
    case window_refusal::bad_window:
      return "bad_window";
    case window_refusal::in_the_past:
      return "window_in_past";
    case window_refusal::too_soon:
      return "maintenance_too_soon";
  }
  return "none";
}

window_check check_window(const notice_settings& s, std::int64_t now_s, std::int64_t starts_at_s,
                          std::int64_t ends_at_s, bool urgent) {
  if (ends_at_s <= starts_at_s) return {window_refusal::bad_window, 0};
  if (ends_at_s <= now_s) return {window_refusal::in_the_past, 0};
  if (urgent) return {};
  const jst_day last =
      last_announcement_day(s.holidays, jst_day_of(starts_at_s), s.lead_business_days);
  if (jst_day_of(now_s) > last) return {window_refusal::too_soon, last};
  return {};
}

mail_message maintenance_mail(const notice& n) {
  mail_message m;
  const std::string when = window_line(n);
  m.subject = std::string(n.urgent ? "【緊急】" : "") + "計画メンテナンスのお知らせ / " +
              (n.urgent ? "Urgent maintenance: " : "Planned maintenance: ") + when;
  m.body = "Aterm クラウド管理サービスをご利用の管理者様\n\n" +
           std::string(n.urgent ? "緊急メンテナンスを実施いたします。\n"
                                : "下記の日程で計画メンテナンスを実施いたします。\n") +
           "日時: " + when + "\n\n" + n.text.ja +
           "\n\n----\n\nTo the administrators of Aterm Cloud Device Management\n\n" +
           (n.urgent ? "Urgent maintenance will take place.\n"
                     : "Planned maintenance will take place as follows.\n") +
           "When: " + when + "\n\n" + n.text.en + "\n";
  return m;
}

mail_message incident_mail(const notice& n, bool first) {
  mail_message m;
  const std::string id = "#" + std::to_string(n.id);
  const std::string_view en_status = to_string(n.status);
  m.subject = std::string(first ? "障害のお知らせ " : "障害情報の更新 ") + id + " (" +
              std::string(status_ja(n.status)) + ") / " +
              (first ? "Incident " : "Incident update ") + id + " (" + std::string(en_status) + ")";
  m.body = "Aterm クラウド管理サービスをご利用の管理者様\n\n障害 " + id +
           " 状態: " + std::string(status_ja(n.status)) + "\n\n" + n.text.ja +
           "\n\n最新の情報はステータスページ (/status) でご確認いただけます。\n\n----\n\n"
           "To the administrators of Aterm Cloud Device Management\n\nIncident " +
           id + " status: " + std::string(en_status) + "\n\n" + n.text.en +
           "\n\nThe status page (/status) has the latest information.\n";
  return m;
}

std::vector<common::config_key> notices_config_schema() {
  return {
      {"notices.holidays_file",
       common::config_type::string,
       std::string(ATERM_DEFAULT_HOLIDAYS_FILE),
       false,
       {},
       {}},
      {"notices.lead_business_days", common::config_type::integer, std::int64_t{3}, false, 0,
       limits::k_max_lead_business_days},
  };
}

common::result<notice_settings> notice_settings_from(const common::config& c) {
  notice_settings s;
  s.lead_business_days = c.get_int("notices.lead_business_days");
  auto cal = load_holidays(c.get_string("notices.holidays_file"));
  if (!cal.ok()) return cal.error();
  s.holidays = std::move(*cal);
  return s;
}

}  // namespace aterm::cloud::notices
