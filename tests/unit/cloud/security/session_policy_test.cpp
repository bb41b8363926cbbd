#include "aterm/cloud/security/session_policy.h"

#include <doctest/doctest.h>

#include <set>

#include "aterm/common/crypto.h"

using namespace std::chrono_literals;
using aterm::common::manual_clock;
namespace sec = aterm::cloud::security;

namespace {
constexpr std::int64_t k_login_s = 1'800'000'000;
}

TEST_CASE("session: idle and absolute expiry judged from the server's clock") {
  struct row {
    const char* name;
    std::int64_t last_seen_after_login;
    std::int64_t now_after_login;
    sec::session_verdict verdict;
  };
  const row rows[] = {
      {"fresh", 0, 0, sec::session_verdict::valid},
      {"idle 59:59", 0, 3599, sec::session_verdict::valid},
      {"idle 60:00", 0, 3600, sec::session_verdict::idle_expired},
      {"used recently", 7000, 10000, sec::session_verdict::valid},
      {"busy at 11:59:59", 43000, 43199, sec::session_verdict::valid},
      {"busy at 12:00:00", 43199, 43200, sec::session_verdict::lifetime_expired},
      {"both passed", 0, 50000, sec::session_verdict::lifetime_expired},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    manual_clock clock(aterm::common::from_unix_s(k_login_s + r.now_after_login));
    const sec::session_policy p({}, clock);
    const sec::session_times t{k_login_s, k_login_s + r.last_seen_after_login};
    CHECK(p.judge(t) == r.verdict);
  }
}

TEST_CASE("session: expiry time, touch interval and shortened settings") {
  manual_clock clock(aterm::common::from_unix_s(k_login_s));
  const sec::session_policy p({10s, 30s, 5s}, clock);
  sec::session_times t{k_login_s, k_login_s};
  CHECK(p.expires_at_s(t) == k_login_s + 10);
  CHECK_FALSE(p.should_touch(t));
  clock.advance(5s);
  CHECK(p.should_touch(t));
  // A background request (polling) never counts as use.
  CHECK_FALSE(p.should_touch(t, sec::request_kind::background));
  t.last_seen_at_s = k_login_s + 25;
  CHECK(p.expires_at_s(t) == k_login_s + 30);
  clock.set(aterm::common::from_unix_s(k_login_s + 30));
  CHECK(p.judge(t) == sec::session_verdict::lifetime_expired);
  CHECK(sec::to_string(p.judge(t)) == "lifetime_expired");
}

TEST_CASE("session: tokens are 256-bit, fresh at every start, stored only as SHA-256") {
  manual_clock clock;
  const sec::session_policy p({}, clock);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto s = p.start();
    auto raw = aterm::common::crypto::base64url_decode(s.token);
    REQUIRE(raw.ok());
    CHECK(raw->size() == 32);
    CHECK(aterm::common::crypto::base64url_decode(s.csrf_token)->size() == 32);
    CHECK(s.token_hash == aterm::common::crypto::to_hex(aterm::common::crypto::sha256(s.token)));
    CHECK(s.token_hash.size() == 64);
    CHECK(s.token_hash.find(s.token) == std::string::npos);
    CHECK(seen.insert(s.token).second);
    CHECK(seen.insert(s.csrf_token).second);
  }
}

TEST_CASE("session: CSRF comparison") {
  CHECK(sec::csrf_matches("abc", "abc"));
  CHECK_FALSE(sec::csrf_matches("abc", "abd"));
  CHECK_FALSE(sec::csrf_matches("abc", "ab"));
  CHECK_FALSE(sec::csrf_matches("", ""));
  CHECK_FALSE(sec::csrf_matches("abc", ""));
}
