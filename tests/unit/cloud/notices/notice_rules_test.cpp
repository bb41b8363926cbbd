#include <doctest/doctest.h>

#include "aterm/cloud/notices/notice_rules.h"
#include "aterm/common/clock.h"

namespace {

using namespace aterm::cloud;
using namespace aterm::cloud::notices;

// An instant given in JST ("2027-01-28T23:59:59"), as Unix seconds.
std::int64_t jst(const std::string& local) {
  auto t = aterm::common::parse_iso8601(local + "+09:00");
  REQUIRE_MESSAGE(t.ok(), local);
  return aterm::common::to_unix_s(*t);
}

notice_settings with_holidays(std::string_view list) {
  auto cal = parse_holidays(list);
  REQUIRE_MESSAGE(cal.ok(), cal.error().to_string());
  return {*cal, 3};
}

// Whether a two-hour window starting at `start` (JST) may be announced at `now` (JST).
window_refusal announce(const notice_settings& s, const std::string& now, const std::string& start,
                        bool urgent = false) {
  return check_window(s, jst(now), jst(start), jst(start) + 7200, urgent).refusal;
}

}  // namespace

TEST_CASE("three business days ahead across a weekend") {
  auto s = with_holidays("");
  // A Tuesday start: Monday, Friday and Thursday before it are the three business days.
  CHECK(format_day(last_announcement_day(s.holidays, jst_day_of(jst("2027-02-02T02:00:00")), 3)) ==
        "2027-01-28");
  CHECK(announce(s, "2027-01-28T23:59:59", "2027-02-02T02:00:00") == window_refusal::none);
  CHECK(announce(s, "2027-01-29T00:00:00", "2027-02-02T02:00:00") == window_refusal::too_soon);
  // The day is JST's: 23:59 JST on Thursday is still Thursday although it is Thursday 14:59 UTC,
  // and 00:00 JST on Friday is Thursday 15:00 UTC.
  CHECK(check_window(s, jst("2027-01-29T00:00:00"), jst("2027-02-02T02:00:00"),
                     jst("2027-02-02T04:00:00"), false)
            .last_day == jst_day_of(jst("2027-01-28T12:00:00")));
  // A Saturday announcement of a Wednesday window has only Monday and Tuesday between.
  CHECK(announce(s, "2027-01-30T10:00:00", "2027-02-03T02:00:00") == window_refusal::too_soon);
  CHECK(announce(s, "2027-01-29T10:00:00", "2027-02-03T02:00:00") == window_refusal::none);
}

TEST_CASE("three business days ahead across a holiday") {
  // Tuesday 2027-02-23 is the Emperor's Birthday: a Thursday window is announced by Friday.
  auto with = with_holidays("2027-02-23 天皇誕生日\n");
  auto without = with_holidays("");
  CHECK(announce(with, "2027-02-19T18:00:00", "2027-02-25T01:00:00") == window_refusal::none);
  CHECK(announce(with, "2027-02-22T09:00:00", "2027-02-25T01:00:00") == window_refusal::too_soon);
  CHECK(announce(without, "2027-02-22T09:00:00", "2027-02-25T01:00:00") == window_refusal::none);
}

TEST_CASE("three business days ahead across the year end") {
  // A window on Monday 2027-01-04: New Year's Day (Friday) and the weekend are skipped, so the
  // last day is Tuesday 2026-12-29.
  auto national = with_holidays("# national\n2027-01-01 元日\n");
  CHECK(announce(national, "2026-12-29T17:00:00", "2027-01-04T03:00:00") == window_refusal::none);
  CHECK(announce(national, "2026-12-30T09:00:00", "2027-01-04T03:00:00") ==
        window_refusal::too_soon);
  // A company calendar with the year-end closure (12-29 to 01-03) moves it to 2026-12-24.
  auto closure =
      with_holidays("2026-12-29\n2026-12-30\n2026-12-31\n2027-01-01\n2027-01-02\n2027-01-03\n");
  CHECK(format_day(last_announcement_day(closure.holidays, jst_day_of(jst("2027-01-04T03:00:00")),
                                         3)) == "2026-12-24");
  CHECK(announce(closure, "2026-12-25T09:00:00", "2027-01-04T03:00:00") ==
        window_refusal::too_soon);
}

TEST_CASE(
    "an urgent window may be announced at once, and a window must end after it starts and now") {
  auto s = with_holidays("");
  CHECK(announce(s, "2027-02-01T10:00:00", "2027-02-01T12:00:00", true) == window_refusal::none);
  CHECK(announce(s, "2027-02-01T10:00:00", "2027-02-01T12:00:00") == window_refusal::too_soon);
  CHECK(check_window(s, jst("2027-02-01T10:00:00"), jst("2027-02-10T12:00:00"),
                     jst("2027-02-10T12:00:00"), true)
            .refusal == window_refusal::bad_window);
  CHECK(check_window(s, jst("2027-02-01T10:00:00"), jst("2027-01-10T12:00:00"),
                     jst("2027-01-10T13:00:00"), true)
            .refusal == window_refusal::in_the_past);
  // The lead is a setting: 0 lets any future window through.
  notice_settings none{{}, 0};
  CHECK(announce(none, "2027-02-01T10:00:00", "2027-02-01T12:00:00") == window_refusal::none);
}

TEST_CASE("the holiday file: comments, names, and a clear error naming the bad line") {
  auto ok = parse_holidays("# comment\n\n2027-01-01 元日\r\n  2027-01-11\t成人の日\n");
  REQUIRE(ok.ok());
  CHECK(ok->size() == 2);
  for (const char* bad : {"2027-01-01\n2027-13-01\n", "2027-01-01\nJanuary 1\n",
                          "2027-01-01\n2027-02-29\n", "2027-01-01\n2027-01-011\n"}) {
    auto r = parse_holidays(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == "bad_holidays");
    CHECK(r.error().message().find("line 2") != std::string::npos);
  }
  CHECK_FALSE(load_holidays("/nonexistent/holidays.txt").ok());
}

TEST_CASE("the shipped holiday file holds Japan's holidays with substitute holidays") {
  auto cal = load_holidays(ATERM_SHIPPED_HOLIDAYS);
  REQUIRE_MESSAGE(cal.ok(), cal.error().to_string());
  CHECK(cal->size() >= 5 * 16);
  for (const char* day : {"2026-05-06", "2027-03-22", "2029-04-30", "2030-11-04", "2026-09-22",
                          "2028-01-01", "2030-01-14"}) {
    CAPTURE(day);
    CHECK(cal->holiday(jst_day_of(jst(std::string(day) + "T12:00:00"))));
  }
  CHECK_FALSE(cal->holiday(jst_day_of(jst("2027-12-31T12:00:00"))));
}

TEST_CASE("the announcement mails carry Japanese and English") {
  notice n;
  n.id = 7;
  n.kind = notice_kind::maintenance;
  n.starts_at_s = jst("2027-02-10T02:00:00");
  n.ends_at_s = jst("2027-02-10T04:00:00");
  n.text = {"ファームウェア配信基盤の更新", "Firmware distribution upgrade"};
  auto m = maintenance_mail(n);
  CHECK(m.subject.find("計画メンテナンス") != std::string::npos);
  CHECK(m.subject.find("Planned maintenance") != std::string::npos);
  CHECK(m.body.find("ファームウェア配信基盤の更新") != std::string::npos);
  CHECK(m.body.find("Firmware distribution upgrade") != std::string::npos);
  CHECK(m.body.find("2027-02-10 02:00 JST - 2027-02-10 04:00 JST") != std::string::npos);
  n.kind = notice_kind::incident;
  n.status = incident_status::identified;
  auto i = incident_mail(n, false);
  CHECK(i.subject.find("#7") != std::string::npos);
  CHECK(i.subject.find("原因特定") != std::string::npos);
  CHECK(i.subject.find("identified") != std::string::npos);
}
