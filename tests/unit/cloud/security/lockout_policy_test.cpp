#include "aterm/cloud/security/lockout_policy.h"

#include <doctest/doctest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "aterm/common/crypto.h"

using namespace std::chrono_literals;
using aterm::common::manual_clock;
namespace sec = aterm::cloud::security;
using aterm::cloud::lock_reason;

namespace {

const aterm::common::wall_time k_start = aterm::common::from_unix_s(1'800'000'000);

sec::account_lock_state fail_n(const sec::lockout_policy& p, sec::account_lock_state s, int n) {
  for (int i = 0; i < n; ++i) s = p.after_failure(s).state;
  return s;
}

}  // namespace

TEST_CASE("lockout: locks after the threshold and not before") {
  manual_clock clock(k_start);
  const sec::lockout_policy p({}, clock);
  struct row {
    int failures;
    bool locked;
  };
  for (const row r : {row{0, false}, row{1, false}, row{4, false}, row{5, true}}) {
    CAPTURE(r.failures);
    const auto s = fail_n(p, {}, r.failures);
    CHECK(p.is_locked(s) == r.locked);
    CHECK((p.decide(s) == sec::login_decision::refuse_locked) == r.locked);
    CHECK(p.remaining_budget(s) == (r.locked ? 0 : 5 - r.failures));
  }
}

TEST_CASE("lockout: the fifth failure reports the lock with its end") {
  manual_clock clock(k_start);
  const sec::lockout_policy p({}, clock);
  const auto four = fail_n(p, {}, 4);
  const auto out = p.after_failure(four);
  CHECK(out.locked_now);
  CHECK(out.state.locked == lock_reason::failed_logins);
  REQUIRE(out.state.locked_until_s);
  CHECK(*out.state.locked_until_s == aterm::common::to_unix_s(k_start) + 1800);
  CHECK_FALSE(p.after_failure(fail_n(p, {}, 3)).locked_now);
}

TEST_CASE("lockout: locked until the lock time, open after it, with a fresh budget") {
  manual_clock clock(k_start);
  const sec::lockout_policy p({5, 1800s}, clock);
  const auto locked = fail_n(p, {}, 5);
  clock.advance(1799s);
  CHECK(p.decide(locked) == sec::login_decision::refuse_locked);
  clock.advance(1s);
  CHECK(p.decide(locked) == sec::login_decision::check_password);
  CHECK(p.remaining_budget(locked) == 5);
  // One failure after the lock ran out starts a new count, it does not lock again at once.
  const auto again = p.after_failure(locked);
  CHECK_FALSE(again.locked_now);
  CHECK(again.state.failed_count == 1);
}

TEST_CASE("lockout: a success resets the count") {
  manual_clock clock(k_start);
  const sec::lockout_policy p({}, clock);
  auto s = fail_n(p, {}, 4);
  s = p.after_success(s);
  CHECK(s == sec::account_lock_state{});
  s = fail_n(p, s, 4);
  CHECK_FALSE(p.is_locked(s));
}

TEST_CASE("lockout: a login verified while another locked the account leaves the lock") {
  // The store applies the rule to the state as stored; a verification that began before the
  // lock ends after it.
  manual_clock clock(k_start);
  const sec::lockout_policy p({}, clock);
  const auto locked = fail_n(p, {}, 5);
  const auto failed = p.after_failure(locked);
  CHECK_FALSE(failed.locked_now);
  CHECK(failed.state.locked == lock_reason::failed_logins);
  CHECK(failed.state.locked_until_s == locked.locked_until_s);
  CHECK(failed.state.failed_count == 6);
  const auto succeeded = p.after_success(locked);
  CHECK(succeeded.locked == lock_reason::failed_logins);
  CHECK(succeeded.locked_until_s == locked.locked_until_s);
  CHECK(succeeded.failed_count == 0);
  const auto inactive = p.lock_without_end({}, lock_reason::inactivity);
  CHECK(p.after_success(inactive).locked == lock_reason::inactivity);
  // A lock that ran out is gone for both.
  clock.advance(1800s);
  CHECK(p.after_success(locked) == sec::account_lock_state{});
  CHECK(p.after_failure(locked).state.failed_count == 1);
}

TEST_CASE("lockout: settings shorten the rule") {
  manual_clock clock(k_start);
  const sec::lockout_policy p({2, 10s}, clock);
  const auto s = fail_n(p, {}, 2);
  CHECK(p.is_locked(s));
  clock.advance(10s);
  CHECK_FALSE(p.is_locked(s));
}

TEST_CASE("lockout: who may lift which lock") {
  manual_clock clock(k_start);
  const sec::lockout_policy p({}, clock);
  const auto failure_lock = fail_n(p, {}, 5);
  const auto inactivity = p.lock_without_end({}, lock_reason::inactivity);
  const auto by_admin = p.lock_without_end({}, lock_reason::administrator);
  struct row {
    const char* name;
    sec::account_lock_state state;
    sec::unlocker who;
    const char* error;  // nullptr: lifted
  };
  const row rows[] = {
      {"failure lock by company admin", failure_lock, sec::unlocker::company_administrator,
       nullptr},
      {"failure lock by site admin", failure_lock, sec::unlocker::site_administrator, nullptr},
      {"inactivity by company admin", inactivity, sec::unlocker::company_administrator,
       "not_permitted"},
      {"inactivity by site admin", inactivity, sec::unlocker::site_administrator, nullptr},
      {"administrator lock by company admin", by_admin, sec::unlocker::company_administrator,
       nullptr},
      {"not locked", sec::account_lock_state{}, sec::unlocker::site_administrator, "not_locked"},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    auto u = p.unlock(r.state, r.who);
    if (r.error == nullptr) {
      REQUIRE(u.ok());
      CHECK(*u == sec::account_lock_state{});
    } else {
      REQUIRE_FALSE(u.ok());
      CHECK(u.error().code() == r.error);
    }
  }
  // An inactivity lock never runs out.
  clock.advance(24h * 3650);
  CHECK(p.is_locked(inactivity));
}

TEST_CASE("login_gate: a locked account is refused without a verification") {
  manual_clock clock(k_start);
  sec::login_gate gate(sec::lockout_policy({}, clock));
  const auto locked = fail_n(gate.policy(), {}, 5);
  auto a = gate.try_acquire("acme/alice", locked);
  CHECK_FALSE(a.ticket);
  CHECK(a.refusal == sec::gate_refusal::locked);
  CHECK(gate.verifications() == 0);
  clock.advance(1800s);
  auto b = gate.try_acquire("acme/alice", locked);
  REQUIRE(b.ticket);
  CHECK(b.ticket->succeeded() == sec::account_lock_state{});
  CHECK(gate.verifications() == 1);
  CHECK(gate.tracked_accounts() == 0);
}

TEST_CASE("login_gate: a stale stored state cannot widen the budget") {
  manual_clock clock(k_start);
  sec::login_gate gate(sec::lockout_policy({}, clock));
  // The route never managed to write a failure back: every read sees no failures.
  int granted = 0;
  sec::failure_outcome last;
  for (int i = 0; i < 20; ++i) {
    auto a = gate.try_acquire("acme/bob", {});
    if (!a.ticket) continue;
    ++granted;
    last = a.ticket->failed();
  }
  CHECK(granted == 5);
  CHECK(last.locked_now);
  CHECK(last.state.failed_count == 5);
  CHECK(gate.verifications() == 5);
  // Another account is not affected.
  auto other = gate.try_acquire("acme/carol", {});
  CHECK(other.ticket);
}

TEST_CASE("login_gate: an abandoned ticket frees its slot, reset forgets an unlocked account") {
  manual_clock clock(k_start);
  sec::login_gate gate(sec::lockout_policy({1, 60s}, clock));
  {
    auto a = gate.try_acquire("k", {});
    REQUIRE(a.ticket);
    CHECK_FALSE(gate.try_acquire("k", {}).ticket);  // the one slot is in flight
  }
  auto b = gate.try_acquire("k", {});
  REQUIRE(b.ticket);
  CHECK(b.ticket->failed().locked_now);
  CHECK(gate.try_acquire("k", {}).refusal == sec::gate_refusal::locked);
  gate.reset("k");  // an administrator unlocked it; the store now holds a clear state
  CHECK(gate.try_acquire("k", {}).ticket);
}

TEST_CASE("login_gate: 50 concurrent wrong logins cost at most 5 verifications") {
  manual_clock clock(k_start);
  sec::login_gate gate(sec::lockout_policy({}, clock));
  constexpr int k_threads = 50;
  std::latch start(k_threads);
  std::atomic<int> refused{0};
  std::atomic<int> locked_reports{0};
  std::vector<std::thread> threads;
  const auto salt = aterm::common::crypto::random_bytes(16);
  for (int i = 0; i < k_threads; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      // Every request read the store before any failure was written.
      auto a = gate.try_acquire("acme/dave", {});
      if (!a.ticket) {
        ++refused;
        return;
      }
      // A real (short) password hash, so verifications overlap.
      (void)aterm::common::crypto::pbkdf2_hmac_sha256("wrong", salt, 2000, 32);
      if (a.ticket->failed().locked_now) ++locked_reports;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(gate.verifications() == 5);
  CHECK(refused.load() == k_threads - 5);
  CHECK(locked_reports.load() == 1);
  CHECK(gate.try_acquire("acme/dave", {}).refusal == sec::gate_refusal::locked);
}

TEST_CASE("login_gate: idle entries are swept, running locks are kept") {
  manual_clock clock(k_start);
  sec::login_gate gate(sec::lockout_policy({2, 3600s}, clock));
  for (int i = 0; i < 10; ++i) {
    auto a = gate.try_acquire("failed-once-" + std::to_string(i), {});
    REQUIRE(a.ticket);
    (void)a.ticket->failed();
  }
  for (int i = 0; i < 2; ++i) {
    auto a = gate.try_acquire("locked", {});
    REQUIRE(a.ticket);
    (void)a.ticket->failed();
  }
  CHECK(gate.tracked_accounts() == 11);
  clock.advance(61s);
  for (int i = 0; i < 256; ++i) {
    auto a = gate.try_acquire("busy-user", {});
    REQUIRE(a.ticket);
    (void)a.ticket->succeeded();
  }
  CHECK(gate.tracked_accounts() == 1);
  CHECK(gate.try_acquire("locked", {}).refusal == sec::gate_refusal::locked);
}
