// Identities that change while the broker runs: `scripts/dev-pki revoke` of cloud identities and
// `scripts/broker`'s SIGHUP (re-render the ACL, reload Mosquitto), and the broker script as the
// parent of Mosquitto (signals passed on, its exit status kept). Real Mosquitto, real Paho
// clients, certificates of scripts/dev-pki.
//
// "Never arrives" is shown without sleeping, as in integration_broker: after the message that
// must not arrive, a marker follows on a topic the receiver may read; Mosquitto keeps one
// publisher's messages in order, so once the marker is there the other would have been too.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "aterm/common/claim_code.h"
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

identity as_identity(const std::pair<fs::path, fs::path>& p) {
  return {p.first, p.second};
}

std::string dev_pki_script() {
  return (t::source_dir() / "scripts" / "dev-pki").string();
}

// `openssl verify` of `cert` against the PKI's CA and CRL: exit 0 when valid.
int verify(const t::dev_pki& pki, const fs::path& cert) {
  return t::run({"openssl", "verify", "-CAfile", pki.ca().string(), "-crl_check", "-CRLfile",
                 (pki.dir() / "crl.pem").string(), cert.string()})
      .exit_code;
}

// The pids whose parent is `parent` (from /proc/PID/stat: "pid (comm) state ppid ...").
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == parent) out.push_back(std::stoi(name));
  }
  return out;
}

std::string file_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool alive(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno != ESRCH;
}

}  // namespace

TEST_CASE("dev-pki revoke takes a device ID, a cloud instance's name or aterm-cloud") {
  t::temp_dir dir{"aterm-pki"};
  t::dev_pki pki{dir / "pki"};
  pki.device("dev-0001");
  pki.cloud("aterm-cloud-b");
  struct row {
    std::string id;
    int exit_code;
    fs::path revoked;  // the certificate that no longer verifies
  };
  const std::vector<row> rows = {
      {"dev-0001", 0, pki.dir() / "devices" / "dev-0001.pem"},
      {"aterm-cloud-b", 0, pki.dir() / "clouds" / "aterm-cloud-b.pem"},
      {"aterm-cloud", 0, pki.cloud_cert()},
      {"aterm-cloud-none", 1, {}},  // a valid name without a certificate
      {"dev-none", 1, {}},
      {"aterm-cloud-", 2, {}},
      {"aterm-cloud-B", 2, {}},
      {"Aterm-Cloud-b", 2, {}},
      {"aterm-cloudx", 2, {}},
      {"aterm-cloud-b/../../cloud", 2, {}},
      {"../cloud", 2, {}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.id);
    auto res = t::run({dev_pki_script(), "revoke", pki.dir().string(), r.id});
    CHECK(res.exit_code == r.exit_code);
    if (r.exit_code != 0) {
      CHECK_FALSE(res.err.empty());
      continue;
    }
    CHECK(verify(pki, r.revoked) != 0);
    // Idempotent: a second revoke succeeds and changes nothing.
    CHECK(t::run({dev_pki_script(), "revoke", pki.dir().string(), r.id}).exit_code == 0);
  }
  // Nothing else was revoked by the refused rows.
  CHECK(verify(pki, pki.server_cert()) == 0);
  // A revoked identity is issued again by the command that made it.
  auto again = pki.cloud("aterm-cloud-b");
  CHECK(verify(pki, again.first) == 0);
  t::dev_pki reinit{pki.dir()};
  CHECK(verify(pki, pki.cloud_cert()) == 0);
  auto device = pki.device("dev-0001");
  CHECK(verify(pki, device.first) == 0);
}

TEST_CASE("a revoked cloud instance identity is refused by the running broker after SIGHUP") {
  t::temp_dir dir{"aterm-pki"};
  t::dev_pki pki{dir / "pki"};
  const identity second = as_identity(pki.cloud("aterm-cloud-b"));
  const identity first{pki.cloud_cert(), pki.cloud_key()};
  t::broker broker{pki};
  {
    client before(broker.uri(), "aterm-cloud", pki.ca(), second);
    REQUIRE_MESSAGE(before.connect(), broker.log());
  }
  pki.revoke("aterm-cloud-b");
  broker.reload();
  CHECK_MESSAGE(t::wait_until([&] {
                  client after(broker.uri(), "aterm-cloud", pki.ca(), second);
                  return !after.connect();
                }),
                broker.log());
  // The first instance's identity is untouched.
  client still(broker.uri(), "aterm-cloud", pki.ca(), first);
  CHECK(still.connect());
}

TEST_CASE("a cloud identity made while the broker runs reads every device's state after SIGHUP") {
  t::temp_dir dir{"aterm-pki"};
  t::dev_pki pki{dir / "pki"};
  const identity dev_a = as_identity(pki.device("dev-A"));
  const identity first{pki.cloud_cert(), pki.cloud_key()};
  t::broker broker{pki};
  const identity late = as_identity(pki.cloud("aterm-cloud-late"));
  const auto state = topic("dev-A", topic_kind::state);
  const auto own_cmd = topic("aterm-cloud-late", topic_kind::cmd);
  client a(broker.uri(), "dev-A", pki.ca(), dev_a);
  REQUIRE(a.connect());
  client cloud(broker.uri(), "aterm-cloud", pki.ca(), first);
  REQUIRE(cloud.connect());
  {
    // Not yet in the ACL Mosquitto read: connected (the CA signed it) but reading no device's
    // topics. Its own cmd topic (the device pattern of acl.in) carries the marker.
    client c(broker.uri(), "aterm-cloud-late", pki.ca(), late);
    REQUIRE_MESSAGE(c.connect(), broker.log());
    REQUIRE(c.subscribe(topic_filter(topic_kind::state)));
    REQUIRE(c.subscribe(own_cmd));
    REQUIRE(a.publish(state, "before-reload"));
    REQUIRE(cloud.publish(own_cmd, "marker"));
    REQUIRE(c.wait_for(own_cmd, "marker"));
    CHECK(c.count(state) == 0);
  }
  broker.reload();
  CHECK(broker.log().find(" running") == broker.log().rfind(" running"));  // not restarted
  client c(broker.uri(), "aterm-cloud-late", pki.ca(), late);
  REQUIRE_MESSAGE(c.connect(), broker.log());
  REQUIRE(c.subscribe(topic_filter(topic_kind::state)));
  REQUIRE(a.publish(state, "after-reload"));
  CHECK(c.wait_for(state, "after-reload"));
  // ... and it commands a device like the bridge does.
  REQUIRE(a.subscribe(topic("dev-A", topic_kind::cmd)));
  REQUIRE(c.publish(topic("dev-A", topic_kind::cmd), "from-late"));
  CHECK(a.wait_for(topic("dev-A", topic_kind::cmd), "from-late"));
}

TEST_CASE("scripts/broker passes TERM and INT on to Mosquitto and exits when Mosquitto does") {
  t::temp_dir dir{"aterm-pki"};
  t::dev_pki pki{dir / "pki"};
  struct row {
    std::string name;
    int signal;
    bool to_mosquitto;  // sent to Mosquitto itself instead of the script
    int exit_code;      // the script's
  };
  const std::vector<row> rows = {
      {"SIGTERM to the script", SIGTERM, false, 0},
      {"SIGINT to the script", SIGINT, false, 0},
      {"SIGKILL to Mosquitto", SIGKILL, true, 128 + SIGKILL},
  };
  // As from a terminal: a shell's background job (and so a test run from one) starts with SIGINT
  // ignored, and bash cannot trap a signal that was ignored when it started.
  const auto previous_int = std::signal(SIGINT, SIG_DFL);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    CAPTURE(r.name);
    const int port = t::free_port();
    const fs::path log = dir / ("broker-" + std::to_string(i) + ".log");
    t::process script({(t::source_dir() / "scripts" / "broker").string(), pki.dir().string(),
                       std::to_string(port)},
                      log);
    REQUIRE_MESSAGE(
        t::wait_until([&] { return script.log().find(" running") != std::string::npos; },
                      std::chrono::seconds(30)),
        script.log());
    // The script stays Mosquitto's parent (it no longer execs it).
    const auto children = children_of(script.pid());
    REQUIRE(children.size() == 1);
    const pid_t mosquitto = children.front();
    ::kill(r.to_mosquitto ? mosquitto : script.pid(), r.signal);
    CHECK(t::wait_until([&] { return !script.running(); }, std::chrono::seconds(10)));
    CHECK(script.stop() == r.exit_code);
    CHECK(t::wait_until([&] { return !alive(mosquitto); }));
  }
  std::signal(SIGINT, previous_int);
}

TEST_CASE("dev-pki writes each device's claim code, equal to common/claim_code.h's") {
  namespace claim = aterm::common::claim;
  t::temp_dir dir{"aterm-pki-claim"};
  t::dev_pki pki{dir / "pki"};
  CHECK((fs::status(pki.claim_key()).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  const std::string generated = file_text(pki.claim_key());
  auto key = claim::parse_key(generated);
  REQUIRE(key.ok());
  pki.device("acme-router-9");
  CHECK(pki.claim_code("acme-router-9") == claim::format(claim::derive(*key, "acme-router-9")));
  CHECK((fs::status(pki.dir() / "devices" / "acme-router-9.claim").permissions() &
         fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
  // init keeps the key, so codes printed on earlier labels stay valid.
  t::dev_pki again{dir / "pki"};
  CHECK(file_text(pki.claim_key()) == generated);

  // The fixed test vector of tests/unit/common/claim_code_test.cpp through the shell pipeline.
  {
    std::ofstream out(pki.claim_key(), std::ios::trunc);
    out << "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
  }
  pki.device("acme-router-1");
  CHECK(pki.claim_code("acme-router-1") == "7LVP-8XSG-2UTP-G795");
}
