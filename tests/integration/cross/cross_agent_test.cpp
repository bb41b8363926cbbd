// The router build of the agent (scripts/cross-build mipsel → build-mipsel/agent/aterm-agent)
// running under qemu-user against a real Mosquitto on 127.0.0.1, driven by a test "cloud" that
// connects with the cloud's identity: connect, state, a command, a repeated command, a
// technician login, and the core cases of offline credentials. The binary and its sysroot are taken
// from the source tree, or from ATERM_CROSS_AGENT and ATERM_SYSROOT when set.
#include <doctest/doctest.h>

#include <mqtt/async_client.h>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aterm/common/crypto.h"
#include "aterm/common/json.h"
#include "aterm/common/protocol.h"
#include "aterm/common/technician_credential.h"
#include "aterm/test/support.h"

namespace {

namespace fs = std::filesystem;
namespace proto = aterm::common::protocol;
namespace crypto = aterm::common::crypto;
namespace tc = aterm::common::technician_credential;
using namespace std::chrono_literals;
using aterm::test::wait_until;

#ifndef ATERM_CROSS_ARCH
#define ATERM_CROSS_ARCH "mipsel"
#endif
constexpr const char* k_arch = ATERM_CROSS_ARCH;
// Emulated TLS and PBKDF2 are slow, and CI shares two cores with other tests.
constexpr auto k_deadline = 90s;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

fs::path cross_agent() {
  return env_or("ATERM_CROSS_AGENT", (aterm::test::source_dir() / (std::string("build-") + k_arch) /
                                      "agent" / "aterm-agent")
                                         .string());
}

fs::path sysroot() {
  return env_or("ATERM_SYSROOT", (aterm::test::source_dir() / "build-sysroot" / k_arch).string());
}

std::string qemu() {
  const std::string arch = k_arch;
  if (arch == "armhf") return "qemu-arm";
  if (arch == "arm64") return "qemu-aarch64";
  return "qemu-" + arch;
}

// argv running the cross-built agent under qemu-user with the sysroot as its library prefix.
std::vector<std::string> agent_argv(std::vector<std::string> args) {
  std::vector<std::string> argv = {qemu(), "-L", sysroot().string(), cross_agent().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

struct received {
  std::string topic;
  std::string payload;
  bool retained = false;
};

// The test's cloud: a Paho client with the cloud's MQTT identity, recording every message under
// aterm/v1/{device}/#. Paho's callback thread only appends under the mutex.
class test_cloud {
 public:
  test_cloud(const aterm::test::dev_pki& pki, const std::string& uri, const std::string& device)
      : device_(device), client_(uri, "aterm-cloud") {
    client_.set_message_callback([this](mqtt::const_message_ptr m) {
      std::lock_guard lock(mu_);
      messages_.push_back({m->get_topic(), m->get_payload_str(), m->is_retained()});
    });
    auto ssl = mqtt::ssl_options_builder()
                   .trust_store(pki.ca().string())
                   .key_store(pki.cloud_cert().string())
                   .private_key(pki.cloud_key().string())
                   .finalize();
    auto opts = mqtt::connect_options_builder().clean_session(true).ssl(ssl).finalize();
    client_.connect(opts)->wait();
    client_.subscribe("aterm/v1/" + device_ + "/#", 1)->wait();
  }
  ~test_cloud() {
    try {
      client_.disconnect()->wait();
    } catch (const mqtt::exception&) {
      // The broker may already be gone at the end of a test; nothing to clean up then.
    }
  }
  test_cloud(const test_cloud&) = delete;
  test_cloud& operator=(const test_cloud&) = delete;

  void send(const proto::command& c) {
    client_.publish(proto::topic(device_, proto::topic_kind::cmd), proto::encode(c), 1, false)
        ->wait();
  }

  std::vector<received> on(proto::topic_kind kind) {
    const auto t = proto::topic(device_, kind);
    std::lock_guard lock(mu_);
    std::vector<received> out;
    for (const auto& m : messages_) {
      if (m.topic == t) out.push_back(m);
    }
    return out;
  }

  // Every final result for command `id` so far, in arrival order.
  std::vector<proto::command_result> finals(const std::string& id) {
    std::vector<proto::command_result> out;
    for (const auto& m : on(proto::topic_kind::result)) {
      auto r = proto::decode_result(m.payload, device_);
      if (r.ok() && r->id == id && proto::is_final(r->status)) out.push_back(*r);
    }
    return out;
  }

  std::optional<proto::command_result> await_final(const std::string& id, std::size_t nth = 1) {
    if (!wait_until([&] { return finals(id).size() >= nth; }, k_deadline)) return std::nullopt;
    return finals(id)[nth - 1];
  }

  std::vector<proto::event> events(const std::string& type) {
    std::vector<proto::event> out;
    for (const auto& m : on(proto::topic_kind::event)) {
      auto e = proto::decode_event(m.payload, device_);
      if (e.ok() && e->type == type) out.push_back(*e);
    }
    return out;
  }

 private:
  std::string device_;
  mqtt::async_client client_;
  std::mutex mu_;
  std::vector<received> messages_;
};

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

proto::command make_command(const std::string& id, const std::string& op,
                            const std::string& args_json = "{}") {
  return proto::command{id, op, args_json, unix_now() + 600};
}

// One broker, one PKI and one cross-built agent under qemu, each test with its own.
struct rig {
  aterm::test::temp_dir dir{"aterm-cross"};
  aterm::test::dev_pki pki{dir / "pki"};
  aterm::test::broker broker{pki};
  std::string device = std::string("rt-") + k_arch + "-01";
  fs::path config = dir / "agent.json";
  test_cloud cloud{pki, broker.uri(), device};
  std::unique_ptr<aterm::test::process> agent;

  rig() {
    REQUIRE_MESSAGE(fs::exists(cross_agent()), "no cross-built agent at ", cross_agent().string(),
                    ": run scripts/cross-build ", k_arch);
    REQUIRE_MESSAGE(fs::exists(sysroot() / ".complete"), "no sysroot at ", sysroot().string());
    auto [cert, key] = pki.device(device);
    std::ofstream(config) << R"({"device_id":")" << device << R"(","broker":{"uri":")"
                          << broker.uri() << R"(","ca":")" << pki.ca().string() << R"(","cert":")"
                          << cert.string() << R"(","key":")" << key.string() << R"("},"data_dir":")"
                          << (dir / "data").string() << R"(","backend":{"type":"sim","file":")"
                          << (dir / "router.json").string() << R"("},"local_socket":")"
                          << (dir / "agent.sock").string() << R"(","state_interval_s":300})";
    agent = std::make_unique<aterm::test::process>(agent_argv({"run", "--config", config.string()}),
                                                   dir / "agent.log");
  }

  std::string agent_log() const { return agent->log(); }

  // True once the agent's retained online presence (with its version) has arrived: from then on
  // it is subscribed to its commands (the test has no bridge to re-publish an early one).
  bool await_online() {
    return wait_until(
        [&] {
          for (const auto& m : cloud.on(proto::topic_kind::presence)) {
            auto p = proto::decode_presence(m.payload, device);
            if (p.ok() && p->online && !p->agent.empty()) return true;
          }
          return false;
        },
        k_deadline);
  }
};

}  // namespace

TEST_CASE("cross agent under qemu: connect, state, command, repeated command") {
  rig r;
  auto& cloud = r.cloud;

  INFO("agent log: ", r.agent_log());
  // connect: the retained online presence carries the agent version.
  REQUIRE(r.await_online());

  // state: a full snapshot on connect, from the sim backend.
  REQUIRE(wait_until([&] { return !cloud.on(proto::topic_kind::state).empty(); }, k_deadline));
  auto state = proto::decode_state(cloud.on(proto::topic_kind::state).front().payload, r.device);
  REQUIRE_MESSAGE(state.ok(), state.error().to_string());
  CHECK(state->model.has_value());
  CHECK(state->config_rev.has_value());

  // a command.
  cloud.send(make_command("c-ping-1", "ping"));
  auto pong = cloud.await_final("c-ping-1");
  REQUIRE(pong.has_value());
  CHECK(pong->status == proto::result_status::ok);
  CHECK(pong->result_json == R"({"pong":true})");

  // an unknown op is answered, not dropped.
  cloud.send(make_command("c-unknown-1", "no.such.op"));
  auto unknown = cloud.await_final("c-unknown-1");
  REQUIRE(unknown.has_value());
  CHECK(unknown->status == proto::result_status::unsupported);

  // a repeated command: config.set is not idempotent (a second run would be rejected for its
  // stale rev), so an identical second answer proves the stored result was replayed.
  cloud.send(make_command("c-get-1", "config.get"));
  auto got = cloud.await_final("c-get-1");
  REQUIRE(got.has_value());
  REQUIRE(got->status == proto::result_status::ok);
  auto got_json = aterm::common::parse_json(got->result_json);
  REQUIRE(got_json.ok());
  auto rev = aterm::common::json_int(got_json->get(), "rev");
  REQUIRE(rev.has_value());

  const auto set = make_command(
      "c-set-1", "config.set",
      R"({"rev":)" + std::to_string(*rev) + R"(,"values":{"wifi.ssid":"cross-test"}})");
  cloud.send(set);
  auto first = cloud.await_final("c-set-1");
  REQUIRE(first.has_value());
  REQUIRE_MESSAGE(first->status == proto::result_status::ok, first->error);
  CHECK(first->result_json == R"({"rev":)" + std::to_string(*rev + 1) + "}");

  cloud.send(set);
  auto second = cloud.await_final("c-set-1", 2);
  REQUIRE(second.has_value());
  CHECK(second->status == proto::result_status::ok);
  CHECK(second->result_json == first->result_json);
}

TEST_CASE("cross agent under qemu: a technician login is accepted once") {
  rig r;
  auto& cloud = r.cloud;
  INFO("agent log: ", r.agent_log());
  REQUIRE(r.await_online());

  const std::string login_id = "T-CRSS2345";
  const std::string password = "Kp7mWx3Rt9Qa";
  const auto salt = crypto::random_bytes(16);
  constexpr std::uint32_t k_iterations = 10'000;
  const auto hash = crypto::pbkdf2_hmac_sha256(password, salt, k_iterations, 32);
  const auto now = unix_now();
  cloud.send(make_command("c-login-1", "technician_login.install",
                          R"({"login_id":")" + login_id + R"(","salt":")" + crypto::to_hex(salt) +
                              R"(","iterations":)" + std::to_string(k_iterations) + R"(,"hash":")" +
                              crypto::to_hex(hash) + R"(","expires_at":)" +
                              std::to_string(now + 3600) + R"(,"ttl_s":3600})"));
  auto installed = cloud.await_final("c-login-1");
  REQUIRE(installed.has_value());
  REQUIRE_MESSAGE(installed->status == proto::result_status::ok, installed->error);

  const auto check =
      agent_argv({"login-check", "--config", r.config.string(), "--login-id", login_id});
  auto wrong = aterm::test::run(check, "not-the-password\n", {}, k_deadline);
  CHECK_MESSAGE(wrong.exit_code == 1, wrong.err);

  auto ok = aterm::test::run(check, password + "\n", {}, k_deadline);
  CHECK_MESSAGE(ok.exit_code == 0, ok.err);
  // Single use: the same password is refused once consumed.
  auto again = aterm::test::run(check, password + "\n", {}, k_deadline);
  CHECK_MESSAGE(again.exit_code == 1, again.err);

  CHECK(wait_until([&] { return !cloud.events("technician_login.used").empty(); }, k_deadline));
  CHECK(wait_until([&] { return !cloud.events("technician_login.failed").empty(); }, k_deadline));
  // Neither the password nor the hash leave the router.
  for (const auto& m : cloud.on(proto::topic_kind::event)) {
    CHECK(m.payload.find(password) == std::string::npos);
    CHECK(m.payload.find(crypto::to_hex(hash)) == std::string::npos);
  }
}

TEST_CASE("cross agent under qemu: offline credentials with the broker stopped") {
  rig r;
  INFO("agent log: ", r.agent_log());
  REQUIRE(r.await_online());
  const auto secret = crypto::random_bytes(tc::k_secret_bytes);
  r.cloud.send(make_command("c-secret-1", "technician_login.secret",
                            R"({"secret":")" + crypto::to_hex(secret) + R"("})"));
  auto stored = r.cloud.await_final("c-secret-1");
  REQUIRE(stored.has_value());
  REQUIRE_MESSAGE(stored->status == proto::result_status::ok, stored->error);
  r.broker.stop();

  constexpr unsigned k_class_60 = 4;  // tc::k_ttl_class_minutes[4] == 60
  const auto minute = (unix_now() - tc::k_epoch_s) / 60;
  auto check = [&](const std::string& login_id, const std::string& password) {
    auto argv = agent_argv({"login-check", "--config", r.config.string(), "--login-id", login_id});
    return aterm::test::run(argv, password + "\n", {}, k_deadline).exit_code;
  };
  // Issued after the broker went away: accepted exactly once.
  const auto id = tc::encode_login_id({minute, k_class_60, 1});
  const auto password = tc::password(secret, r.device, id);
  CHECK(check(id, password) == 0);
  CHECK(check(id, password) == 1);
  // Forged: another router's secret, a changed issue time, a longer ttl class.
  const auto other = crypto::random_bytes(tc::k_secret_bytes);
  const auto forged = tc::encode_login_id({minute, k_class_60, 2});
  CHECK(check(forged, tc::password(other, r.device, forged)) == 1);
  const auto genuine = tc::encode_login_id({minute - 30, k_class_60, 3});
  const auto genuine_pw = tc::password(secret, r.device, genuine);
  CHECK(check(tc::encode_login_id({minute, k_class_60, 3}), genuine_pw) == 1);
  CHECK(check(tc::encode_login_id({minute - 30, 7, 3}), genuine_pw) == 1);
  // Expired: issued 61 minutes ago with a 60-minute lifetime.
  const auto old = tc::encode_login_id({minute - 61, k_class_60, 4});
  CHECK(check(old, tc::password(secret, r.device, old)) == 1);
  // The technician leaves: the session the use opened ends once.
  const auto logout = agent_argv({"login-logout", "--config", r.config.string(), "--login-id", id});
  CHECK(aterm::test::run(logout, "", {}, k_deadline).exit_code == 0);
  CHECK(aterm::test::run(logout, "", {}, k_deadline).exit_code == 1);
}
