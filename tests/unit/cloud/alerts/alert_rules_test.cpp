#include <doctest/doctest.h>

#include "aterm/cloud/alerts/alert_rules.h"
#include "aterm/common/protocol.h"

namespace {

using namespace aterm::cloud;
using namespace aterm::cloud::alerts;

constexpr std::int64_t k_t0_ms = 1'800'000'000'000;

alert_rule cpu_rule() {
  return {rule_kind::cpu_load, true, 150, 60};  // load above 1.5 for a minute
}

sample cpu_at(std::int64_t at_ms, double load) {
  sample s;
  s.at_ms = at_ms;
  s.cpu_load1 = load;
  return s;
}

router_facts online_router() {
  router_facts f;
  f.device_id = "r1";
  f.presence = presence_state::online;
  f.last_seen_ms = k_t0_ms;
  f.ever_connected = true;
  return f;
}

}  // namespace

TEST_CASE("offline_rule_holds_only_after_its_window_and_clears_on_reconnect") {
  const alert_rule offline{rule_kind::offline, true, 0, 30 * 60};
  auto f = online_router();
  CHECK_FALSE(judge(offline, f, k_t0_ms + 3'600'000).holds);

  f.presence = presence_state::offline;
  CHECK_FALSE(judge(offline, f, k_t0_ms + 29 * 60'000).holds);
  auto v = judge(offline, f, k_t0_ms + 30 * 60'000);
  CHECK(v.holds);
  CHECK(v.detail == "offline for 1800 s");

  // One alarm: raised once, nothing more while it is open, cleared when the router is back.
  auto raised = changes_for({offline}, f, {}, k_t0_ms + 31 * 60'000);
  REQUIRE(raised.size() == 1);
  CHECK(raised[0].what == alarm_change::action::raise);
  CHECK(changes_for({offline}, f, {{7, rule_kind::offline}}, k_t0_ms + 40 * 60'000).empty());
  f.presence = presence_state::online;
  auto cleared = changes_for({offline}, f, {{7, rule_kind::offline}}, k_t0_ms + 41 * 60'000);
  REQUIRE(cleared.size() == 1);
  CHECK(cleared[0].what == alarm_change::action::clear);
  CHECK(cleared[0].alarm_id == 7);
}

TEST_CASE("offline_rule_ignores_a_router_that_never_connected_and_a_disabled_rule") {
  auto f = online_router();
  f.presence = presence_state::unknown;
  f.ever_connected = false;
  CHECK_FALSE(judge({rule_kind::offline, true, 0, 60}, f, k_t0_ms + 3'600'000).holds);
  f.ever_connected = true;
  f.presence = presence_state::offline;
  CHECK_FALSE(judge({rule_kind::offline, false, 0, 60}, f, k_t0_ms + 3'600'000).holds);
}

TEST_CASE("cpu_threshold_held_over_its_window_raises_one_alarm") {
  auto f = online_router();
  for (int i = 0; i <= 8; ++i) f.samples.push_back(cpu_at(k_t0_ms + i * 10'000, 2.0));
  const std::int64_t now = k_t0_ms + 80'000;
  auto v = judge(cpu_rule(), f, now);
  CHECK(v.holds);
  CHECK(v.detail == "cpu_load 200 above 150 for 80 s");
  auto first = changes_for({cpu_rule()}, f, {}, now);
  REQUIRE(first.size() == 1);
  CHECK(first[0].kind == rule_kind::cpu_load);
  // Still held on the next tick: the open alarm is the one alarm.
  CHECK(changes_for({cpu_rule()}, f, {{3, rule_kind::cpu_load}}, now + 10'000).empty());
}

TEST_CASE("a_single_cpu_spike_raises_no_alarm") {
  auto f = online_router();
  SUBCASE("a spike between normal samples") {
    f.samples = {cpu_at(k_t0_ms, 0.3), cpu_at(k_t0_ms + 10'000, 9.0),
                 cpu_at(k_t0_ms + 20'000, 0.3)};
    CHECK(changes_for({cpu_rule()}, f, {}, k_t0_ms + 200'000).empty());
  }
  SUBCASE("a spike that is the latest sample") {
    f.samples = {cpu_at(k_t0_ms, 0.3), cpu_at(k_t0_ms + 10'000, 9.0)};
    CHECK(changes_for({cpu_rule()}, f, {}, k_t0_ms + 20'000).empty());
  }
  SUBCASE("high for less than the window") {
    f.samples = {cpu_at(k_t0_ms, 0.3), cpu_at(k_t0_ms + 10'000, 3.0),
                 cpu_at(k_t0_ms + 40'000, 3.0)};
    CHECK(changes_for({cpu_rule()}, f, {}, k_t0_ms + 50'000).empty());
  }
}

TEST_CASE("a_threshold_alarm_clears_when_the_value_drops") {
  auto f = online_router();
  f.samples = {cpu_at(k_t0_ms, 3.0), cpu_at(k_t0_ms + 70'000, 3.0), cpu_at(k_t0_ms + 80'000, 1.0)};
  auto c = changes_for({cpu_rule()}, f, {{9, rule_kind::cpu_load}}, k_t0_ms + 90'000);
  REQUIRE(c.size() == 1);
  CHECK(c[0].what == alarm_change::action::clear);
}

TEST_CASE("memory_and_lan_client_thresholds_read_their_own_fields") {
  auto f = online_router();
  for (int i = 0; i < 3; ++i) {
    sample s;
    s.at_ms = k_t0_ms + i * 60'000;
    s.memory_used_percent = 95;
    s.lan_clients = 10;
    f.samples.push_back(s);
  }
  const std::int64_t now = k_t0_ms + 120'000;
  CHECK(judge({rule_kind::memory_used, true, 90, 120}, f, now).holds);
  CHECK_FALSE(judge({rule_kind::lan_clients, true, 50, 120}, f, now).holds);
}

TEST_CASE("reboot_loop_counts_uptime_resets_inside_its_window") {
  auto f = online_router();
  std::int64_t uptimes[] = {5000, 30, 60, 20, 50, 10};
  for (int i = 0; i < 6; ++i) {
    sample s;
    s.at_ms = k_t0_ms + i * 60'000;
    s.uptime_s = uptimes[i];
    f.samples.push_back(s);
  }
  const std::int64_t now = k_t0_ms + 6 * 60'000;
  CHECK(judge({rule_kind::reboot_loop, true, 3, 600}, f, now).holds);
  CHECK_FALSE(judge({rule_kind::reboot_loop, true, 4, 600}, f, now).holds);
  // Only the last two resets fall in a 4-minute window.
  CHECK_FALSE(judge({rule_kind::reboot_loop, true, 3, 240}, f, now).holds);
}

TEST_CASE("firmware_rule_compares_the_latest_version_with_the_destinations") {
  auto f = online_router();
  sample s;
  s.at_ms = k_t0_ms;
  s.fw = "1.0.2";
  f.samples.push_back(s);
  const alert_rule fw{rule_kind::firmware, true, 0, 0};
  CHECK_FALSE(judge(fw, f, k_t0_ms).holds);  // no expected version
  f.expected_fw = "1.0.2";
  CHECK_FALSE(judge(fw, f, k_t0_ms).holds);
  f.expected_fw = "1.1.0";
  CHECK(judge(fw, f, k_t0_ms).detail == "firmware 1.0.2 (expected 1.1.0)");
}

TEST_CASE("default_rules_turn_on_the_offline_rule_only") {
  auto rules = with_defaults({}, 1800);
  REQUIRE(rules.size() == k_rule_names.size());
  for (const auto& r : rules) {
    CAPTURE(to_string(r.kind));
    CHECK(r.enabled == (r.kind == rule_kind::offline));
    CHECK(check_rule(r).ok());
  }
  CHECK(rules[0].window_s == 1800);
  auto mine = with_defaults({{rule_kind::cpu_load, true, 300, 120}}, 1800);
  CHECK(mine[1].enabled);
  CHECK(mine[1].threshold == 300);
}

TEST_CASE("check_rule_refuses_values_out_of_range") {
  struct row {
    alert_rule r;
    bool ok;
  };
  const row rows[] = {
      {{rule_kind::offline, true, 0, 0}, false},
      {{rule_kind::offline, true, 0, 60}, true},
      {{rule_kind::memory_used, true, 101, 60}, false},
      {{rule_kind::cpu_load, true, -1, 60}, false},
      {{rule_kind::reboot_loop, true, 1, 60}, false},
      {{rule_kind::reboot_loop, true, 2, 60}, true},
      {{rule_kind::lan_clients, true, 10, 8 * 86400}, false},
  };
  for (const auto& r : rows) {
    CAPTURE(to_string(r.r.kind));
    auto s = check_rule(r.r);
    CHECK(s.ok() == r.ok);
    if (!r.ok) CHECK(s.code() == k_bad_rule);
  }
}

TEST_CASE("sample_of_reads_a_stored_snapshot") {
  aterm::common::protocol::state_snapshot snap;
  snap.ts = 1'800'000'000;
  snap.seq = 3;
  snap.fw = "1.0.2";
  snap.uptime_s = 42;
  snap.lan_clients = 7;
  snap.cpu_load1 = 1.25;
  snap.mem_total_kb = 1000;
  snap.mem_free_kb = 250;
  auto s = sample_of(k_t0_ms, aterm::common::protocol::encode(snap));
  REQUIRE(s);
  CHECK(s->at_ms == k_t0_ms);
  CHECK(s->fw == "1.0.2");
  CHECK(s->uptime_s == 42);
  CHECK(s->lan_clients == 7);
  CHECK(s->cpu_load1 == doctest::Approx(1.25));
  CHECK(s->memory_used_percent == 75);
  CHECK_FALSE(sample_of(k_t0_ms, "not json"));
}
