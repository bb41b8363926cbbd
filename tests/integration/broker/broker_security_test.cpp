// The broker's security contract (DESIGN.md section 3, "Broker security") against a real
// Mosquitto started by scripts/broker with certificates from scripts/dev-pki.
//
// "Never arrives" is shown without sleeping: after the forbidden message the same publisher
// sends a marker on a topic it may use; Mosquitto keeps one client's messages in order, so once
// the marker has arrived the forbidden message would have arrived before it.
#include <doctest/doctest.h>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "aterm/common/protocol.h"
#include "aterm/test/mqtt_client.h"
#include "aterm/test/support.h"

namespace t = aterm::test;
namespace fs = std::filesystem;
using aterm::common::protocol::topic;
using aterm::common::protocol::topic_filter;
using aterm::common::protocol::topic_kind;

namespace {

using identity = t::mqtt_identity;
using client = t::mqtt_client;

// One broker, one PKI, devices dev-A and dev-B and the cloud's bridge identity.
struct fleet {
  t::temp_dir dir{"aterm-broker"};
  t::dev_pki pki{dir / "pki"};
  identity a = as_identity(pki.device("dev-A"));
  identity b = as_identity(pki.device("dev-B"));
  identity cloud{pki.cloud_cert(), pki.cloud_key()};
  t::broker broker{pki};

  static identity as_identity(const std::pair<fs::path, fs::path>& p) {
    return {p.first, p.second};
  }

  std::unique_ptr<client> connect(const std::string& client_id, const identity& id) {
    auto c = std::make_unique<client>(broker.uri(), client_id, pki.ca(), id);
    REQUIRE_MESSAGE(c->connect(), "connect as ", client_id, "\n", broker.log());
    return c;
  }
};

// True when the broker logged, after offset `from`, that client `id` lost or closed its
// connection ("Client dev-A disconnected.", "Socket error on client dev-A, disconnecting.").
bool logged_disconnect(const std::string& log, size_t from, const std::string& id) {
  std::istringstream lines(log.substr(std::min(from, log.size())));
  for (std::string line; std::getline(lines, line);) {
    if (line.find("client " + id) == std::string::npos &&
        line.find("Client " + id) == std::string::npos) {
      continue;
    }
    if (line.find("disconnect") != std::string::npos || line.find("closed") != std::string::npos) {
      return true;
    }
  }
  return false;
}

constexpr topic_kind k_device_writes[] = {topic_kind::presence, topic_kind::state,
                                          topic_kind::result, topic_kind::event};

}  // namespace

TEST_CASE(
    "a device publishes its own presence and state and result and event and receives its own cmd") {
  fleet f;
  auto cloud = f.connect("aterm-cloud", f.cloud);
  auto a = f.connect("dev-A", f.a);
  REQUIRE(cloud->subscribe("aterm/v1/#"));
  REQUIRE(a->subscribe(topic("dev-A", topic_kind::cmd)));
  for (auto kind : k_device_writes) {
    const auto name = topic("dev-A", kind);
    CAPTURE(name);
    const std::string payload = "{\"v\":1,\"from\":\"dev-A\"}";
    CHECK(a->publish(name, payload, kind == topic_kind::presence));
    CHECK(cloud->wait_for(name, payload));
  }
  CHECK(cloud->publish(topic("dev-A", topic_kind::cmd), "{\"v\":1,\"id\":\"c1\",\"op\":\"ping\"}"));
  CHECK(a->wait_for(topic("dev-A", topic_kind::cmd), "{\"v\":1,\"id\":\"c1\",\"op\":\"ping\"}"));

  // Retained presence reaches a bridge that subscribes later.
  cloud.reset();
  auto late = f.connect("aterm-cloud", f.cloud);
  REQUIRE(late->subscribe(topic_filter(topic_kind::presence)));
  CHECK(late->wait_for(topic("dev-A", topic_kind::presence), "{\"v\":1,\"from\":\"dev-A\"}"));
}

TEST_CASE("a device's publishes to topics it does not own never reach a subscriber") {
  fleet f;
  auto cloud = f.connect("aterm-cloud", f.cloud);
  auto b = f.connect("dev-B", f.b);
  auto a = f.connect("dev-A", f.a);
  REQUIRE(cloud->subscribe("aterm/v1/#"));
  REQUIRE(b->subscribe(topic("dev-B", topic_kind::cmd)));
  const std::vector<std::string> forbidden = {
      topic("dev-B", topic_kind::presence),
      topic("dev-B", topic_kind::state),
      topic("dev-B", topic_kind::result),
      topic("dev-B", topic_kind::event),
      topic("dev-B", topic_kind::cmd),
      topic("dev-A", topic_kind::cmd),
      "aterm/v1/dev-A/other",
      "aterm/v1/dev-A",
      "aterm/v1/dev-A/state/x",
      "aterm/v2/dev-A/state",
  };
  for (size_t i = 0; i < forbidden.size(); ++i) {
    CAPTURE(forbidden[i]);
    const std::string payload = "forbidden-" + std::to_string(i);
    const std::string marker = "marker-" + std::to_string(i);
    a->publish(forbidden[i], payload);
    REQUIRE(a->publish(topic("dev-A", topic_kind::state), marker));
    REQUIRE(cloud->wait_for(topic("dev-A", topic_kind::state), marker));
    CHECK(cloud->count_payload(payload) == 0);
    CHECK(b->count_payload(payload) == 0);
  }
  // B's own publish on the same topics does arrive: the ACL, not the topic, stopped A.
  REQUIRE(b->publish(topic("dev-B", topic_kind::state), "from-b"));
  CHECK(cloud->wait_for(topic("dev-B", topic_kind::state), "from-b"));
}

TEST_CASE("a device's wildcard subscriptions receive nothing of another device") {
  fleet f;
  auto cloud = f.connect("aterm-cloud", f.cloud);
  auto b = f.connect("dev-B", f.b);
  REQUIRE(b->subscribe(topic("dev-B", topic_kind::cmd)));
  REQUIRE(cloud->subscribe("aterm/v1/#"));
  const std::vector<std::string> filters = {"aterm/v1/+/cmd",     "aterm/v1/#",       "#",
                                            "aterm/v1/dev-B/cmd", "aterm/v1/+/state", "+/+/+/+"};
  for (size_t i = 0; i < filters.size(); ++i) {
    CAPTURE(filters[i]);
    auto a = f.connect("dev-A", f.a);
    // Granted or refused, what matters is what arrives. The own cmd topic carries the marker.
    a->subscribe(filters[i]);
    REQUIRE(a->subscribe(topic("dev-A", topic_kind::cmd)));
    const std::string secret = "for-b-only-" + std::to_string(i);
    const std::string marker = "marker-" + std::to_string(i);
    REQUIRE(cloud->publish(topic("dev-B", topic_kind::cmd), secret));
    REQUIRE(b->publish(topic("dev-B", topic_kind::state), secret));
    REQUIRE(b->wait_for(topic("dev-B", topic_kind::cmd), secret));
    REQUIRE(cloud->wait_for(topic("dev-B", topic_kind::state), secret));
    // Both publishers send the marker after the secret; both markers must reach A's own cmd
    // topic (the cloud's) or be refused (B's), and the cloud's arrival closes the window.
    REQUIRE(b->publish(topic("dev-B", topic_kind::state), marker));
    REQUIRE(cloud->wait_for(topic("dev-B", topic_kind::state), marker));
    REQUIRE(cloud->publish(topic("dev-A", topic_kind::cmd), marker));
    REQUIRE(a->wait_for(topic("dev-A", topic_kind::cmd), marker));
    CHECK(a->count_payload(secret) == 0);
    CHECK(a->count_topic(topic("dev-B", topic_kind::state)) == 0);
    CHECK(a->count_topic(topic("dev-B", topic_kind::cmd)) == 0);
  }
}

TEST_CASE("a device connecting with another device's client id does not disconnect it") {
  fleet f;
  auto cloud = f.connect("aterm-cloud", f.cloud);
  auto b = f.connect("dev-B", f.b);
  REQUIRE(b->subscribe(topic("dev-B", topic_kind::cmd)));
  // A presents B's client id; the broker replaces it with A's certificate CN.
  auto a = f.connect("dev-B", f.a);
  REQUIRE(a->subscribe(topic("dev-A", topic_kind::cmd)));
  REQUIRE(cloud->publish(topic("dev-B", topic_kind::cmd), "still-b"));
  REQUIRE(cloud->publish(topic("dev-A", topic_kind::cmd), "to-a"));
  CHECK(b->wait_for(topic("dev-B", topic_kind::cmd), "still-b"));
  CHECK(a->wait_for(topic("dev-A", topic_kind::cmd), "to-a"));
  CHECK_FALSE(b->lost());
  CHECK(b->connected());
  CHECK(a->count_payload("still-b") == 0);
  // A second connection of the same certificate does take over: that is the same device.
  auto a2 = f.connect("anything", f.a);
  CHECK(t::wait_until([&] { return a->lost(); }));
  CHECK(b->connected());
}

TEST_CASE("connections without a valid certificate of this CA are refused") {
  fleet f;
  t::temp_dir other_dir{"aterm-other-ca"};
  t::dev_pki other{other_dir / "pki"};
  const identity foreign = fleet::as_identity(other.device("dev-A"));
  const identity revoked = fleet::as_identity(f.pki.device("dev-R"));
  {
    client before(f.broker.uri(), "dev-R", f.pki.ca(), revoked);
    REQUIRE(before.connect());
  }
  f.pki.revoke("dev-R");
  f.broker.reload();
  // The reload is logged before the TLS context is rebuilt: wait for the refusal itself.
  CHECK(t::wait_until([&] {
    client after(f.broker.uri(), "dev-R", f.pki.ca(), revoked);
    return !after.connect();
  }));
  // A restart reads the same CRL.
  f.broker.stop();
  f.broker.start();

  struct row {
    std::string name;
    std::string uri;
    std::optional<identity> id;
  };
  const std::string plain = "tcp://127.0.0.1:" + std::to_string(f.broker.port());
  const std::vector<row> rows = {
      {"certificate of another CA with a valid device CN", f.broker.uri(), foreign},
      {"revoked certificate", f.broker.uri(), revoked},
      {"no client certificate", f.broker.uri(), std::nullopt},
      {"the broker's server certificate (serverAuth only) as a client certificate", f.broker.uri(),
       identity{f.pki.server_cert(), f.pki.server_key()}},
      {"plain TCP", plain, std::nullopt},
      {"plain TCP with a certificate", plain, f.a},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    client c(r.uri, "dev-A", f.pki.ca(), r.id);
    CHECK_FALSE(c.connect());
  }
  // The same broker accepts a valid device: the refusals above are not an outage.
  client ok(f.broker.uri(), "dev-A", f.pki.ca(), f.a);
  CHECK(ok.connect());
}

TEST_CASE("TLS below 1.2 is refused while TLS 1.2 and 1.3 clients are served") {
  fleet f;
  struct row {
    std::string flag;
    bool accepted;
  };
  const std::vector<row> rows = {{"-tls1_1", false}, {"-tls1_2", true}, {"-tls1_3", true}};
  for (const auto& r : rows) {
    CAPTURE(r.flag);
    auto res =
        t::run({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(f.broker.port()),
                r.flag, "-cipher", "DEFAULT@SECLEVEL=0", "-CAfile", f.pki.ca().string(), "-cert",
                f.a.cert.string(), "-key", f.a.key.string(), "-verify_return_error"},
               {}, {}, std::chrono::seconds(20));
    CHECK((res.exit_code == 0) == r.accepted);
    if (r.accepted) {
      const std::string version = r.flag == "-tls1_2" ? "TLSv1.2" : "TLSv1.3";
      CHECK(res.out.find(version) != std::string::npos);
    }
  }
}

TEST_CASE("payloads over 64 KiB are refused while payloads up to 64 KiB are delivered") {
  fleet f;
  auto cloud = f.connect("aterm-cloud", f.cloud);
  auto a = f.connect("dev-A", f.a);
  REQUIRE(cloud->subscribe("aterm/v1/#"));
  struct row {
    size_t size;
    bool delivered;
  };
  const std::vector<row> rows = {{60 * 1024, true},
                                 {64 * 1024, true},
                                 {64 * 1024 + 1, false},
                                 {65 * 1024, false},
                                 {60 * 1024, true}};
  const auto state = topic("dev-A", topic_kind::state);
  for (size_t i = 0; i < rows.size(); ++i) {
    CAPTURE(rows[i].size);
    const std::string payload = std::to_string(i) + std::string(rows[i].size - 1, 'x');
    // Refused payloads still complete the QoS 1 flow, so an agent's outbox drains.
    CHECK(a->publish(state, payload));
    const std::string marker = "marker-" + std::to_string(i);
    REQUIRE(a->publish(state, marker));
    REQUIRE(cloud->wait_for(state, marker));
    CHECK(cloud->has(state, payload) == rows[i].delivered);
    CHECK(a->connected());
  }
}

TEST_CASE("the aterm-cloud identity reads and writes every device's topics") {
  fleet f;
  auto cloud = f.connect("aterm-cloud", f.cloud);
  auto a = f.connect("dev-A", f.a);
  auto b = f.connect("dev-B", f.b);
  // The bridge's subscriptions: one filter per kind, and a shared subscription (DESIGN.md 8).
  for (auto kind : k_device_writes) REQUIRE(cloud->subscribe(topic_filter(kind)));
  REQUIRE(cloud->subscribe("$share/aterm-cloud/aterm/v1/+/event"));
  REQUIRE(a->subscribe(topic("dev-A", topic_kind::cmd)));
  REQUIRE(b->subscribe(topic("dev-B", topic_kind::cmd)));
  for (auto* dev : {a.get(), b.get()}) {
    const std::string id = dev == a.get() ? "dev-A" : "dev-B";
    for (auto kind : k_device_writes) {
      const auto name = topic(id, kind);
      CAPTURE(name);
      REQUIRE(dev->publish(name, "up-" + name));
      CHECK(cloud->wait_for(name, "up-" + name));
    }
    REQUIRE(cloud->publish(topic(id, topic_kind::cmd), "down-" + id));
    CHECK(dev->wait_for(topic(id, topic_kind::cmd), "down-" + id));
  }
  // The cloud may also write device-side topics (e.g. to clear a retained presence).
  REQUIRE(cloud->publish(topic("dev-B", topic_kind::presence), "cleared"));
  CHECK(cloud->wait_for(topic("dev-B", topic_kind::presence), "cleared"));
  // ... but nothing outside aterm/v1/.
  REQUIRE(cloud->subscribe(topic("dev-A", topic_kind::cmd)));
  cloud->publish("outside/aterm", "outside");
  REQUIRE(cloud->publish(topic("dev-A", topic_kind::cmd), "cloud-marker"));
  REQUIRE(a->wait_for(topic("dev-A", topic_kind::cmd), "cloud-marker"));
  CHECK(cloud->count_payload("outside") == 0);
}

TEST_CASE(
    "a second cloud identity reads every device's state and both cloud identities stay connected") {
  // Several aterm-cloud instances (DESIGN.md section 8): each has its own certificate
  // (dev-pki cloud), so the broker gives each its own client id. Both send the client id
  // aterm-cloud: with one shared CN the second connect would take over the first's session.
  t::temp_dir dir{"aterm-broker"};
  t::dev_pki pki{dir / "pki"};
  const identity a = fleet::as_identity(pki.device("dev-A"));
  const identity b = fleet::as_identity(pki.device("dev-B"));
  const identity cloud_id{pki.cloud_cert(), pki.cloud_key()};
  const identity second = fleet::as_identity(pki.cloud("aterm-cloud-b"));
  t::broker broker{pki};
  auto connect = [&](const std::string& client_id, const identity& id) {
    auto c = std::make_unique<client>(broker.uri(), client_id, pki.ca(), id);
    REQUIRE_MESSAGE(c->connect(), "connect as ", client_id, "\n", broker.log());
    return c;
  };
  auto cloud = connect("aterm-cloud", cloud_id);
  auto cloud_b = connect("aterm-cloud", second);
  for (auto* c : {cloud.get(), cloud_b.get()}) {
    for (auto kind : k_device_writes) REQUIRE(c->subscribe(topic_filter(kind)));
  }
  auto dev_a = connect("dev-A", a);
  auto dev_b = connect("dev-B", b);
  for (auto* dev : {dev_a.get(), dev_b.get()}) {
    const std::string id = dev == dev_a.get() ? "dev-A" : "dev-B";
    REQUIRE(dev->subscribe(topic(id, topic_kind::cmd)));
    for (auto kind : k_device_writes) {
      const auto name = topic(id, kind);
      CAPTURE(name);
      REQUIRE(dev->publish(name, "up-" + name));
      CHECK(cloud->wait_for(name, "up-" + name));
      CHECK(cloud_b->wait_for(name, "up-" + name));
    }
    REQUIRE(cloud_b->publish(topic(id, topic_kind::cmd), "down-b-" + id));
    CHECK(dev->wait_for(topic(id, topic_kind::cmd), "down-b-" + id));
  }
  // Both sessions are still up, and the broker never closed either.
  REQUIRE(cloud->publish(topic("dev-A", topic_kind::cmd), "first-still-up"));
  CHECK(dev_a->wait_for(topic("dev-A", topic_kind::cmd), "first-still-up"));
  CHECK(cloud->connected());
  CHECK(cloud_b->connected());
  CHECK_FALSE(cloud->lost());
  CHECK_FALSE(cloud_b->lost());
  CHECK_FALSE(logged_disconnect(broker.log(), 0, "aterm-cloud"));
  CHECK_FALSE(logged_disconnect(broker.log(), 0, "aterm-cloud-b"));
}

TEST_CASE(
    "a cloud identity made while the broker runs gets the bridge's rights at its next start") {
  fleet f;
  const identity late = fleet::as_identity(f.pki.cloud("aterm-cloud-late"));
  auto a = f.connect("dev-A", f.a);
  const auto state = topic("dev-A", topic_kind::state);
  {
    // Not in the ACL this broker read: it may connect (the CA signed it) but reads no device's
    // topics. Its own cmd topic (the device pattern applies to every username) is the marker:
    // the state was routed before the cloud's marker was published, so it would be queued first.
    auto c = f.connect("aterm-cloud-late", late);
    c->subscribe(topic_filter(topic_kind::state));  // refused or granted: nothing may arrive
    const auto own_cmd = topic("aterm-cloud-late", topic_kind::cmd);
    REQUIRE(c->subscribe(own_cmd));
    REQUIRE(a->publish(state, "before-restart"));
    auto cloud = f.connect("aterm-cloud", f.cloud);
    REQUIRE(cloud->publish(own_cmd, "marker"));
    REQUIRE(c->wait_for(own_cmd, "marker"));
    CHECK(c->count_topic(state) == 0);
  }
  a.reset();
  f.broker.stop();
  f.broker.start();
  auto c = f.connect("aterm-cloud-late", late);
  REQUIRE(c->subscribe(topic_filter(topic_kind::state)));
  auto a2 = f.connect("dev-A", f.a);
  REQUIRE(a2->publish(state, "after-restart"));
  CHECK(c->wait_for(state, "after-restart"));
}

TEST_CASE(
    "a Last Will on the device's own presence is delivered but one on another device's is not") {
  fleet f;
  auto cloud = f.connect("aterm-cloud", f.cloud);
  REQUIRE(cloud->subscribe("aterm/v1/#"));
  struct row {
    std::string will_topic;
    bool delivered;
  };
  const std::vector<row> rows = {{topic("dev-B", topic_kind::presence), false},
                                 {topic("dev-B", topic_kind::state), false},
                                 {topic("dev-A", topic_kind::presence), true}};
  for (size_t i = 0; i < rows.size(); ++i) {
    CAPTURE(rows[i].will_topic);
    const std::string will = "will-" + std::to_string(i);
    const auto log = f.dir / ("will-" + std::to_string(i) + ".log");
    // A separate process, so that SIGKILL ends the connection without a DISCONNECT.
    const std::vector<std::string> argv = {"mosquitto_sub",
                                           "-h",
                                           "127.0.0.1",
                                           "-p",
                                           std::to_string(f.broker.port()),
                                           "--cafile",
                                           f.pki.ca().string(),
                                           "--cert",
                                           f.a.cert.string(),
                                           "--key",
                                           f.a.key.string(),
                                           "-i",
                                           "dev-A",
                                           "-t",
                                           topic("dev-A", topic_kind::cmd),
                                           "--will-topic",
                                           rows[i].will_topic,
                                           "--will-payload",
                                           will,
                                           "--will-qos",
                                           "1"};
    const size_t from = f.broker.log().size();
    t::process holder(argv, log);
    const auto connected_line = "as dev-A (";
    REQUIRE(t::wait_until([&] {
      return f.broker.log().find(connected_line, from) != std::string::npos || !holder.running();
    }));
    if (!holder.running()) {
      // Refusing the connection is as good as dropping its will.
      CHECK_FALSE(rows[i].delivered);
      continue;
    }
    holder.stop(SIGKILL);
    // The broker has handled the lost connection (and so its will) once it logged it.
    REQUIRE_MESSAGE(t::wait_until([&] { return logged_disconnect(f.broker.log(), from, "dev-A"); }),
                    f.broker.log().substr(from));
    auto a = f.connect("dev-A", f.a);
    const std::string marker = "marker-" + std::to_string(i);
    REQUIRE(a->publish(topic("dev-A", topic_kind::state), marker));
    REQUIRE(cloud->wait_for(topic("dev-A", topic_kind::state), marker));
    CHECK(cloud->has(rows[i].will_topic, will) == rows[i].delivered);
  }
}

TEST_CASE("scripts/broker renders one loopback listener and a key only the broker's user reads") {
  fleet f;
  std::ifstream conf(f.pki.dir() / "mosquitto.conf");
  std::vector<std::string> listeners;
  std::string keyfile;
  std::map<std::string, std::string> settings;
  for (std::string line; std::getline(conf, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.find(' ');
    const auto key = line.substr(0, space);
    const auto value = space == std::string::npos ? std::string() : line.substr(space + 1);
    if (key == "listener") listeners.push_back(value);
    CHECK_MESSAGE(key != "port", "a second, default listener");
    settings[key] = value;
  }
  REQUIRE(listeners.size() == 1);
  CHECK(listeners[0] == std::to_string(f.broker.port()) + " 127.0.0.1");
  for (const auto& expected :
       std::map<std::string, std::string>{{"require_certificate", "true"},
                                          {"use_identity_as_username", "true"},
                                          {"use_username_as_clientid", "true"},
                                          {"allow_anonymous", "false"},
                                          {"tls_version", "tlsv1.2"},
                                          {"message_size_limit", "65536"}}) {
    CAPTURE(expected.first);
    CHECK(settings[expected.first] == expected.second);
  }
  const fs::path key = settings["keyfile"];
  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  if (::getuid() == 0) {
    // Mosquitto started as root reads its key as `mosquitto`: its own copy, not root's file.
    const passwd* pw = ::getpwnam(settings["user"].c_str());
    REQUIRE(pw != nullptr);
    CHECK(settings["user"] == "mosquitto");
    CHECK(st.st_uid == pw->pw_uid);
    CHECK(key != f.pki.server_key());
  } else {
    CHECK(key == f.pki.server_key());
  }
}

TEST_CASE(
    "scripts/broker refuses bad arguments with exit 2 and a folder without a PKI with exit 1") {
  t::temp_dir dir;
  const std::string script = (t::source_dir() / "scripts" / "broker").string();
  const std::string d = dir.path().string();
  struct row {
    std::vector<std::string> args;
    int exit_code;
  };
  const std::vector<row> rows = {{{}, 2},           {{d}, 2},
                                 {{d, "0"}, 2},     {{d, "65536"}, 2},
                                 {{d, "x1"}, 2},    {{d, "1883", "a", "b"}, 2},
                                 {{d, "18830"}, 1}, {{d + "/none", "18830"}, 1}};
  for (const auto& r : rows) {
    std::vector<std::string> argv = {script};
    argv.insert(argv.end(), r.args.begin(), r.args.end());
    CAPTURE(argv.size());
    auto res = t::run(argv, {}, {}, std::chrono::seconds(20));
    CHECK(res.exit_code == r.exit_code);
    CHECK_FALSE(res.err.empty());
  }
}
