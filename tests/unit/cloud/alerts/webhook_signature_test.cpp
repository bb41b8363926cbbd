#include <doctest/doctest.h>

#include "aterm/cloud/alerts/webhook.h"

namespace {

using namespace aterm::cloud;
using namespace aterm::cloud::alerts;

}  // namespace

TEST_CASE("signature_is_hmac_sha256_hex_of_the_body") {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  CHECK(signature_of("Jefe", "what do ya want for nothing?") ==
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("webhook_secret_needs_both_the_key_and_the_salt") {
  const secret_key k1{"k1", std::string(32, 'a')};
  const secret_key k2{"k2", std::string(32, 'b')};
  auto s = webhook_secret(k1, "00112233");
  CHECK(s.size() == 64);
  CHECK(s == webhook_secret(k1, "00112233"));
  CHECK(s != webhook_secret(k2, "00112233"));
  CHECK(s != webhook_secret(k1, "00112234"));
  auto salt = new_webhook_salt();
  CHECK(salt.size() == 32);
  CHECK(salt != new_webhook_salt());
}

TEST_CASE("webhook_urls_must_be_https_without_user_info") {
  struct row {
    const char* url;
    bool ok;
  };
  const row rows[] = {
      {"https://hooks.example.com/aterm", true},
      {"https://127.0.0.1:8443/x?y=1", true},
      {"http://hooks.example.com/aterm", false},
      {"https://user:pw@hooks.example.com/", false},
      {"https:///path", false},
      {"https://hooks.example.com/a b", false},
      {"https://hooks.example.com/\r\nX: y", false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.url);
    auto s = check_webhook_url(r.url);
    CHECK(s.ok() == r.ok);
    if (!r.ok) CHECK(s.code() == k_bad_webhook_url);
  }
}
