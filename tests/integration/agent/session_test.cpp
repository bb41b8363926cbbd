// The MQTT session: presence, Last Will, snapshots, reconnect and the outbox across an outage.
#include <doctest/doctest.h>

#include <signal.h>

#include <fstream>

#include "agent_fixture.h"

using namespace agent_test;

TEST_CASE("presence online and a state snapshot on connect, offline by Last Will after kill -9") {
  stack s;
  agent_process a(s.pki, s.broker, s.dir.path(), "dev-lwt");
  a.start();
  REQUIRE(t::wait_until([&] {
    auto p = s.cloud.last_presence("dev-lwt");
    return p && p->online;
  }));
  REQUIRE(t::wait_until([&] { return !s.cloud.states("dev-lwt").empty(); }));
  const auto st = s.cloud.states("dev-lwt").front();
  CHECK(st.seq == 1);
  CHECK(st.model.value_or("") == "Aterm-SIM");
  CHECK(st.config_rev.value_or(-1) == 0);
  CHECK(st.ts > 0);
  REQUIRE(t::wait_until([&] { return !s.cloud.events("dev-lwt", "boot").empty(); }));

  a.stop(SIGKILL);
  CHECK(t::wait_until([&] {
    auto p = s.cloud.last_presence("dev-lwt");
    return p && !p->online;
  }));
}

TEST_CASE("SIGTERM publishes offline presence and exits cleanly") {
  stack s;
  agent_process a(s.pki, s.broker, s.dir.path(), "dev-term");
  a.start();
  REQUIRE(t::wait_until([&] {
    auto p = s.cloud.last_presence("dev-term");
    return p && p->online;
  }));
  CHECK(a.stop(SIGTERM) == 0);
  CHECK(t::wait_until([&] {
    auto p = s.cloud.last_presence("dev-term");
    return p && !p->online;
  }));
  CHECK(a.log().find("shutting down") != std::string::npos);
}

TEST_CASE("reconnect_after_broker_restart within the backoff bound") {
  stack s;
  // cap 2 s: the agent must be back within cap + handshake time after the broker returns.
  agent_process a(s.pki, s.broker, s.dir.path(), "dev-recon");
  a.start();
  REQUIRE(t::wait_until([&] {
    auto p = s.cloud.last_presence("dev-recon");
    return p && p->online;
  }));
  const auto before = s.cloud.on("dev-recon", proto::topic_kind::presence).size();
  s.broker.stop();
  // Let the agent notice and back off a few times while the broker is away.
  REQUIRE(t::wait_until([&] { return a.log().find("connect failed") != std::string::npos; }, 20s));
  s.broker.start();
  const auto back = std::chrono::steady_clock::now();
  REQUIRE(t::wait_until(
      [&] {
        auto all = s.cloud.on("dev-recon", proto::topic_kind::presence);
        if (all.size() <= before) return false;
        auto p = proto::decode_presence(all.back().payload);
        return p.ok() && p->online;
      },
      20s));
  const auto took = std::chrono::steady_clock::now() - back;
  MESSAGE(
      "back online after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                           << " ms");
  CHECK(took < 2s + 3s);  // cap + cloud reconnect and TLS handshake slack
  CHECK(a.running());
}

TEST_CASE("results and events produced while the broker is down are delivered after it returns") {
  stack s;
  // A config.set hook that waits for the test, so the result is produced during the outage.
  const auto started = s.dir / "hook-started";
  const auto go = s.dir / "hook-go";
  const auto hook =
      t::write_script(s.dir.path(), "set-hook",
                      "read line\ntouch " + started.string() + "\nwhile [ ! -f " + go.string() +
                          " ]; do sleep 0.05; done\necho '{\"rev\":1}'");
  agent_process a(s.pki, s.broker, s.dir.path(), "dev-outage",
                  R"("backend":{"type":"linux"},"hooks":{"config_set":[")" + hook.string() +
                      R"("],"timeout_s":60})");
  a.start();
  REQUIRE(t::wait_until([&] {
    auto p = s.cloud.last_presence("dev-outage");
    return p && p->online;
  }));
  s.cloud.command("dev-outage", "set-1", "config.set", R"({"rev":0,"values":{"a.b":1}})");
  REQUIRE(t::wait_until([&] { return fs::exists(started); }));
  s.broker.stop();
  std::ofstream(go.string()) << "go";
  // The result is now written to the outbox; the agent finds the broker gone.
  REQUIRE(t::wait_until([&] { return a.log().find("connection lost") != std::string::npos; }, 20s));
  CHECK(s.cloud.count_results("dev-outage", "set-1") == 0);
  s.broker.start();
  auto r = s.cloud.result("dev-outage", "set-1", 30s);
  REQUIRE(r.has_value());
  CHECK(r->status == proto::result_status::ok);
  CHECK(r->result_json == R"({"rev":1})");
  CHECK(t::wait_until([&] { return !s.cloud.events("dev-outage", "config.changed").empty(); }));
}

TEST_CASE("a second agent on the same data_dir refuses to start") {
  stack s;
  agent_process a(s.pki, s.broker, s.dir.path(), "dev-lock");
  a.start();
  REQUIRE(t::wait_until([&] {
    auto p = s.cloud.last_presence("dev-lock");
    return p && p->online;
  }));
  auto second =
      t::run({t::binary("agent/aterm-agent").string(), "run", "--config", a.config().string()});
  CHECK(second.exit_code == 1);
  CHECK(second.err.find("lock") != std::string::npos);
}

TEST_CASE("a bad configuration is refused naming the key") {
  t::temp_dir dir;
  const auto cfg = dir / "bad.json";
  std::ofstream(cfg)
      << R"({"broker":{"uri":"ssl://127.0.0.1:1","ca":"x","urx":"y"},"data_dir":"/tmp/x"})";
  auto r = t::run({t::binary("agent/aterm-agent").string(), "run", "--config", cfg.string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("broker.urx") != std::string::npos);
  auto usage = t::run({t::binary("agent/aterm-agent").string(), "frobnicate"});
  CHECK(usage.exit_code == 2);
}
