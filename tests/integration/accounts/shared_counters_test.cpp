// Two `aterm-cloud serve` instances on one store (DESIGN.md section 8): every security counter
// counts through the store, so two instances enforce the limits of one (the login gate, the
// per-address throttle, the burst alarm), and the lifecycle sweep runs on one of them. The attacks
// split their requests over both instances; what each instance did is read from its metrics
// listener and from the API. Every wait is wait_until with a deadline.
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "accounts_fixture.h"

using namespace aterm::test;

namespace {

constexpr const char* k_good = "correct-horse-battery";
constexpr const char* k_bad = "wrong-password-guess";

// A sample of instance `n` (0 when absent).
double metric(cloud_stack& s, int n, const std::string& name) {
  return std::max(0.0, metric_value(s.metrics(n), name));
}

double both(cloud_stack& s, int other, const std::string& name) {
  return metric(s, 0, name) + metric(s, other, name);
}

// How often `text` occurs in `body`.
std::size_t occurrences(const std::string& body, const std::string& text) {
  std::size_t n = 0;
  for (auto at = body.find(text); at != std::string::npos; at = body.find(text, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("fifty parallel wrong logins split over two instances verify at most five passwords") {
  // Slow hashing keeps the guesses of both instances in flight together, as a real attack's are.
  cloud_stack s(accounts(R"("password_iterations": 200000)"));
  const int other = s.start_instance();
  auto id = s.create_account("acme", "carol", "viewer", k_good);
  const std::string verified = "aterm_api_password_verifications_total";
  double before = both(s, other, verified);
  std::vector<std::thread> threads;
  std::atomic<int> not_401{0};
  for (int i = 0; i < 50; ++i) {
    // Spread over addresses so the per-address throttle does not hide the gate.
    std::string local = "127.0.1." + std::to_string(1 + i);
    threads.emplace_back([&, local, i] {
      try {
        auto c = s.make_client(local, i % 2 == 0 ? 0 : other);
        if (c.login("acme", "carol", k_bad).status != 401) ++not_401;
      } catch (const std::exception&) {
        ++not_401;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(not_401 == 0);
  double n = both(s, other, verified) - before;
  INFO("verifications: instance 0 ", metric(s, 0, verified), ", instance ", other, " ",
       metric(s, other, verified));
  CHECK(n >= 1);
  CHECK(n <= 5);
  CHECK(account_of(s, "acme", id).str("locked") == "failed_logins");
}

TEST_CASE("a failure burst split over two instances raises one alarm per scope") {
  cloud_stack s(accounts(R"("throttle_failures": 1000, "alarm_failures": 20)"));
  const int other = s.start_instance();
  // 40 failures, 20 through each instance: each instance alone reaches the threshold.
  for (int i = 0; i < 40; ++i) {
    auto c = s.make_client("127.0.2." + std::to_string(1 + i), i % 2);
    auto a = c.login("acme", "nobody" + std::to_string(i), k_bad);
    CHECK(a.status == 401);
  }
  INFO("alarms counted: instance 0 ", metric(s, 0, "aterm_api_alarms_total"), ", instance ", other,
       " ", metric(s, other, "aterm_api_alarms_total"));
  CHECK(both(s, other, "aterm_api_alarms_total") == 2);
  auto site = s.client("platform");
  auto alarms = site.request("GET", "admin/alarms");
  REQUIRE(alarms.status == 200);
  CHECK(occurrences(alarms.body, "login_failure_burst") == 2);
  CHECK(occurrences(alarms.body, "\"company_id\":\"acme\"") == 1);
  CHECK(occurrences(alarms.body, "\"company_id\":\"platform\"") == 1);
}

TEST_CASE("one address's wrong logins split over two instances are throttled as through one") {
  cloud_stack s(accounts(R"("throttle_failures": 10, "alarm_failures": 1000)"));
  const int other = s.start_instance();
  auto adm = s.client("acme");
  create_viewers(s, adm, 20, k_good);
  const std::string verified = "aterm_api_password_verifications_total";
  double before = both(s, other, verified);
  for (int i = 0; i < 20; ++i) {
    auto attacker = s.make_client("127.0.0.9", i % 2);
    CHECK(attacker.login("acme", "user" + std::to_string(i), k_bad).status == 401);
  }
  // Only the first 10 reached a password check, wherever they arrived.
  CHECK(both(s, other, verified) - before == 10);
  CHECK(both(s, other, R"(aterm_api_logins_total{outcome="throttled"})") == 10);
}

TEST_CASE("two instances' schedulers run each lifecycle sweep once") {
  cloud_stack_options o = accounts();
  o.jobs = R"("interval_s": 1)";
  cloud_stack s(o);
  const int other = s.start_instance();
  const std::string runs = R"(aterm_jobs_runs_total{task="lifecycle"})";
  const double first = metric(s, 0, runs);
  const double second = metric(s, other, runs);
  // Both are up: a few more periods pass, in which each instance would sweep on its own.
  REQUIRE(wait_until([&] { return both(s, other, runs) - first - second >= 4; }, 60s, 100ms));
  const double a = metric(s, 0, runs) - first;
  const double b = metric(s, other, runs) - second;
  INFO("sweeps: instance 0 ", a, ", instance ", other, " ", b);
  // The instance that holds the sweep's lease keeps it while it lives; the other never sweeps.
  CHECK((a == 0 || b == 0));

  // The holder dies without a word: its lease runs out and the other instance takes the sweep.
  const int holder = a > 0 ? 0 : other;
  const int heir = a > 0 ? other : 0;
  s.stop_instance(holder, SIGKILL);
  const double heir_before = metric(s, heir, runs);
  CHECK(wait_until([&] { return metric(s, heir, runs) > heir_before; }, 30s, 100ms));
}
