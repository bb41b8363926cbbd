// The broker's identity as the agent checks it: a TLS server with a certificate from the right
// CA but for another host is refused during the handshake, before CONNECT (so nothing of the
// router reaches a server that merely holds some certificate of the CA); one whose certificate
// names the address connected to (an IP literal) is accepted. The servers are `openssl s_server`
// processes that never answer MQTT, so the accepted case ends waiting for CONNACK.
#include <doctest/doctest.h>

#include <fstream>

#include "agent_fixture.h"

using namespace agent_test;

namespace {

// A server certificate signed by the dev CA for `san` (an openssl subjectAltName value).
std::pair<fs::path, fs::path> server_cert(const t::dev_pki& pki, const fs::path& dir,
                                          const std::string& name, const std::string& san) {
  const fs::path cert = dir / (name + ".pem");
  const fs::path key = dir / (name + ".key");
  t::process mint({"/usr/bin/openssl",
                   "req",
                   "-new",
                   "-x509",
                   "-newkey",
                   "ec",
                   "-pkeyopt",
                   "ec_paramgen_curve:P-256",
                   "-noenc",
                   "-keyout",
                   key.string(),
                   "-out",
                   cert.string(),
                   "-subj",
                   "/CN=" + name,
                   "-addext",
                   "subjectAltName=" + san,
                   "-addext",
                   "extendedKeyUsage=serverAuth",
                   "-CA",
                   pki.ca().string(),
                   "-CAkey",
                   pki.ca_key().string(),
                   "-days",
                   "1"},
                  dir / (name + ".mint.log"));
  REQUIRE(t::wait_until([&] { return !mint.running(); }, 30s));
  REQUIRE(fs::exists(cert));
  return {cert, key};
}

// The agent's log once it has reported a failed connect to a s_server holding `cert`.
std::string connect_to(const t::dev_pki& pki, const fs::path& dir, const std::string& name,
                       const std::pair<fs::path, fs::path>& server) {
  const int port = t::free_port();
  // Through sh for a stdin of /dev/null: s_server ends at the first end of its input.
  const std::string server_cmd = "exec /usr/bin/openssl s_server -accept " + std::to_string(port) +
                                 " -cert '" + server.first.string() + "' -key '" +
                                 server.second.string() + "' -CAfile '" + pki.ca().string() +
                                 "' -verify 1 -naccept 1 -www </dev/null";
  t::process tls_server({"/bin/sh", "-c", server_cmd}, dir / (name + ".server.log"));
  REQUIRE(t::wait_until([&] {
    return tls_server.log().find("ACCEPT") != std::string::npos || !tls_server.running();
  }));
  const std::string device = "dev-" + name;
  const auto [cert, key] = pki.device(device);
  const fs::path config = dir / (name + ".json");
  std::ofstream(config) << R"({"device_id":")" << device << R"(","broker":{"uri":"ssl://127.0.0.1:)"
                        << port << R"(","ca":")" << pki.ca().string() << R"(","cert":")"
                        << cert.string() << R"(","key":")" << key.string() << R"("},"data_dir":")"
                        << (dir / (name + "-data")).string()
                        << R"(","backend":{"type":"sim"},"local_socket":")"
                        << (dir / (name + ".sock")).string()
                        << R"(","connect_timeout_s":2,"reconnect.base_ms":200})";
  t::process agent({t::binary("agent/aterm-agent").string(), "run", "--config", config.string()},
                   dir / (name + ".log"));
  REQUIRE(
      t::wait_until([&] { return agent.log().find("connect failed") != std::string::npos; }, 20s));
  return agent.log() + "\n--- the TLS server:\n" + tls_server.log();
}

}  // namespace

TEST_CASE("the agent refuses a broker certificate of its CA that names another host") {
  t::temp_dir dir("aterm-agent-identity");
  t::dev_pki pki(dir / "pki");

  const auto other = server_cert(pki, dir.path(), "other", "DNS:other.example");
  const auto refused = connect_to(pki, dir.path(), "other", other);
  INFO(refused);
  CHECK(refused.find("tls handshake") != std::string::npos);
  CHECK(refused.find("Common Name") != std::string::npos);

  const auto right = server_cert(pki, dir.path(), "loopback", "IP:127.0.0.1");
  const auto accepted = connect_to(pki, dir.path(), "loopback", right);
  INFO(accepted);
  CHECK(accepted.find("tls handshake") == std::string::npos);
  CHECK(accepted.find("CONNACK") != std::string::npos);
}
