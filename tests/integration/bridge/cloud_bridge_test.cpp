// The bridge inside the real daemon: aterm-cloud serve and aterm-agent run processes, a real
// Mosquitto (scripts/broker) and the dev PKI (scripts/dev-pki), on 127.0.0.1 in a folder of
// the test's own. The test reads what the daemon stored from its SQLite file.
#include <doctest/doctest.h>
#include <mqtt/async_client.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "aterm/common/protocol.h"
#include "aterm/test/sql.h"
#include "aterm/test/support.h"

namespace {

using namespace std::chrono_literals;
namespace t = aterm::test;
namespace fs = std::filesystem;
namespace protocol = aterm::common::protocol;
using aterm::test::query_int;
using protocol::topic_kind;

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

// PKI, broker and the configuration files; daemons are started by the tests.
struct site {
  t::temp_dir dir{"aterm-bridge-cloud"};
  t::dev_pki pki{dir / "pki"};
  std::pair<fs::path, fs::path> probe_id = pki.cloud("aterm-cloud-probe");
  std::pair<fs::path, fs::path> second_id = pki.cloud("aterm-cloud-b");
  t::broker broker{pki};
  fs::path db = dir / "cloud.db";

  // The configuration of one aterm-cloud instance with its own MQTT identity and HTTPS port.
  fs::path cloud_config(const std::string& name, const fs::path& cert, const fs::path& key,
                        bool shared) {
    const fs::path p = dir / (name + ".json");
    fs::create_directories(dir / ("backups-" + name));
    write_file(p, R"({
  "db": ")" + db.string() +
                      R"(",
  "http": {"listen": "127.0.0.1:)" +
                      std::to_string(t::free_port()) +
                      R"(", "metrics_listen": "127.0.0.1:0", "cert": ")" +
                      pki.server_cert().string() + R"(", "key": ")" + pki.server_key().string() +
                      R"("},
  "mqtt": {"uri": ")" +
                      broker.uri() + R"(", "ca": ")" + pki.ca().string() + R"(", "cert": ")" +
                      cert.string() + R"(", "key": ")" + key.string() +
                      R"(", "shared_subscription": )" + (shared ? "true" : "false") + R"(},
  "security": {"password_iterations": 1000},
  "backup": {"dir": ")" +
                      (dir / ("backups-" + name)).string() +
                      R"("}
})");
    return p;
  }

  t::run_result cli(const fs::path& config, std::vector<std::string> args) {
    std::vector<std::string> argv{t::binary("cloud/aterm-cloud").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--config");
    argv.push_back(config.string());
    return t::run(argv);
  }

  std::unique_ptr<t::process> serve(const fs::path& config, const std::string& name) {
    auto p = std::make_unique<t::process>(
        std::vector<std::string>{t::binary("cloud/aterm-cloud").string(), "serve", "--config",
                                 config.string()},
        dir / (name + ".log"));
    const bool up =
        t::wait_until([&] { return p->log().find("mqtt connected") != std::string::npos; }, 30s);
    REQUIRE_MESSAGE(up, p->log());
    return p;
  }

  // aterm-agent run with the sim backend and the default state_interval_s (300 s).
  std::unique_ptr<t::process> agent(const std::string& id) {
    const fs::path d = dir / "agents" / id;
    fs::create_directories(d / "data");
    auto [cert, key] = pki.device(id);
    write_file(d / "agent.json", R"({
  "device_id": ")" + id + R"(",
  "broker": {"uri": ")" + broker.uri() +
                                     R"(", "ca": ")" + pki.ca().string() + R"(", "cert": ")" +
                                     cert.string() + R"(", "key": ")" + key.string() + R"("},
  "data_dir": ")" + (d / "data").string() +
                                     R"(",
  "backend": {"type": "sim", "file": ")" +
                                     (d / "router.json").string() + R"("},
  "local_socket": ")" + (d / "agent.sock").string() +
                                     R"(",
  "reconnect": {"base_ms": 100, "cap_s": 1}
})");
    return std::make_unique<t::process>(
        std::vector<std::string>{t::binary("agent/aterm-agent").string(), "run", "--config",
                                 (d / "agent.json").string()},
        d / "agent.log");
  }
};

// A do-nothing subscriber with a cloud identity of its own: it sees what a bridge would.
class probe {
 public:
  probe(const site& s, const std::string& filter) : cli_(s.broker.uri(), "probe") {
    auto ssl = mqtt::ssl_options_builder()
                   .trust_store(s.pki.ca().string())
                   .key_store(s.probe_id.first.string())
                   .private_key(s.probe_id.second.string())
                   .finalize();
    auto opts = mqtt::connect_options_builder().clean_session(true).ssl(std::move(ssl)).finalize();
    cli_.set_message_callback([this](mqtt::const_message_ptr) { received_.fetch_add(1); });
    REQUIRE(cli_.connect(opts)->wait_for(10s));
    REQUIRE(cli_.subscribe(filter, 1)->wait_for(10s));
  }
  ~probe() {
    try {
      cli_.disconnect()->wait_for(5s);
    } catch (const mqtt::exception&) {
    }
  }
  int received() const { return received_.load(); }

 private:
  mqtt::async_client cli_;
  std::atomic<int> received_{0};
};

std::string q(const std::string& s) {
  return "'" + s + "'";
}

}  // namespace

TEST_CASE(
    "a router that was up before aterm-cloud's first start gets its state within seconds, not "
    "state_interval_s") {
  site s;
  const auto config = s.cloud_config("cloud", s.pki.cloud_cert(), s.pki.cloud_key(), false);
  REQUIRE(s.cli(config, {"admin", "init"}).exit_code == 0);
  REQUIRE(
      s.cli(config, {"admin", "company", "create", "--id", "acme", "--name", "Acme"}).exit_code ==
      0);
  REQUIRE(s.cli(config,
                {"admin", "device", "register", "--company", "acme", "--device", "dev-early-01"})
              .exit_code == 0);
  // Two routers, one registered and one unassigned, publish their snapshot on connect while no
  // aterm-cloud has ever subscribed: the broker routes it to the probe and drops it otherwise.
  std::vector<std::unique_ptr<t::process>> agents;
  for (const std::string id : {"dev-early-01", "dev-early-02"}) {
    probe p(s, protocol::topic(id, topic_kind::state));
    agents.push_back(s.agent(id));
    REQUIRE_MESSAGE(t::wait_until([&] { return p.received() >= 1; }, 20s), agents.back()->log());
  }
  const auto with_state =
      "SELECT count(*) FROM devices WHERE state_json IS NOT NULL AND id LIKE 'dev-early-%'";
  const auto t0 = std::chrono::steady_clock::now();
  auto cloud = s.serve(config, "cloud");
  const bool stored = t::wait_until([&] { return query_int(s.db, with_state) == 2; }, 15s);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  MESSAGE("aterm-cloud start -> both states stored: " << ms << " ms");
  REQUIRE_MESSAGE(stored, cloud->log());
  for (const std::string id : {"dev-early-01", "dev-early-02"}) {
    CAPTURE(id);
    // One refresh each, issued by the system, answered by the agent.
    CHECK(query_int(s.db,
                    "SELECT count(*) FROM commands WHERE op = 'state.refresh' AND "
                    "device_id = " +
                        q(id)) == 1);
    CHECK(query_int(s.db,
                    "SELECT count(*) FROM commands WHERE op = 'state.refresh' AND "
                    "created_by = 'system' AND device_id = " +
                        q(id)) == 1);
    CHECK(t::wait_until([&] {
      return query_int(s.db,
                       "SELECT count(*) FROM commands WHERE op = 'state.refresh' AND "
                       "status = 'succeeded' AND device_id = " +
                           q(id)) == 1;
    }));
  }
  CHECK(query_int(s.db,
                  "SELECT count(*) FROM commands WHERE device_id = 'dev-early-01' AND "
                  "company_id = 'acme'") == 1);
  // A restart of the daemon asks for nothing more: both devices have a state now.
  cloud->stop();
  cloud = s.serve(config, "cloud-2");
  agents.clear();
  agents.push_back(s.agent("dev-early-01"));
  CHECK(t::wait_until([&] {
    return query_int(s.db,
                     "SELECT count(*) FROM state_history WHERE device_id = "
                     "'dev-early-01'") >= 2;
  }));
  CHECK(query_int(s.db, "SELECT count(*) FROM commands WHERE op = 'state.refresh'") == 2);
}

TEST_CASE(
    "two aterm-cloud instances with their own identities and shared subscriptions stay connected "
    "and store each message once") {
  site s;
  const auto config_a = s.cloud_config("cloud-a", s.pki.cloud_cert(), s.pki.cloud_key(), true);
  const auto config_b = s.cloud_config("cloud-b", s.second_id.first, s.second_id.second, true);
  REQUIRE(s.cli(config_a, {"admin", "init"}).exit_code == 0);
  auto a = s.serve(config_a, "cloud-a");
  auto b = s.serve(config_b, "cloud-b");
  constexpr int k_agents = 4;
  std::vector<std::unique_ptr<t::process>> agents;
  for (int i = 0; i < k_agents; ++i) agents.push_back(s.agent("dev-pair-" + std::to_string(i)));
  const auto with_state =
      "SELECT count(*) FROM devices WHERE state_json IS NOT NULL AND id LIKE 'dev-pair-%'";
  REQUIRE_MESSAGE(t::wait_until([&] { return query_int(s.db, with_state) == k_agents; }, 30s),
                  (a->log() + b->log()));
  // Every agent published one snapshot on connect, and one more for each refresh an instance
  // asked for when it saw the presence before the other instance had stored the state. The
  // refreshes are the barrier: once each is final, its snapshot was published before.
  REQUIRE(t::wait_until([&] {
    return query_int(s.db,
                     "SELECT count(*) FROM commands WHERE op = 'state.refresh' AND "
                     "status IN ('queued', 'sent')") == 0;
  }));
  for (int i = 0; i < k_agents; ++i) {
    const std::string id = "dev-pair-" + std::to_string(i);
    CAPTURE(id);
    const auto refreshes = query_int(
        s.db, "SELECT count(*) FROM commands WHERE op = 'state.refresh' AND device_id = " + q(id));
    CHECK(refreshes <= 1);
    CHECK(t::wait_until([&] {
      return query_int(s.db, "SELECT count(*) FROM state_history WHERE device_id = " + q(id)) ==
             1 + refreshes;
    }));
  }
  // Neither instance lost its connection to the other's connect (a shared client id would).
  for (auto* p : {a.get(), b.get()}) {
    const auto log = p->log();
    CHECK(log.find("connection lost") == std::string::npos);
    CHECK(log.find("mqtt connected") == log.rfind("mqtt connected"));
  }
  CHECK(s.broker.log().find("already connected") == std::string::npos);
}
