// The device claim rule (security/device_claim.h) and the claim CSV upload (security/csv.h).
#include <doctest/doctest.h>

#include "aterm/cloud/security/csv.h"
#include "aterm/cloud/security/device_claim.h"
#include "aterm/common/claim_code.h"

namespace sec = aterm::cloud::security;
namespace claim = aterm::common::claim;

namespace {

sec::device_claim_settings with_key() {
  sec::device_claim_settings s;
  s.key.assign(claim::k_key_bytes, 0x42);
  return s;
}

std::string code_of(const sec::device_claim_settings& s, const std::string& id) {
  return claim::format(claim::derive(s.key, id));
}

}  // namespace

TEST_CASE("possession is proven only when every code is right") {
  const auto s = with_key();
  const std::vector<sec::device_claim> right = {{"r-001", code_of(s, "r-001"), std::nullopt},
                                                {"r-002", code_of(s, "r-002"), std::nullopt}};
  CHECK(sec::proves_possession(s, right));
  auto one_wrong = right;
  one_wrong[1].claim_code = code_of(s, "r-001");
  CHECK_FALSE(sec::proves_possession(s, one_wrong));
  auto missing = right;
  missing[0].claim_code.clear();
  CHECK_FALSE(sec::proves_possession(s, missing));
  CHECK_FALSE(sec::proves_possession(s, {}));
  CHECK_FALSE(sec::proves_possession(sec::device_claim_settings{}, right));  // no key
}

TEST_CASE("the claim throttle: max failures in the sliding window") {
  sec::device_claim_settings s;
  s.max_failures = 3;
  s.window = std::chrono::seconds{100};
  CHECK(sec::claim_window_start(s, 1000) == 901);
  CHECK_FALSE(sec::claim_retry_after(s, {2, 950}, 1000).has_value());
  auto wait = sec::claim_retry_after(s, {3, 950}, 1000);
  REQUIRE(wait.has_value());
  CHECK(wait->count() == 50);
  CHECK(sec::claim_retry_after(s, {3, 901}, 1000)->count() == 1);
}

TEST_CASE("claim CSV: device_id,claim_code lines") {
  auto rows = sec::parse_device_claim_csv(
      "device_id,claim_code\r\nr-001,AAAA-BBBB\r\n\r\n\"r-002\" , \"CCCC\"\nr-003,\n", 10);
  REQUIRE_MESSAGE(rows.ok(), rows.error().to_string());
  REQUIRE(rows->size() == 3);
  CHECK((*rows)[0].device_id == "r-001");
  CHECK((*rows)[0].claim_code == "AAAA-BBBB");
  CHECK((*rows)[1].device_id == "r-002");
  CHECK((*rows)[1].claim_code == "CCCC");
  CHECK((*rows)[2].claim_code.empty());
  // A first line that is a device is a device ("device-1" is no header).
  CHECK(sec::parse_device_claim_csv("device-1,X\n", 10)->size() == 1);
  struct row {
    const char* text;
    const char* error;
    std::size_t line;  // 0: no device line
  };
  const row bad[] = {
      {"r-001\n", "line 1", 1},
      {"r-001,A\nr-002,B,C,D\n", "line 2", 2},
      {"", "no device_id", 0},
      {"device_id,claim_code\n", "no device_id", 0},
      {"a,1\nb,2\nc,3\n", "line 3: more than 2", 3},
  };
  for (const auto& r : bad) {
    CAPTURE(r.text);
    std::size_t line = 99;
    auto out = sec::parse_device_claim_csv(r.text, 2, &line);
    REQUIRE_FALSE(out.ok());
    CHECK(out.error().code() == "bad_csv");
    CHECK(out.error().message().find(r.error) != std::string::npos);
    CHECK(line == r.line);
  }
}
