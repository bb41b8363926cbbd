#include "aterm/cloud/security/failure_burst_detector.h"

#include <doctest/doctest.h>

#include "shared_store.h"

using namespace std::chrono_literals;
using aterm::common::manual_clock;
namespace sec = aterm::cloud::security;

namespace {
const aterm::common::wall_time k_start = aterm::common::from_unix_s(1'800'000'000);
}

TEST_CASE("burst: the 20th failure within 5 minutes alarms once for the company and platform") {
  manual_clock clock(k_start);
  aterm::test::shared_store store(clock);
  auto db = store.open();
  sec::failure_burst_detector d({}, *db, clock);
  for (int i = 1; i < 20; ++i) {
    CAPTURE(i);
    CHECK(d.record_failure("acme").empty());
    clock.advance(10s);
  }
  const auto alarms = d.record_failure("acme");  // 20th, 190 s after the first
  REQUIRE(alarms.size() == 2);
  CHECK(alarms[0].scope == sec::alarm_scope::company);
  CHECK(alarms[0].company_id == "acme");
  CHECK(alarms[0].failures == 20);
  CHECK(alarms[0].window_start == k_start);
  CHECK(alarms[0].raised_at == k_start + 190s);
  CHECK(alarms[1].scope == sec::alarm_scope::platform);
  CHECK(alarms[1].company_id.empty());
  // The burst goes on: no alarm per failure within the window...
  for (int i = 0; i < 29; ++i) {
    clock.advance(10s);
    CHECK(d.record_failure("acme").empty());
  }
  // ...and one again a full window after the last alarm.
  clock.advance(10s);
  CHECK(d.record_failure("acme").size() == 2);
}

TEST_CASE("burst: failures spread wider than the window never alarm") {
  manual_clock clock(k_start);
  aterm::test::shared_store store(clock);
  auto db = store.open();
  sec::failure_burst_detector d({}, *db, clock);
  // One every 16 s: at most 19 inside any 300 s window.
  for (int i = 0; i < 200; ++i) {
    CHECK(d.record_failure("acme").empty());
    clock.advance(16s);
  }
}

TEST_CASE("burst: failures across companies alarm platform-wide only") {
  manual_clock clock(k_start);
  aterm::test::shared_store store(clock);
  auto db = store.open();
  sec::failure_burst_detector d({}, *db, clock);
  std::vector<sec::alarm_event> alarms;
  for (int c = 0; c < 10; ++c) {
    for (int i = 0; i < 2; ++i) {
      auto a = d.record_failure("company-" + std::to_string(c));
      alarms.insert(alarms.end(), a.begin(), a.end());
    }
  }
  REQUIRE(alarms.size() == 1);
  CHECK(alarms[0].scope == sec::alarm_scope::platform);
}

TEST_CASE("burst: settings shorten the rule, an unknown company counts platform-wide") {
  manual_clock clock(k_start);
  aterm::test::shared_store store(clock);
  auto db = store.open();
  sec::failure_burst_detector d({3, 10s}, *db, clock);
  CHECK(d.record_failure("").empty());
  CHECK(d.record_failure("").empty());
  clock.advance(10s);  // the first two left the window
  CHECK(d.record_failure("").empty());
  CHECK(d.record_failure("").empty());
  const auto a = d.record_failure("");
  REQUIRE(a.size() == 1);
  CHECK(a[0].scope == sec::alarm_scope::platform);
  CHECK(sec::to_string(a[0].scope) == "platform");
}

TEST_CASE("burst: a burst split over two instances on one store alarms once per scope") {
  manual_clock clock(k_start);
  aterm::test::shared_store store(clock);
  auto db_a = store.open();
  auto db_b = store.open();
  sec::failure_burst_detector a({}, *db_a, clock);
  sec::failure_burst_detector b({}, *db_b, clock);
  std::vector<sec::alarm_event> alarms;
  // 40 failures within the window, every other one on each instance: each alone reaches 20.
  for (int i = 0; i < 40; ++i) {
    auto raised = (i % 2 == 0 ? a : b).record_failure("acme");
    alarms.insert(alarms.end(), raised.begin(), raised.end());
    clock.advance(1s);
  }
  REQUIRE(alarms.size() == 2);
  CHECK(alarms[0].scope == sec::alarm_scope::company);
  CHECK(alarms[0].failures == 20);
  CHECK(alarms[0].window_start == k_start);
  CHECK(alarms[1].scope == sec::alarm_scope::platform);
  // A window after the alarm, the ongoing burst alarms again, on whichever instance counts it.
  clock.advance(280s);  // t = 320 s: the alarm of t = 19 s is a window old
  for (int i = 0; i < 20; ++i) {
    auto raised = (i % 2 == 0 ? b : a).record_failure("acme");
    alarms.insert(alarms.end(), raised.begin(), raised.end());
  }
  CHECK(alarms.size() == 4);
}
