#include <doctest/doctest.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "aterm/common/x509_mint.h"

using namespace aterm::common;
using namespace aterm::common::crypto;
namespace fs = std::filesystem;

namespace {

struct scratch_dir {
  scratch_dir() {
    std::string tmpl = (fs::temp_directory_path() / "aterm-x509-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

int shell(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

// An ECDSA P-256 CA made by the openssl CLI, as scripts/dev-pki does.
void make_ca(const fs::path& dir, const std::string& name) {
  const std::string key = (dir / (name + ".key")).string();
  const std::string pem = (dir / (name + ".pem")).string();
  REQUIRE(shell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                "-keyout " +
                key + " -out " + pem + " -days 30 -subj '/CN=Aterm Test CA " + name +
                "/O=Aterm' -addext basicConstraints=critical,CA:TRUE "
                "-addext keyUsage=critical,keyCertSign,cRLSign") == 0);
}

}  // namespace

TEST_CASE("minted device certificate chains to an openssl-made CA") {
  scratch_dir dir;
  make_ca(dir.path, "ca");
  const std::string ca_pem = slurp(dir.path / "ca.pem");
  const std::string ca_key = slurp(dir.path / "ca.key");

  auto id = mint_device_certificate(ca_pem, ca_key, "router-0001", 30);
  REQUIRE_MESSAGE(id.ok(), id.error().to_string());
  CHECK(id->cert_pem.find("-----BEGIN CERTIFICATE-----") == 0);
  CHECK(id->key_pem.find("PRIVATE KEY-----") != std::string::npos);

  mbedtls_x509_crt ca, crt;
  mbedtls_x509_crt_init(&ca);
  mbedtls_x509_crt_init(&crt);
  REQUIRE(mbedtls_x509_crt_parse(&ca, reinterpret_cast<const unsigned char*>(ca_pem.c_str()),
                                 ca_pem.size() + 1) == 0);
  REQUIRE(mbedtls_x509_crt_parse(&crt, reinterpret_cast<const unsigned char*>(id->cert_pem.c_str()),
                                 id->cert_pem.size() + 1) == 0);
  std::uint32_t flags = 0;
  CHECK(mbedtls_x509_crt_verify(&crt, &ca, nullptr, "router-0001", &flags, nullptr, nullptr) == 0);
  CHECK(flags == 0);
  CHECK(crt.version == 3);
  CHECK(crt.ca_istrue == 0);
  CHECK(mbedtls_x509_crt_check_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) == 0);
  CHECK(mbedtls_x509_crt_check_key_usage(&crt, MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0);
  CHECK(mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_CLIENT_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) == 0);
  CHECK(mbedtls_x509_crt_check_extended_key_usage(&crt, MBEDTLS_OID_SERVER_AUTH,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) != 0);
  CHECK(mbedtls_pk_get_type(&crt.pk) == MBEDTLS_PK_ECKEY);
  CHECK(mbedtls_pk_get_bitlen(&crt.pk) == 256);

  mbedtls_pk_context key;
  mbedtls_pk_init(&key);
  REQUIRE(mbedtls_pk_parse_key(&key, reinterpret_cast<const unsigned char*>(id->key_pem.c_str()),
                               id->key_pem.size() + 1, nullptr, 0) == 0);
  CHECK(mbedtls_pk_check_pair(&crt.pk, &key) == 0);
  mbedtls_pk_free(&key);
  mbedtls_x509_crt_free(&crt);
  mbedtls_x509_crt_free(&ca);

  // The broker verifies with OpenSSL, so check there too: chain, client purpose and the CN.
  spit(dir.path / "dev.pem", id->cert_pem);
  CHECK(shell("openssl verify -CAfile " + (dir.path / "ca.pem").string() + " -purpose sslclient " +
              (dir.path / "dev.pem").string()) == 0);
  CHECK(shell("openssl x509 -in " + (dir.path / "dev.pem").string() +
              " -noout -subject -nameopt RFC2253 | grep -qx 'subject=CN=router-0001'") == 0);

  auto second = mint_device_certificate(ca_pem, ca_key, "router-0001", 30);
  REQUIRE(second.ok());
  CHECK(second->key_pem != id->key_pem);
  CHECK(second->cert_pem != id->cert_pem);
}

TEST_CASE("mint_device_certificate refuses bad ids and bad CAs") {
  scratch_dir dir;
  make_ca(dir.path, "ca");
  make_ca(dir.path, "other");
  const std::string ca_pem = slurp(dir.path / "ca.pem");
  const std::string ca_key = slurp(dir.path / "ca.key");
  const std::string other_key = slurp(dir.path / "other.key");
  struct row {
    std::string cert, key, id, code;
  };
  const row rows[] = {
      {ca_pem, ca_key, "a/b", "bad_value"},
      {ca_pem, ca_key, "ab", "bad_value"},
      {ca_pem, ca_key, "dev+1", "bad_value"},
      {ca_pem, ca_key, "CN=x,O=y", "bad_value"},
      {ca_pem, ca_key, "aterm-cloud", "bad_value"},
      {ca_pem, ca_key, "aterm-cloud-b", "bad_value"},
      {ca_pem, ca_key, "Aterm-Cloud-1", "bad_value"},
      {"not a certificate", ca_key, "router-1", "bad_ca"},
      {ca_pem, "not a key", "router-1", "bad_ca"},
      {ca_pem, other_key, "router-1", "bad_ca"},
      {"", "", "router-1", "bad_ca"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.id);
    auto m = mint_device_certificate(r.cert, r.key, r.id);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().code() == r.code);
    CHECK(m.error().message().find("PRIVATE") == std::string::npos);
  }
}
