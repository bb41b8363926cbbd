// scripts/dev-pki: the interface of DESIGN.md section 7 (files, identities, key modes, exit codes).
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "aterm/test/support.h"

namespace t = aterm::test;
namespace fs = std::filesystem;

namespace {

std::string dev_pki() {
  return (t::source_dir() / "scripts" / "dev-pki").string();
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string openssl_x509(const fs::path& cert, const std::string& what) {
  auto r = t::run({"openssl", "x509", "-in", cert.string(), "-noout", what});
  REQUIRE(r.exit_code == 0);
  return r.out;
}

}  // namespace

TEST_CASE("dev-pki refuses a device ID that breaks the device_id pattern with exit 2") {
  t::temp_dir dir;
  t::dev_pki pki(dir / "pki");
  struct row {
    std::string id;
    int exit_code;
  };
  const std::vector<row> rows = {
      {"abc", 0},
      {"A-1_b", 0},
      {"r" + std::string(63, 'x'), 0},  // 64 characters
      {"ab", 2},
      {"r" + std::string(64, 'x'), 2},  // 65 characters
      {"-abc", 2},
      {"_abc", 2},
      {"a/b/c", 2},
      {"abc+", 2},
      {"abc#", 2},
      {"a b c", 2},
      {"abc.d", 2},
      {"", 2},
      // Cloud identities: a device cert with such a CN would get the bridge's ACL.
      {"aterm-cloud", 2},
      {"aterm-cloud-b", 2},
      {"aterm-cloud-bench", 2},
      {"aterm-cloudx", 2},
      {"Aterm-Cloud-1", 2},
      {"aterm-clou", 0},
      {"my-aterm-cloud", 0},
  };
  for (const auto& r : rows) {
    CAPTURE(r.id);
    auto res = t::run({dev_pki(), "device", pki.dir().string(), r.id});
    CHECK(res.exit_code == r.exit_code);
    CHECK(fs::exists(pki.dir() / "devices" / (r.id + ".pem")) == (r.exit_code == 0));
    if (r.exit_code == 2) CHECK_FALSE(res.err.empty());
  }
}

TEST_CASE("dev-pki usage errors exit 2") {
  t::temp_dir dir;
  const std::string d = (dir / "pki").string();
  const std::vector<std::vector<std::string>> rows = {
      {dev_pki()},
      {dev_pki(), "init"},
      {dev_pki(), "init", d, "extra"},
      {dev_pki(), "device", d},
      {dev_pki(), "revoke", d},
      {dev_pki(), "cloud", d},
      {dev_pki(), "cloud", d, "aterm-cloud-b", "extra"},
      {dev_pki(), "mint", d, "abc"},
  };
  for (const auto& argv : rows) {
    CAPTURE(argv.size());
    CHECK(t::run(argv).exit_code == 2);
  }
}

TEST_CASE("dev-pki private keys are mode 0600 and certificates carry the contract's identities") {
  t::temp_dir dir;
  t::dev_pki pki(dir / "pki");
  auto [cert, key] = pki.device("dev-0001");
  for (const auto& k : {pki.ca_key(), pki.server_key(), pki.cloud_key(), key}) {
    CAPTURE(k);
    CHECK((fs::status(k).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));
    CHECK(slurp(k).find("PRIVATE KEY") != std::string::npos);
  }
  CHECK(openssl_x509(pki.cloud_cert(), "-subject").find("CN = aterm-cloud") != std::string::npos);
  CHECK(openssl_x509(cert, "-subject").find("CN = dev-0001") != std::string::npos);
  const auto server = openssl_x509(pki.server_cert(), "-text");
  CHECK(server.find("DNS:localhost") != std::string::npos);
  CHECK(server.find("IP Address:127.0.0.1") != std::string::npos);
  CHECK(server.find("IP Address:0:0:0:0:0:0:0:1") != std::string::npos);
  CHECK(server.find("TLS Web Server Authentication") != std::string::npos);
  for (const auto& c : {pki.cloud_cert(), cert}) {
    const auto text = openssl_x509(c, "-text");
    CHECK(text.find("TLS Web Client Authentication") != std::string::npos);
    CHECK(text.find("NIST CURVE: P-256") != std::string::npos);
    auto verify = t::run({"openssl", "verify", "-CAfile", pki.ca().string(), "-crl_check",
                          "-CRLfile", (pki.dir() / "crl.pem").string(), c.string()});
    CHECK(verify.exit_code == 0);
  }
}

TEST_CASE(
    "dev-pki is idempotent: init keeps the CA and the certificates and device keeps its cert") {
  t::temp_dir dir;
  t::dev_pki pki(dir / "pki");
  auto [cert, key] = pki.device("dev-0002");
  const auto ca = slurp(pki.ca());
  const auto server = slurp(pki.server_cert());
  const auto device = slurp(cert);
  t::dev_pki again(dir / "pki");
  again.device("dev-0002");
  CHECK(slurp(pki.ca()) == ca);
  CHECK(slurp(pki.server_cert()) == server);
  CHECK(slurp(cert) == device);
}

TEST_CASE(
    "dev-pki revoke adds the device to crl.pem idempotently and a new device cert replaces it") {
  t::temp_dir dir;
  t::dev_pki pki(dir / "pki");
  const fs::path cert = pki.device("dev-0003").first;
  pki.revoke("dev-0003");
  pki.revoke("dev-0003");
  auto verify = [&] {
    return t::run({"openssl", "verify", "-CAfile", pki.ca().string(), "-crl_check", "-CRLfile",
                   (pki.dir() / "crl.pem").string(), cert.string()});
  };
  auto revoked = verify();
  CHECK(revoked.exit_code != 0);
  CHECK((revoked.out + revoked.err).find("revoked") != std::string::npos);
  CHECK(t::run({dev_pki(), "revoke", pki.dir().string(), "dev-none"}).exit_code == 1);
  pki.device("dev-0003");
  CHECK(verify().exit_code == 0);
}

TEST_CASE("dev-pki cloud issues a cloud instance identity and refuses names outside its pattern") {
  t::temp_dir dir;
  t::dev_pki pki(dir / "pki");
  struct row {
    std::string name;
    int exit_code;
  };
  const std::vector<row> rows = {
      {"aterm-cloud-b", 0},
      {"aterm-cloud-0", 0},
      {"aterm-cloud-bench", 0},
      {"aterm-cloud-a-1", 0},
      {"aterm-cloud-" + std::string(32, 'x'), 0},
      {"aterm-cloud-" + std::string(33, 'x'), 2},
      {"aterm-cloud", 2},  // the default identity is made by init (cloud.pem)
      {"aterm-cloud-", 2},
      {"aterm-cloud--b", 2},
      {"aterm-cloud-B", 2},
      {"aterm-cloud-b_1", 2},
      {"aterm-cloud-b/c", 2},
      {"aterm-cloud-b+", 2},
      {"aterm-cloudb", 2},
      {"dev-0001", 2},
      {"", 2},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    auto res = t::run({dev_pki(), "cloud", pki.dir().string(), r.name});
    CHECK(res.exit_code == r.exit_code);
    const fs::path cert = pki.dir() / "clouds" / (r.name + ".pem");
    const fs::path key = pki.dir() / "clouds" / (r.name + ".key");
    CHECK(fs::exists(cert) == (r.exit_code == 0));
    if (r.exit_code != 0) {
      CHECK_FALSE(res.err.empty());
      continue;
    }
    CHECK((fs::status(key).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));
    CHECK(openssl_x509(cert, "-subject").find("CN = " + r.name + "\n") != std::string::npos);
    const auto text = openssl_x509(cert, "-text");
    CHECK(text.find("TLS Web Client Authentication") != std::string::npos);
    CHECK(text.find("NIST CURVE: P-256") != std::string::npos);
    CHECK(t::run({"openssl", "verify", "-CAfile", pki.ca().string(), cert.string()}).exit_code ==
          0);
  }
  // Idempotent like the other verbs, and the helper names the same files.
  const auto before = slurp(pki.dir() / "clouds" / "aterm-cloud-b.pem");
  auto [cert, key] = pki.cloud("aterm-cloud-b");
  CHECK(slurp(cert) == before);
  CHECK(key == pki.dir() / "clouds" / "aterm-cloud-b.key");
}
