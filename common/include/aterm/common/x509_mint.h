// Mints device certificates in memory with mbedTLS, for the fleet simulator
// (`simulate.ca_cert` + `simulate.ca_key`). Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "aterm/common/status.h"

namespace aterm::common::crypto {

struct minted_identity {
  std::string cert_pem;  // X.509 v3, CN = device_id, signed by the CA, clientAuth
  std::string key_pem;   // ECDSA P-256 private key (a secret: never log it)
};

// Errors: "bad_value" when device_id breaks the device_id pattern (the simulator never issues
// such a certificate), "bad_ca" when the CA certificate or key cannot be parsed or do not match.
result<minted_identity> mint_device_certificate(std::string_view ca_cert_pem,
                                                std::string_view ca_key_pem,
                                                std::string_view device_id, int valid_days = 825);

}  // namespace aterm::common::crypto
