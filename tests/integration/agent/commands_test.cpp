// Every op of the command table (DESIGN.md section 3 and docs/commands.md), the never-twice
// journal, deadlines and bad commands.
#include <doctest/doctest.h>

#include "agent_fixture.h"
#include "aterm/common/json.h"

using namespace agent_test;

namespace {

struct online_agent {
  stack s;
  agent_process a{s.pki, s.broker, s.dir.path(), "dev-cmd", R"("state_poll_s":1)"};
  online_agent() {
    a.start();
    REQUIRE(t::wait_until([&] {
      auto p = s.cloud.last_presence("dev-cmd");
      return p && p->online;
    }));
  }
  proto::command_result run(const std::string& id, const std::string& op,
                            const std::string& args = "{}", std::int64_t deadline = 0) {
    s.cloud.command("dev-cmd", id, op, args, deadline);
    auto r = s.cloud.result("dev-cmd", id);
    REQUIRE_MESSAGE(r.has_value(), "no result for " << id << "; agent log:\n" << a.log());
    return *r;
  }
};

aterm::common::json_ptr parse(const std::string& text) {
  auto p = aterm::common::parse_json(text);
  REQUIRE(p.ok());
  return std::move(*p);
}

}  // namespace

TEST_CASE("every op answers as DESIGN.md section 3 says") {
  online_agent o;
  using rs = proto::result_status;

  // One agent answers the ops that leave its configuration as it was, one after the other: an
  // agent with its broker and cloud takes about 2 s to start, on every subcase.
  SUBCASE("the ops that change no configuration, one after the other") {
    {  // ping
      auto r = o.run("p1", "ping");
      CHECK(r.status == rs::ok);
      CHECK(r.result_json == R"({"pong":true})");
    }
    {  // state.refresh publishes a new snapshot
      REQUIRE(t::wait_until([&] { return !o.s.cloud.states("dev-cmd").empty(); }));
      const auto before = o.s.cloud.states("dev-cmd").back().seq;
      auto r = o.run("r1", "state.refresh");
      CHECK(r.status == rs::ok);
      CHECK(r.result_json == "{}");
      CHECK(t::wait_until([&] { return o.s.cloud.states("dev-cmd").back().seq > before; }));
    }
    {  // config.get, all and some keys
      auto all = o.run("g1", "config.get");
      CHECK(all.status == rs::ok);
      auto j = parse(all.result_json);
      CHECK(aterm::common::json_int(j.get(), "rev").value_or(-1) == 0);
      const cJSON* values = cJSON_GetObjectItemCaseSensitive(j.get(), "values");
      CHECK(aterm::common::json_string(values, "lan.ip").value_or("") == "192.168.10.1");
      auto some = o.run("g2", "config.get", R"({"keys":["wifi.channel"]})");
      CHECK(some.result_json == R"({"rev":0,"values":{"wifi.channel":6}})");
      CHECK(o.run("g3", "config.get", R"({"keys":"all"})").status == rs::rejected);
    }
    {  // diag.ping
      auto r = o.run("d1", "diag.ping", R"({"host":"198.18.0.1","count":3})");
      CHECK(r.status == rs::ok);
      auto j = parse(r.result_json);
      CHECK(aterm::common::json_int(j.get(), "sent").value_or(0) == 3);
      CHECK(aterm::common::json_int(j.get(), "received").value_or(0) == 3);
      CHECK(cJSON_GetObjectItemCaseSensitive(j.get(), "rtt_ms") != nullptr);
      // A documentation address (TEST-NET-1) never answers, as on a real network.
      auto lost = parse(o.run("d1b", "diag.ping", R"({"host":"192.0.2.1","count":3})").result_json);
      CHECK(aterm::common::json_int(lost.get(), "received").value_or(-1) == 0);
      CHECK(cJSON_GetObjectItemCaseSensitive(lost.get(), "rtt_ms") == nullptr);
      CHECK(o.run("d2", "diag.ping", R"({"host":"-f; reboot","count":3})").status == rs::rejected);
      CHECK(o.run("d3", "diag.ping", R"({"host":"a.example","count":11})").status == rs::rejected);
    }
    {  // diag.ping without count sends the command table's default, 4
      auto r = o.run("d4", "diag.ping", R"({"host":"192.0.2.1"})");
      CHECK(r.status == rs::ok);
      CHECK(aterm::common::json_int(parse(r.result_json).get(), "sent").value_or(0) == 4);
    }
    {  // diag.traceroute
      auto r = o.run("t1", "diag.traceroute", R"({"host":"192.0.2.9"})");
      CHECK(r.status == rs::ok);
      auto j = parse(r.result_json);
      CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j.get(), "hops")) == 3);
      CHECK(aterm::common::json_bool(j.get(), "reached").value_or(false));
      auto two = o.run("t2", "diag.traceroute", R"({"host":"192.0.2.9","max_hops":2})");
      CHECK(two.status == rs::ok);
      CHECK(cJSON_GetArraySize(
                cJSON_GetObjectItemCaseSensitive(parse(two.result_json).get(), "hops")) == 2);
      CHECK(o.run("t3", "diag.traceroute", R"({"host":"a.example","max_hops":31})").status ==
            rs::rejected);
      CHECK(o.run("t4", "diag.traceroute", R"({"host":"-f;reboot"})").status == rs::rejected);
    }
    {  // diag.dns
      auto r = o.run("n1", "diag.dns", R"({"name":"example.com","server":"192.0.2.53"})");
      CHECK(r.status == rs::ok);
      auto j = parse(r.result_json);
      CHECK(aterm::common::json_string(j.get(), "name").value_or("") == "example.com");
      CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j.get(), "addresses")) == 1);
      CHECK(o.run("n2", "diag.dns", R"x({"name":"$(id)"})x").status == rs::rejected);
      CHECK(o.run("n3", "diag.dns", R"({"name":"a.example","server":"-x"})").status ==
            rs::rejected);
    }
    {  // log.tail answers the agent's own recent lines, never a secret
      const std::string args = install_args("T-logtail1", "Abc234defGH9", now_s() + 600, 600);
      REQUIRE(o.run("i1", "technician_login.install", args).status == rs::ok);
      auto r = o.run("l1", "log.tail", R"({"lines":500})");
      CHECK(r.status == rs::ok);
      auto j = parse(r.result_json);
      const cJSON* lines = cJSON_GetObjectItemCaseSensitive(j.get(), "lines");
      REQUIRE(cJSON_IsArray(lines));
      CHECK(cJSON_GetArraySize(lines) > 0);
      CHECK(r.result_json.find("connected") != std::string::npos);
      auto a = parse(args);
      for (const char* secret : {"salt", "hash"})
        CHECK(r.result_json.find(*aterm::common::json_string(a.get(), secret)) ==
              std::string::npos);
      auto two = o.run("l2", "log.tail", R"({"lines":2})");
      CHECK(cJSON_GetArraySize(
                cJSON_GetObjectItemCaseSensitive(parse(two.result_json).get(), "lines")) <= 2);
      CHECK(o.run("l3", "log.tail", R"({"lines":501})").status == rs::rejected);
    }
    {  // unknown op is unsupported
      auto r = o.run("u1", "firmware.flash");
      CHECK(r.status == rs::unsupported);
    }
    {  // deadline passed -> expired, and nothing runs
      auto r = o.run("e1", "config.set", R"({"rev":0,"values":{"x.y":1}})", now_s() - 10);
      CHECK(r.status == rs::expired);
      CHECK(o.run("g", "config.get", R"({"keys":["x.y"]})").result_json ==
            R"({"rev":0,"values":{}})");
    }
    {  // malformed with a readable id -> rejected with the reason
      o.s.cloud.publish(proto::topic("dev-cmd", proto::topic_kind::cmd),
                        R"({"v":1,"id":"m1","op":42,"args":{},"deadline":1})");
      auto r = o.s.cloud.result("dev-cmd", "m1");
      REQUIRE(r.has_value());
      CHECK(r->status == rs::rejected);
      CHECK(r->error.find("op") != std::string::npos);
    }
    {  // malformed without an id -> dropped and counted, the agent carries on
      const auto before = o.s.cloud.on("dev-cmd", proto::topic_kind::result).size();
      o.s.cloud.publish(proto::topic("dev-cmd", proto::topic_kind::cmd), "{not json");
      o.s.cloud.publish(proto::topic("dev-cmd", proto::topic_kind::cmd), R"({"v":1,"op":"ping"})");
      // Commands are handled in order: once the ping is answered, the two before it were seen.
      CHECK(o.run("after", "ping").status == rs::ok);
      CHECK(o.s.cloud.on("dev-cmd", proto::topic_kind::result).size() == before + 1);
      CHECK(t::wait_until(
          [&] { return o.a.log().find("malformed command dropped") != std::string::npos; }));
    }
  }
  SUBCASE("config.set moves rev, announces the change, refuses a stale rev") {
    auto r = o.run("s1", "config.set", R"({"rev":0,"values":{"wifi.ssid":"home"}})");
    CHECK(r.status == rs::ok);
    CHECK(r.result_json == R"({"rev":1})");
    CHECK(t::wait_until([&] { return !o.s.cloud.events("dev-cmd", "config.changed").empty(); }));
    CHECK(t::wait_until([&] { return o.s.cloud.states("dev-cmd").back().config_rev == 1; }));
    auto stale = o.run("s2", "config.set", R"({"rev":0,"values":{"wifi.ssid":"again"}})");
    CHECK(stale.status == rs::rejected);
    CHECK(stale.error.find("rev") != std::string::npos);
    CHECK(o.run("s3", "config.set", R"({"values":{}})").status == rs::rejected);
    CHECK(o.run("g", "config.get", R"({"keys":["wifi.ssid"]})").result_json ==
          R"({"rev":1,"values":{"wifi.ssid":"home"}})");
  }
  SUBCASE("factory_reset needs its confirmation and clears the configuration") {
    CHECK(o.run("f1", "factory_reset").status == rs::rejected);
    CHECK(o.run("f2", "factory_reset", R"({"confirm":"yes"})").status == rs::rejected);
    CHECK(o.run("g0", "config.get", R"({"keys":["lan.ip"]})").result_json ==
          R"({"rev":0,"values":{"lan.ip":"192.168.10.1"}})");
    auto r = o.run("f3", "factory_reset", R"({"confirm":"factory_reset"})");
    CHECK(r.status == rs::ok);
    CHECK(o.run("g1", "config.get").result_json == R"({"rev":1,"values":{}})");
    CHECK(t::wait_until([&] { return o.s.cloud.states("dev-cmd").back().config_rev == 1; }));
  }
  SUBCASE("reboot answers first, then drops the session, resets uptime and comes back") {
    REQUIRE(t::wait_until([&] { return o.s.cloud.events("dev-cmd", "boot").size() == 1; }));
    auto r = o.run("b1", "reboot", R"({"delay_s":0})");
    CHECK(r.status == rs::ok);
    CHECK(t::wait_until([&] {
      auto p = o.s.cloud.last_presence("dev-cmd");
      return p && !p->online;
    }));
    CHECK(t::wait_until([&] {
      auto p = o.s.cloud.last_presence("dev-cmd");
      return p && p->online;
    }));
    CHECK(t::wait_until([&] { return o.s.cloud.events("dev-cmd", "boot").size() == 2; }));
    CHECK(t::wait_until(
        [&] { return o.s.cloud.states("dev-cmd").back().uptime_s.value_or(99) <= 2; }));
    CHECK(o.run("b2", "reboot", R"({"delay_s":-1})").status == rs::rejected);
  }
}

TEST_CASE("a repeated id is answered from the store and runs once, also across a restart") {
  online_agent o;
  const std::string args = R"({"rev":0,"values":{"wifi.ssid":"once"}})";
  auto first = o.run("dup-1", "config.set", args);
  REQUIRE(first.status == proto::result_status::ok);
  o.s.cloud.command("dev-cmd", "dup-1", "config.set", args);
  REQUIRE(t::wait_until([&] { return o.s.cloud.count_results("dev-cmd", "dup-1") == 2; }));
  // Ran once: rev moved once, and the repeat got the stored answer (not "stale rev").
  auto results = o.s.cloud.on("dev-cmd", proto::topic_kind::result);
  std::vector<std::string> dup_payloads;
  for (auto& m : results)
    if (m.payload.find("\"dup-1\"") != std::string::npos) dup_payloads.push_back(m.payload);
  REQUIRE(dup_payloads.size() == 2);
  CHECK(dup_payloads[0] == dup_payloads[1]);
  CHECK(o.run("rev-1", "config.get", R"({"keys":[]})").result_json.find(R"("rev":1)") !=
        std::string::npos);

  REQUIRE(o.a.stop(SIGTERM) == 0);
  o.a.start();
  REQUIRE(t::wait_until([&] { return o.s.cloud.events("dev-cmd", "boot").size() == 2; }));
  o.s.cloud.command("dev-cmd", "dup-1", "config.set", args);
  REQUIRE(t::wait_until([&] { return o.s.cloud.count_results("dev-cmd", "dup-1") == 3; }));
  CHECK(o.run("rev-2", "config.get", R"({"keys":[]})").result_json.find(R"("rev":1)") !=
        std::string::npos);
  CHECK(o.a.log().find("repeated command answered from the journal") != std::string::npos);
}
