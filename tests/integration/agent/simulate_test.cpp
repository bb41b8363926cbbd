// `aterm-agent simulate`: many sim routers in one process with minted certificates.
#include <doctest/doctest.h>

#include <fstream>

#include "agent_fixture.h"

using namespace agent_test;

TEST_CASE("simulate connects N minted routers and each answers commands") {
  stack s;
  const auto cfg = s.dir / "sim.json";
  std::ofstream(cfg) << "{\"broker\":{\"uri\":\"" << s.broker.uri() << "\",\"ca\":\""
                     << s.pki.ca().string() << "\"},\"data_dir\":\"" << (s.dir / "fleet").string()
                     << "\",\"simulate\":{\"ca_cert\":\"" << s.pki.ca().string()
                     << "\",\"ca_key\":\"" << s.pki.ca_key().string() << "\"}}";
  const int n = 20;
  t::process sim({t::binary("agent/aterm-agent").string(), "simulate", "--config", cfg.string(),
                  "--count", std::to_string(n), "--id-prefix", "fleet-"},
                 s.dir / "sim.log");
  auto online = [&] {
    int up = 0;
    for (int i = 1; i <= n; ++i) {
      char id[32];
      std::snprintf(id, sizeof id, "fleet-%05d", i);
      auto p = s.cloud.last_presence(id);
      up += p && p->online ? 1 : 0;
    }
    return up;
  };
  REQUIRE_MESSAGE(t::wait_until([&] { return online() == n; }, 30s), sim.log());
  s.cloud.command("fleet-00007", "sim-ping", "ping");
  auto r = s.cloud.result("fleet-00007", "sim-ping");
  REQUIRE(r.has_value());
  CHECK(r->result_json == R"({"pong":true})");
  // Minted keys are written 0600 under the router's data dir.
  const auto key = s.dir / "fleet" / "fleet-00007" / "tls" / "key.pem";
  REQUIRE(fs::exists(key));
  CHECK((fs::status(key).permissions() & (fs::perms::group_all | fs::perms::others_all)) ==
        fs::perms::none);
  CHECK(sim.stop(SIGTERM) == 0);
  CHECK(t::wait_until([&] { return online() == 0; }));
}
