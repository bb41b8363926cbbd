#include "aterm/cloud/security/login_throttle.h"

#include <doctest/doctest.h>

#include "shared_store.h"

using namespace std::chrono_literals;
using aterm::common::manual_clock;
namespace sec = aterm::cloud::security;

namespace {
const aterm::common::wall_time k_start = aterm::common::from_unix_s(1'800'000'000);
}

TEST_CASE("throttle: the address is refused at the limit and not before") {
  manual_clock clock(k_start);
  aterm::test::shared_store store(clock);
  auto db = store.open();
  sec::login_throttle t({10, 60s}, *db, clock);
  for (int i = 0; i < 10; ++i) {
    CAPTURE(i);
    CHECK(t.allowed("192.0.2.7"));
    t.record_failure("192.0.2.7");
  }
  CHECK_FALSE(t.allowed("192.0.2.7"));
  CHECK(t.retry_after("192.0.2.7") == 60s);
  CHECK(t.allowed("192.0.2.8"));  // another address is not affected
}

TEST_CASE("throttle: the window slides") {
  manual_clock clock(k_start);
  aterm::test::shared_store store(clock);
  auto db = store.open();
  sec::login_throttle t({3, 60s}, *db, clock);
  t.record_failure("a");  // t=0
  clock.advance(20s);
  t.record_failure("a");  // t=20
  clock.advance(20s);
  t.record_failure("a");  // t=40
  CHECK_FALSE(t.allowed("a"));
  CHECK(t.retry_after("a") == 20s);
  clock.advance(19s);  // t=59: the first failure is still inside
  CHECK_FALSE(t.allowed("a"));
  clock.advance(1s);  // t=60: it left
  CHECK(t.allowed("a"));
  t.record_failure("a");  // t=60: 20, 40, 60
  CHECK_FALSE(t.allowed("a"));
  clock.advance(60s);
  CHECK(t.allowed("a"));
}

TEST_CASE("throttle: one guess on each of 100 accounts from one address is throttled") {
  manual_clock clock(k_start);
  aterm::test::shared_store store(clock);
  auto db = store.open();
  sec::login_throttle t({}, *db, clock);  // defaults: 10 per 60 s
  int checked = 0;
  for (int account = 0; account < 100; ++account) {
    if (!t.allowed("198.51.100.1")) continue;
    ++checked;  // the password would be verified here, and was wrong
    t.record_failure("198.51.100.1");
    clock.advance(100ms);
  }
  CHECK(checked == 10);
}

TEST_CASE("throttle: two instances on one store count an address's failures together") {
  manual_clock clock(k_start);
  aterm::test::shared_store store(clock);
  auto db_a = store.open();
  auto db_b = store.open();
  sec::login_throttle a({10, 60s}, *db_a, clock);
  sec::login_throttle b({10, 60s}, *db_b, clock);
  int checked = 0;
  for (int i = 0; i < 20; ++i) {
    auto& t = i % 2 == 0 ? a : b;
    if (!t.allowed("198.51.100.1")) continue;
    ++checked;
    t.record_failure("198.51.100.1");
  }
  CHECK(checked == 10);
  CHECK_FALSE(a.allowed("198.51.100.1"));
  CHECK_FALSE(b.allowed("198.51.100.1"));
  clock.advance(60s);
  CHECK(a.allowed("198.51.100.1"));
  CHECK(b.allowed("198.51.100.1"));
}

TEST_CASE("throttle: IPv6 addresses share the key of their /64") {
  struct row {
    const char* address;
    const char* key;
  };
  for (const row r :
       {row{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
        row{"2001:db8:1:2::ffff", "2001:db8:1:2::/64"}, row{"203.0.113.9", "203.0.113.9"},
        row{"::ffff:203.0.113.9", "203.0.113.9"}}) {
    CAPTURE(r.address);
    auto a = sec::ip_address::parse(r.address);
    REQUIRE(a);
    CHECK(sec::throttle_key(*a) == r.key);
  }
}
