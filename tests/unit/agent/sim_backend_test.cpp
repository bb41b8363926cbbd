#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "aterm/agent/backend.h"
#include "aterm/common/clock.h"
#include "aterm/common/command_table.h"
#include "aterm/common/json.h"
#include "aterm/test/support.h"

namespace fs = std::filesystem;
using aterm::test::temp_dir;
using namespace std::chrono_literals;
using aterm::agent::make_sim_backend;
using aterm::agent::sim_backend_settings;
namespace cmd = aterm::common::commands;
using cmd::failed_with;
using cmd::op_error;

namespace {}  // namespace

TEST_CASE("the sim file is created with defaults and reads as a full snapshot") {
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock(aterm::common::from_unix_s(1800000000));
  auto b = make_sim_backend(sim_backend_settings{t.path() / "sim.json", "dev-001"}, clock);
  REQUIRE(b.ok());
  CHECK(fs::exists(t.path() / "sim.json"));
  clock.advance(42s);
  const auto s = (*b)->read_state();
  CHECK(s.model.value_or("") == "Aterm-SIM");
  CHECK(s.fw.has_value());
  CHECK(s.uptime_s.value_or(-1) == 42);
  CHECK(s.wan_up.value_or(false));
  CHECK(s.config_rev.value_or(-1) == 0);
  CHECK(s.mem_total_kb.has_value());
}

TEST_CASE("config.set moves rev once, persists, and refuses a stale rev") {
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock;
  const sim_backend_settings settings{t.path() / "sim.json", "dev-001"};
  {
    auto b = make_sim_backend(settings, clock);
    REQUIRE(b.ok());
    auto r = (*b)->config_set(0, R"({"wifi.ssid":"home","wifi.channel":11})");
    REQUIRE(r.ok());
    CHECK(*r == 1);
    CHECK(
        failed_with((*b)->config_set(0, R"({"wifi.ssid":"again"})").error(), op_error::stale_rev));
    CHECK(failed_with((*b)->config_set(1, R"({"Bad Key":1})").error(), op_error::bad_args));
    CHECK(failed_with((*b)->config_set(1, R"({"a.b":{"nested":1}})").error(), op_error::bad_args));
    CHECK(failed_with((*b)->config_set(1, R"({})").error(), op_error::bad_args));
  }
  auto b = make_sim_backend(settings, clock);
  REQUIRE(b.ok());
  CHECK((*b)->read_state().config_rev.value_or(-1) == 1);
  auto all = (*b)->config_get({});
  REQUIRE(all.ok());
  auto parsed = aterm::common::parse_json(*all);
  REQUIRE(parsed.ok());
  CHECK(aterm::common::json_int(parsed->get(), "rev").value_or(-1) == 1);
  const cJSON* values = cJSON_GetObjectItemCaseSensitive(parsed->get(), "values");
  CHECK(aterm::common::json_string(values, "wifi.ssid").value_or("") == "home");
  CHECK(aterm::common::json_int(values, "wifi.channel").value_or(0) == 11);
  auto some = (*b)->config_get({"wifi.channel"});
  REQUIRE(some.ok());
  CHECK(*some == R"({"rev":1,"values":{"wifi.channel":11}})");
}

TEST_CASE("a simulated reboot resets uptime") {
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock;
  auto b = make_sim_backend(sim_backend_settings{t.path() / "sim.json", "dev-001"}, clock);
  REQUIRE(b.ok());
  clock.advance(100s);
  CHECK((*b)->read_state().uptime_s.value_or(0) == 100);
  CHECK((*b)->simulated_reboot());
  REQUIRE((*b)->reboot().ok());
  clock.advance(3s);
  CHECK((*b)->read_state().uptime_s.value_or(0) == 3);
}

TEST_CASE("a damaged sim file is an error, not silently replaced") {
  temp_dir t{"unit-agent"};
  std::ofstream(t.path() / "sim.json") << "{not json";
  aterm::common::manual_clock clock;
  auto b = make_sim_backend(sim_backend_settings{t.path() / "sim.json", "dev-001"}, clock);
  CHECK_FALSE(b.ok());
}

TEST_CASE("diag hosts are checked before they reach a program") {
  using aterm::common::commands::valid_host;
  CHECK(valid_host("example.com"));
  CHECK(valid_host("192.0.2.1"));
  CHECK(valid_host("::1"));
  CHECK_FALSE(valid_host(""));
  CHECK_FALSE(valid_host("-f"));
  CHECK_FALSE(valid_host("a b"));
  CHECK_FALSE(valid_host("a;rm -rf /"));
  CHECK_FALSE(valid_host("$(id)"));
}

TEST_CASE("sim state moves over a day, differs between routers and repeats with the same seed") {
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock(aterm::common::from_unix_s(1800000000));
  auto a = make_sim_backend(sim_backend_settings{t.path() / "a.json", "demo-r00001"}, clock);
  auto again = make_sim_backend(sim_backend_settings{t.path() / "a2.json", "demo-r00001"}, clock);
  auto b = make_sim_backend(sim_backend_settings{t.path() / "b.json", "demo-r00002"}, clock);
  REQUIRE(a.ok());
  REQUIRE(again.ok());
  REQUIRE(b.ok());
  std::set<double> loads;
  std::set<std::int64_t> clients;
  std::set<std::int64_t> free_kb;
  bool differ = false;
  for (int i = 0; i < 48; ++i) {
    const auto s = (*a)->read_state();
    const auto s2 = (*again)->read_state();
    const auto other = (*b)->read_state();
    REQUIRE(s.cpu_load1.has_value());
    REQUIRE(s.lan_clients.has_value());
    REQUIRE(s.mem_free_kb.has_value());
    CHECK(*s.cpu_load1 == *s2.cpu_load1);
    CHECK(*s.lan_clients == *s2.lan_clients);
    CHECK(*s.mem_free_kb == *s2.mem_free_kb);
    differ = differ || *s.cpu_load1 != *other.cpu_load1 || *s.mem_free_kb != *other.mem_free_kb;
    CHECK(*s.cpu_load1 >= 0);
    CHECK(*s.cpu_load1 < 4);
    CHECK(*s.lan_clients >= 0);
    CHECK(*s.lan_clients < 64);
    CHECK(*s.mem_free_kb > 0);
    CHECK(*s.mem_free_kb < *s.mem_total_kb);
    loads.insert(*s.cpu_load1);
    clients.insert(*s.lan_clients);
    free_kb.insert(*s.mem_free_kb);
    clock.advance(30min);
  }
  CHECK(differ);
  CHECK(loads.size() > 10);
  CHECK(clients.size() > 2);
  CHECK(free_kb.size() > 10);
}

TEST_CASE("sim routers are busier at 21:00 JST than at 09:00 JST") {
  temp_dir t{"unit-agent"};
  // 2027-01-15 00:00 UTC, 09:00 JST.
  constexpr std::int64_t k_morning = 1800000000 / 86400 * 86400;
  aterm::common::manual_clock clock(aterm::common::from_unix_s(k_morning));
  auto b = make_sim_backend(sim_backend_settings{t.path() / "sim.json", "demo-r00003"}, clock);
  REQUIRE(b.ok());
  double morning = 0;
  double evening = 0;
  for (int d = 0; d < 10; ++d) {
    clock.set(aterm::common::from_unix_s(k_morning + d * 86400));
    const auto m = (*b)->read_state();
    clock.set(aterm::common::from_unix_s(k_morning + d * 86400 + 12 * 3600));
    const auto e = (*b)->read_state();
    morning += static_cast<double>(*m.lan_clients) + *m.cpu_load1;
    evening += static_cast<double>(*e.lan_clients) + *e.cpu_load1;
  }
  CHECK(evening > morning);
}

TEST_CASE("sim ping gets no reply from the documentation ranges, as on a real network") {
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock(aterm::common::from_unix_s(1800000000));
  auto b = make_sim_backend(sim_backend_settings{t.path() / "sim.json", "dev-001"}, clock);
  REQUIRE(b.ok());
  struct row {
    const char* host;
    bool replies;
  };
  for (const row& r :
       {row{"192.0.2.1", false}, row{"198.51.100.7", false}, row{"203.0.113.254", false},
        row{"2001:db8::1", false}, row{"2001:db8:ffff::9", false}, row{"127.0.0.1", true},
        row{"192.0.3.1", true}, row{"2001:db9::1", true}, row{"example.com", true}}) {
    CAPTURE(r.host);
    auto out = (*b)->diag_ping(r.host, 3);
    REQUIRE(out.ok());
    auto doc = aterm::common::parse_json(*out);
    REQUIRE(doc.ok());
    CHECK(aterm::common::json_int(doc->get(), "sent").value_or(-1) == 3);
    CHECK(aterm::common::json_int(doc->get(), "received").value_or(-1) == (r.replies ? 3 : 0));
    CHECK((cJSON_GetObjectItemCaseSensitive(doc->get(), "rtt_ms") != nullptr) == r.replies);
  }
}
