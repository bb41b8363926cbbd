#include "aterm/cloud/security/settings.h"

#include <doctest/doctest.h>

namespace sec = aterm::cloud::security;
using namespace std::chrono_literals;

TEST_CASE("settings: defaults are the service document's numbers") {
  auto c = aterm::common::parse_config("{}", "<test>", sec::security_config_schema());
  REQUIRE(c.ok());
  const auto s = sec::security_settings_from(*c);
  CHECK(s.lockout.threshold == 5);
  CHECK(s.lockout.lock_duration == 1800s);
  CHECK(s.burst.threshold == 20);
  CHECK(s.burst.window == 300s);
  CHECK(s.throttle.max_failures == 10);
  CHECK(s.throttle.window == 60s);
  CHECK(s.session.idle == 3600s);
  CHECK(s.session.lifetime == 43200s);
  CHECK(s.password.min_length == 12);
  CHECK(s.password.history == 3);
  CHECK(s.password.iterations == 600000);
  CHECK(s.password.salt_bytes == 16);
}

TEST_CASE("settings: tests shorten the durations, out-of-range values are refused") {
  auto c = aterm::common::parse_config(
      R"({"security":{"lockout_s":2,"session_idle_s":3},"security.alarm_window_s":4,
          "security.password_iterations":1000})",
      "<test>", sec::security_config_schema());
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? std::string() : c.error().to_string()));
  const auto s = sec::security_settings_from(*c);
  CHECK(s.lockout.lock_duration == 2s);
  CHECK(s.session.idle == 3s);
  CHECK(s.burst.window == 4s);
  CHECK(s.password.iterations == 1000);
  for (const char* bad :
       {R"({"security.lockout_threshold":0})", R"({"security.password_iterations":10})",
        R"({"security.password_min_length":4})"}) {
    CAPTURE(bad);
    CHECK_FALSE(aterm::common::parse_config(bad, "<test>", sec::security_config_schema()).ok());
  }
}
