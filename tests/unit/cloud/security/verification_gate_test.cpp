// The login gate across instances (security/verification_gate.h) over a real store: several
// gates on one database, as several instances hold, and the leases of an instance that died.
#include "aterm/cloud/security/verification_gate.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "aterm/cloud/security/limits.h"
#include "shared_store.h"

using namespace std::chrono_literals;
using aterm::common::manual_clock;
namespace sec = aterm::cloud::security;

namespace {

const aterm::common::wall_time k_start = aterm::common::from_unix_s(1'800'000'000);

// A wrong password as the login route stores it: the lock rule decides on the stored state.
aterm::cloud::lock_decision wrong_password(const sec::lockout_policy& policy) {
  return [&policy](const aterm::cloud::account_lock_state& stored) {
    return policy.after_failure(stored).state;
  };
}

std::int64_t make_account(aterm::cloud::store& db) {
  REQUIRE(db.create_company("acme", "Acme").ok());
  auto a = db.create_account({"acme", "carol", "carol@acme.example", "viewer", "pbkdf2$x"});
  REQUIRE_MESSAGE(a.ok(), a.error().to_string());
  return a->id;
}

// One instance's gate on a store with company "acme" and its account "carol".
struct gate_fixture {
  manual_clock clock{k_start};
  aterm::test::shared_store store{clock};
  std::unique_ptr<aterm::cloud::store> db = store.open();
  std::int64_t id = make_account(*db);
  sec::lockout_policy policy{{}, clock};
  sec::verification_gate gate{policy, *db};

  // `n` wrong passwords stored, as the login route stores them.
  void store_failures(int n) {
    for (int i = 0; i < n; ++i) {
      REQUIRE(
          db->record_login_failure("acme", id, clock.now_s(), wrong_password(policy), std::nullopt)
              .ok());
    }
  }
};

}  // namespace

TEST_CASE("verification gate: 50 concurrent wrong logins over two instances verify at most 5") {
  manual_clock clock(k_start);
  aterm::test::shared_store store(clock);
  auto db_a = store.open();
  auto db_b = store.open();
  const std::int64_t id = make_account(*db_a);
  const sec::lockout_policy policy({}, clock);
  sec::verification_gate a(policy, *db_a);
  sec::verification_gate b(policy, *db_b);
  std::atomic<int> verified{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      auto& db = i % 2 == 0 ? *db_a : *db_b;
      auto answer = (i % 2 == 0 ? a : b).try_reserve("acme", id);
      if (!answer.lease) return;
      ++verified;  // the password is checked here, and is wrong: stored with the lease's end
      auto stored = db.record_login_failure("acme", id, clock.now_s(), wrong_password(policy),
                                            answer.lease->id());
      if (stored.ok()) answer.lease->ended();
    });
  }
  for (auto& t : threads) t.join();
  // A guess is refused only while five are stored or in flight, and those in flight all fail:
  // whatever the interleaving, exactly five are verified and the account ends locked.
  CHECK(verified == 5);
  auto after = db_a->get_account("acme", id);
  REQUIRE(after.ok());
  CHECK(after->locked == aterm::cloud::lock_reason::failed_logins);
}

TEST_CASE(
    "verification gate: a failure stored with its lease's end frees no slot and takes none "
    "twice") {
  // The interleaving that left an account unlocked after 50 wrong guesses: one verification's
  // failure was stored while its lease still ran, so for that moment it counted twice and the
  // last guesses of the burst were refused although only four were ever verified.
  gate_fixture f;
  auto first = f.gate.try_reserve("acme", f.id);
  auto second = f.gate.try_reserve("acme", f.id);
  REQUIRE(first.lease);
  REQUIRE(second.lease);
  REQUIRE(f.db->record_login_failure("acme", f.id, f.clock.now_s(), wrong_password(f.policy),
                                     first.lease->id())
              .ok());
  first.lease->ended();
  // One failure stored and one verification in flight: three more may start, not a fourth.
  std::vector<sec::verification_answer> more;
  for (int i = 0; i < 3; ++i) {
    more.push_back(f.gate.try_reserve("acme", f.id));
    CHECK(more.back().lease);
  }
  CHECK_FALSE(f.gate.try_reserve("acme", f.id).lease);
  // The four in flight fail: five failures, the account is locked.
  for (auto* answer : {&second, &more[0], &more[1], &more[2]}) {
    REQUIRE(answer->lease);
    REQUIRE(f.db->record_login_failure("acme", f.id, f.clock.now_s(), wrong_password(f.policy),
                                       answer->lease->id())
                .ok());
    answer->lease->ended();
  }
  CHECK(f.db->get_account("acme", f.id)->locked == aterm::cloud::lock_reason::failed_logins);
  auto refused = f.gate.try_reserve("acme", f.id);
  CHECK_FALSE(refused.lease);
  CHECK(refused.refusal == sec::gate_refusal::locked);
}

TEST_CASE("verification gate: the budget counts stored failures and leases in flight") {
  gate_fixture f;
  f.store_failures(3);
  auto first = f.gate.try_reserve("acme", f.id);
  auto second = f.gate.try_reserve("acme", f.id);
  CHECK(first.lease);
  CHECK(second.lease);
  auto third = f.gate.try_reserve("acme", f.id);
  CHECK_FALSE(third.lease);
  CHECK(third.refusal == sec::gate_refusal::busy);
  // A verification that ends (its result stored) frees its slot.
  first.lease.reset();
  CHECK(f.gate.try_reserve("acme", f.id).lease);
}

TEST_CASE("verification gate: a locked account is refused as locked") {
  gate_fixture f;
  f.store_failures(5);
  auto answer = f.gate.try_reserve("acme", f.id);
  CHECK_FALSE(answer.lease);
  CHECK(answer.refusal == sec::gate_refusal::locked);
}

TEST_CASE("verification gate: the leases of an instance that died expire") {
  gate_fixture f;
  // The instance that died took the whole budget and never ended its leases.
  auto crashed = f.store.open();
  const std::int64_t now_ms = f.clock.now_ms();
  for (int i = 0; i < 5; ++i) {
    auto taken = crashed->take_verification_lease(
        "acme", f.id, now_ms, now_ms + sec::limits::k_verification_lease_s * 1000,
        [&](const aterm::cloud::account& current, std::int64_t in_flight) {
          return sec::admits_verification(f.policy, current, in_flight);
        });
    REQUIRE(taken.ok());
    REQUIRE(taken->has_value());
  }
  crashed.reset();
  CHECK_FALSE(f.gate.try_reserve("acme", f.id).lease);
  f.clock.advance(std::chrono::seconds(sec::limits::k_verification_lease_s) - 1s);
  CHECK_FALSE(f.gate.try_reserve("acme", f.id).lease);
  f.clock.advance(1s);
  CHECK(f.gate.try_reserve("acme", f.id).lease);
}
