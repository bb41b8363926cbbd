#include <doctest/doctest.h>

#include <string>

#include "aterm/common/clock.h"

using namespace aterm::common;
using namespace std::chrono_literals;

TEST_CASE("format_utc and format_jst across day - month - year and leap-day boundaries") {
  struct row {
    std::int64_t unix_s;
    const char* utc;
    const char* jst;
  };
  const row rows[] = {
      {0, "1970-01-01T00:00:00Z", "1970-01-01T09:00:00+09:00"},
      {1798729200, "2026-12-31T15:00:00Z", "2027-01-01T00:00:00+09:00"},
      {1798729199, "2026-12-31T14:59:59Z", "2026-12-31T23:59:59+09:00"},
      {1780239600, "2026-05-31T15:00:00Z", "2026-06-01T00:00:00+09:00"},
      {1709132400, "2024-02-28T15:00:00Z", "2024-02-29T00:00:00+09:00"},
      {1709218800, "2024-02-29T15:00:00Z", "2024-03-01T00:00:00+09:00"},
      {951782400, "2000-02-29T00:00:00Z", "2000-02-29T09:00:00+09:00"},
      {1795772253, "2026-11-27T09:37:33Z", "2026-11-27T18:37:33+09:00"},
      {-1, "1969-12-31T23:59:59Z", "1970-01-01T08:59:59+09:00"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.unix_s);
    CHECK(format_utc(from_unix_s(r.unix_s)) == r.utc);
    CHECK(format_jst(from_unix_s(r.unix_s)) == r.jst);
    auto back_utc = parse_iso8601(r.utc);
    REQUIRE(back_utc.ok());
    CHECK(to_unix_s(*back_utc) == r.unix_s);
    auto back_jst = parse_iso8601(r.jst);
    REQUIRE(back_jst.ok());
    CHECK(to_unix_s(*back_jst) == r.unix_s);
  }
  // Sub-second parts are dropped, never rounded up.
  CHECK(format_utc(from_unix_ms(1795772253999)) == "2026-11-27T09:37:33Z");
  CHECK(format_utc(from_unix_ms(-1)) == "1969-12-31T23:59:59Z");
}

TEST_CASE("parse_iso8601 accepts offsets - fractions and dates") {
  struct row {
    const char* text;
    std::int64_t unix_ms;
  };
  const row rows[] = {
      {"2026-11-27T09:37:33Z", 1795772253000},
      {"2026-11-27T18:37:33+09:00", 1795772253000},
      {"2026-11-27T04:07:33-05:30", 1795772253000},
      {"2026-11-27T09:37:33.123Z", 1795772253123},
      {"2026-11-27T09:37:33.5+00:00", 1795772253500},
      {"2026-11-27T09:37:33.123456789Z", 1795772253123},
      {"2026-11-27", 1795737600000},
      {"2024-02-29", 1709164800000},
      {"1970-01-01T00:00:00Z", 0},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    auto t = parse_iso8601(r.text);
    REQUIRE(t.ok());
    CHECK(to_unix_ms(*t) == r.unix_ms);
  }
}

TEST_CASE("parse_iso8601 refuses garbage with bad_time") {
  for (const char* bad : {"",
                          "2026",
                          "2026-11",
                          "2026-13-01",
                          "2026-00-10",
                          "2026-11-31",
                          "2025-02-29",
                          "2026-11-27T25:00:00Z",
                          "2026-11-27T09:60:00Z",
                          "2026-11-27T09:37:61Z",
                          "2026-11-27 09:37:33Z",
                          "2026-11-2709:37:33Z",
                          "2026-11-27T09:37:33",
                          "2026-11-27T09:37Z",
                          "2026-11-27T09:37:33Zjunk",
                          "2026-11-27T09:37:33+0900",
                          "2026-11-27T09:37:33+24:00",
                          "2026-11-27T09:37:33.Z",
                          "2026-11-27x",
                          "20261127",
                          "+2026-11-27",
                          "9999-12-31T00:00:00Z",
                          "2026-1-27",
                          "2026-11-27T9:37:33Z",
                          "yesterday"}) {
    CAPTURE(bad);
    auto t = parse_iso8601(bad);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().code() == "bad_time");
  }
}

TEST_CASE("manual_clock moves only when told and mono follows forward moves") {
  manual_clock c(from_unix_s(1000));
  CHECK(c.now_s() == 1000);
  const auto m0 = c.mono();
  c.advance(1500ms);
  CHECK(c.now_ms() == 1001500);
  CHECK(c.mono() - m0 == 1500ms);
  c.set(from_unix_s(2000));
  CHECK(c.now_s() == 2000);
  CHECK(c.mono() - m0 == std::chrono::milliseconds(1000000));
  c.set(from_unix_s(10));
  CHECK(c.now_s() == 10);
  CHECK(c.mono() - m0 == std::chrono::milliseconds(1000000));
}

TEST_CASE("system_clock is close to the real time") {
  auto& c = system_clock::instance();
  CHECK(c.now_s() > 1767225600);  // after 2026-01-01
  CHECK(&c == &system_clock::instance());
  const auto first = c.mono();
  const auto second = c.mono();
  CHECK(first <= second);
}
