#include "aterm/common/x509_mint.h"

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>

#include "aterm/common/clock.h"
#include "aterm/common/crypto.h"
#include "aterm/common/protocol.h"
#include "drbg.h"

namespace aterm::common::crypto {

namespace {

// RAII holders so every exit path frees the mbedTLS contexts.
struct crt_holder {
  crt_holder() { mbedtls_x509_crt_init(&v); }
  ~crt_holder() { mbedtls_x509_crt_free(&v); }
  mbedtls_x509_crt v;
};
struct pk_holder {
  pk_holder() { mbedtls_pk_init(&v); }
  ~pk_holder() { mbedtls_pk_free(&v); }
  mbedtls_pk_context v;
};
struct writer_holder {
  writer_holder() { mbedtls_x509write_crt_init(&v); }
  ~writer_holder() { mbedtls_x509write_crt_free(&v); }
  mbedtls_x509write_cert v;
};
struct mpi_holder {
  mpi_holder() { mbedtls_mpi_init(&v); }
  ~mpi_holder() { mbedtls_mpi_free(&v); }
  mbedtls_mpi v;
};

// "YYYYMMDDhhmmss" in UTC, as mbedtls_x509write_crt_set_validity wants it.
std::string x509_time(wall_time t) {
  std::string out;
  for (char c : format_utc(t)) {
    if (c >= '0' && c <= '9') out += c;
  }
  return out;
}

status failed(const char* what, int rc) {
  return status::error("mint_failed", std::string(what) + " failed (mbedTLS -0x" +
                                          to_hex(std::array<std::uint8_t, 2>{
                                              static_cast<std::uint8_t>((-rc >> 8) & 0xFF),
                                              static_cast<std::uint8_t>(-rc & 0xFF)}) +
                                          ")");
}

// DER of ExtKeyUsageSyntax ::= SEQUENCE { id-kp-clientAuth }; mbedTLS 2.28 has no setter for it.
constexpr unsigned char k_eku_client_auth[] = {0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06,
                                               0x01, 0x05, 0x05, 0x07, 0x03, 0x02};

}  // namespace

result<minted_identity> mint_device_certificate(std::string_view ca_cert_pem,
                                                std::string_view ca_key_pem,
                                                std::string_view device_id, int valid_days) {
  if (!protocol::valid_device_id(device_id)) {
    return status::error("bad_value", "device id does not match the device_id pattern");
  }
  // The broker grants the cloud identities (aterm-cloud, aterm-cloud-NAME of scripts/dev-pki
  // cloud) read/write on aterm/v1/#; no device may carry such a CN, in any case.
  constexpr std::string_view k_cloud_prefix = "aterm-cloud";
  if (device_id.size() >= k_cloud_prefix.size() &&
      std::equal(k_cloud_prefix.begin(), k_cloud_prefix.end(), device_id.begin(),
                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
    return status::error("bad_value", "ids starting with aterm-cloud are cloud identities");
  }
  if (valid_days < 1) return status::error("bad_value", "valid_days must be at least 1");

  crt_holder ca;
  const std::string ca_cert_text(ca_cert_pem);  // PEM parsing needs the terminating NUL.
  if (mbedtls_x509_crt_parse(&ca.v, reinterpret_cast<const unsigned char*>(ca_cert_text.c_str()),
                             ca_cert_text.size() + 1) != 0) {
    return status::error("bad_ca", "cannot parse the CA certificate");
  }
  pk_holder ca_key;
  const std::string ca_key_text(ca_key_pem);
  if (mbedtls_pk_parse_key(&ca_key.v, reinterpret_cast<const unsigned char*>(ca_key_text.c_str()),
                           ca_key_text.size() + 1, nullptr, 0) != 0) {
    return status::error("bad_ca", "cannot parse the CA private key");
  }
  if (mbedtls_pk_check_pair(&ca.v.pk, &ca_key.v) != 0) {
    return status::error("bad_ca", "the CA key does not match the CA certificate");
  }
  char issuer[1024];
  if (mbedtls_x509_dn_gets(issuer, sizeof issuer, &ca.v.subject) < 0) {
    return status::error("bad_ca", "cannot read the CA subject");
  }

  pk_holder key;
  if (int rc = mbedtls_pk_setup(&key.v, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)); rc != 0) {
    return failed("pk_setup", rc);
  }
  if (int rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key.v),
                                   detail::drbg_random, nullptr);
      rc != 0) {
    return failed("ecp_gen_key", rc);
  }

  mpi_holder serial;
  bytes serial_bytes = random_bytes(16);
  serial_bytes[0] &= 0x7F;  // positive
  serial_bytes[0] |= 0x40;  // and of full length
  if (int rc = mbedtls_mpi_read_binary(&serial.v, serial_bytes.data(), serial_bytes.size());
      rc != 0) {
    return failed("mpi_read_binary", rc);
  }

  const wall_time now = std::chrono::system_clock::now();
  const std::string not_before = x509_time(now - std::chrono::hours(1));
  const std::string not_after = x509_time(now + std::chrono::hours(24) * valid_days);
  const std::string subject = "CN=" + std::string(device_id);

  writer_holder crt;
  mbedtls_x509write_crt_set_version(&crt.v, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&crt.v, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&crt.v, &key.v);
  mbedtls_x509write_crt_set_issuer_key(&crt.v, &ca_key.v);
  int rc = mbedtls_x509write_crt_set_subject_name(&crt.v, subject.c_str());
  if (rc != 0) return failed("set_subject_name", rc);
  if ((rc = mbedtls_x509write_crt_set_issuer_name(&crt.v, issuer)) != 0) {
    return status::error("bad_ca", "cannot use the CA subject as issuer name");
  }
  if ((rc = mbedtls_x509write_crt_set_serial(&crt.v, &serial.v)) != 0) {
    return failed("set_serial", rc);
  }
  if ((rc = mbedtls_x509write_crt_set_validity(&crt.v, not_before.c_str(), not_after.c_str())) !=
      0) {
    return failed("set_validity", rc);
  }
  if ((rc = mbedtls_x509write_crt_set_basic_constraints(&crt.v, 0, -1)) != 0) {
    return failed("set_basic_constraints", rc);
  }
  if ((rc = mbedtls_x509write_crt_set_key_usage(&crt.v, MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) != 0) {
    return failed("set_key_usage", rc);
  }
  if ((rc = mbedtls_x509write_crt_set_extension(
           &crt.v, MBEDTLS_OID_EXTENDED_KEY_USAGE, MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE),
           0, k_eku_client_auth, sizeof k_eku_client_auth)) != 0) {
    return failed("set_extension(extKeyUsage)", rc);
  }
  if ((rc = mbedtls_x509write_crt_set_subject_key_identifier(&crt.v)) != 0) {
    return failed("set_subject_key_identifier", rc);
  }
  if ((rc = mbedtls_x509write_crt_set_authority_key_identifier(&crt.v)) != 0) {
    return failed("set_authority_key_identifier", rc);
  }

  minted_identity out;
  unsigned char buf[4096];
  if ((rc = mbedtls_x509write_crt_pem(&crt.v, buf, sizeof buf, detail::drbg_random, nullptr)) !=
      0) {
    return failed("x509write_crt_pem", rc);
  }
  out.cert_pem = reinterpret_cast<const char*>(buf);
  if ((rc = mbedtls_pk_write_key_pem(&key.v, buf, sizeof buf)) != 0) {
    return failed("pk_write_key_pem", rc);
  }
  out.key_pem = reinterpret_cast<const char*>(buf);
  mbedtls_platform_zeroize(buf, sizeof buf);
  return out;
}

}  // namespace aterm::common::crypto
