#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "aterm/agent/agent_config.h"

using aterm::agent::agent_config_schema;
using aterm::agent::router_settings_from;
using aterm::agent::simulate_settings_from;

namespace {

// A minimal simulate configuration with `extra` keys appended.
std::string sim_config(const std::string& extra) {
  return R"({"broker":{"uri":"ssl://127.0.0.1:8883","ca":"/ca.pem"},"data_dir":"/tmp/x",)"
         R"("simulate":{"ca_cert":"/ca.pem","ca_key":"/ca.key")" +
         extra + "}}";
}

}  // namespace

TEST_CASE("simulate.state_interval_ms: 0 keeps state_interval_s, 10..86400000 replace it") {
  struct row {
    const char* extra;
    std::optional<std::int64_t> interval_ms;  // nullopt: state_interval_s applies
  };
  const row rows[] = {
      {"", std::nullopt},
      {R"(,"state_interval_ms":0)", std::nullopt},
      {R"(,"state_interval_ms":10)", 10},
      {R"(,"state_interval_ms":100)", 100},
      {R"(,"state_interval_ms":86400000)", 86400000},
  };
  for (const auto& r : rows) {
    CAPTURE(r.extra);
    auto cfg = aterm::common::parse_config(sim_config(r.extra), "sim.json", agent_config_schema());
    REQUIRE(cfg.ok());
    auto sim = simulate_settings_from(*cfg);
    REQUIRE(sim.ok());
    if (r.interval_ms) {
      REQUIRE(sim->state_interval.has_value());
      CHECK(sim->state_interval->count() == *r.interval_ms);
    } else {
      CHECK_FALSE(sim->state_interval.has_value());
    }
    // The router's own interval stays state_interval_s (default 300 s): `run` ignores the key.
    auto router = router_settings_from(*cfg);
    REQUIRE(router.ok());
    CHECK(router->state_interval == std::chrono::seconds(300));
  }
}

TEST_CASE("simulate.state_interval_ms out of its bounds is refused, naming the key") {
  struct row {
    const char* extra;
    const char* code;
  };
  const row rows[] = {
      {R"(,"state_interval_ms":1)", "config_out_of_range"},
      {R"(,"state_interval_ms":9)", "config_out_of_range"},
      {R"(,"state_interval_ms":-1)", "config_out_of_range"},
      {R"(,"state_interval_ms":86400001)", "config_out_of_range"},
      {R"(,"state_interval_ms":1.5)", "config_wrong_type"},
      {R"(,"state_interval_ms":"100")", "config_wrong_type"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.extra);
    auto cfg = aterm::common::parse_config(sim_config(r.extra), "sim.json", agent_config_schema());
    aterm::common::status st = cfg.ok() ? aterm::common::status{} : cfg.error();
    if (cfg.ok()) {
      auto sim = simulate_settings_from(*cfg);
      REQUIRE_FALSE(sim.ok());
      st = sim.error();
    }
    CHECK(st.code() == r.code);
    CHECK(st.message().find("simulate.state_interval_ms") != std::string::npos);
  }
}

TEST_CASE("simulate needs a certificate source") {
  auto cfg = aterm::common::parse_config(
      R"({"broker":{"uri":"ssl://127.0.0.1:8883","ca":"/ca.pem"},"data_dir":"/tmp/x"})", "sim.json",
      agent_config_schema());
  REQUIRE(cfg.ok());
  auto sim = simulate_settings_from(*cfg);
  REQUIRE_FALSE(sim.ok());
  CHECK(sim.error().code() == "config_missing_key");
}
