#include "aterm/cloud/security/audit_fields.h"

#include <doctest/doctest.h>

#include <string>

#include "aterm/cloud/security/device_event_audit.h"
#include "aterm/cloud/security/limits.h"
#include "aterm/cloud/security/session_policy.h"

namespace sec = aterm::cloud::security;

TEST_CASE("access-log fields are cut at the bound with a marker, never inside a character") {
  struct row {
    const char* name;
    std::string text;
    std::size_t max;
    std::string expect;
  };
  const row rows[] = {
      {"short stays", "op=ping", 16, "op=ping"},
      {"exactly the bound stays", std::string(16, 'a'), 16, std::string(16, 'a')},
      {"one over is cut", std::string(17, 'a'), 16, "aaaaaaaa...[cut]"},
      // "日" is 3 bytes: 8 bytes of room hold two of them and two bytes of a third.
      {"UTF-8 not split", "日日日日日日", 16, "日日...[cut]"},
      {"marker only", "abcdefghij", 8, "...[cut]"},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    auto out = sec::cut_audit_text(r.text, r.max);
    CHECK(out == r.expect);
    CHECK(out.size() <= r.max);
  }
  const aterm::cloud::audit_entry huge{"acme",           "oper",
                                       "command.create", std::string(5000, 't'),
                                       "failure",        "op=" + std::string(900'000, 'x'),
                                       "127.0.0.1"};
  auto b = sec::bounded_audit_entry(huge);
  CHECK(b.target.size() == sec::limits::k_max_audit_field);
  CHECK(b.detail.size() == sec::limits::k_max_audit_field);
  CHECK(b.detail.ends_with(sec::k_audit_cut_marker));
  CHECK(b.actor == "oper");
  CHECK(b.source_ip == "127.0.0.1");
}

TEST_CASE("device events: only held logins, and at most max_records per window") {
  const sec::device_event_settings s{3, std::chrono::seconds(60)};
  CHECK(sec::judge_device_event({false, 0}, s) == sec::device_event_verdict::unknown_login);
  CHECK(sec::judge_device_event({true, 0}, s) == sec::device_event_verdict::record);
  CHECK(sec::judge_device_event({true, 2}, s) == sec::device_event_verdict::record);
  CHECK(sec::judge_device_event({true, 3}, s) == sec::device_event_verdict::rate_limited);
  CHECK(sec::to_string(sec::device_event_verdict::rate_limited) == "rate_limited");
  CHECK(sec::technician_login_event("technician_login.failed"));
  CHECK(sec::technician_login_event("technician_login.ended"));
  CHECK_FALSE(sec::technician_login_event("boot"));
}

TEST_CASE("requests: only a marked read is background, a change is always activity") {
  const std::string one = "1";
  const std::string zero = "0";
  CHECK(sec::classify_request("GET", &one) == sec::request_kind::background);
  CHECK(sec::classify_request("HEAD", &one) == sec::request_kind::background);
  CHECK(sec::classify_request("GET", nullptr) == sec::request_kind::activity);
  CHECK(sec::classify_request("GET", &zero) == sec::request_kind::activity);
  for (const char* method : {"POST", "PATCH", "DELETE", "PUT"}) {
    CAPTURE(std::string(method));
    CHECK(sec::classify_request(method, &one) == sec::request_kind::activity);
  }
}
