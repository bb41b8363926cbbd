// The device claim code (common/claim_code.h) against its fixed test vector: the same vector is
// checked against scripts/dev-pki's openssl pipeline in tests/integration/pki.
#include <doctest/doctest.h>

#include "aterm/common/claim_code.h"

namespace claim = aterm::common::claim;

namespace {

std::vector<std::uint8_t> vector_key() {
  std::vector<std::uint8_t> key(claim::k_key_bytes);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  return key;
}

}  // namespace

TEST_CASE("claim code test vector: key 00..1f, device acme-router-1") {
  const auto key = vector_key();
  CHECK(claim::derive(key, "acme-router-1") == "7LVP8XSG2UTPG795");
  CHECK(claim::format(claim::derive(key, "acme-router-1")) == "7LVP-8XSG-2UTP-G795");
}

TEST_CASE("claim codes differ per device and per key") {
  auto key = vector_key();
  const auto a = claim::derive(key, "acme-router-1");
  CHECK(claim::derive(key, "acme-router-2") != a);
  key[0] ^= 1;
  CHECK(claim::derive(key, "acme-router-1") != a);
  for (char c : a) CHECK(claim::k_alphabet.find(c) != std::string_view::npos);
}

TEST_CASE("verify accepts what a person types and refuses everything else") {
  const auto key = vector_key();
  struct row {
    const char* typed;
    bool ok;
  };
  const row table[] = {
      {"7LVP-8XSG-2UTP-G795", true},    {"7lvp8xsg2utpg795", true},
      {"7LVP 8XSG 2UTP G795", true},    {"7LVP-8XSG-2UTP-G796", false},
      {"7LVP-8XSG-2UTP-G79", false},    {"7LVP-8XSG-2UTP-G7955", false},
      {"0LVP-8XSG-2UTP-G795", false},   {"", false},
      {"7LVP-8XSG-2UTP-G795\n", false},
  };
  for (const auto& r : table) {
    CAPTURE(r.typed);
    CHECK(claim::verify(key, "acme-router-1", r.typed) == r.ok);
  }
  CHECK_FALSE(claim::verify(key, "acme-router-2", "7LVP-8XSG-2UTP-G795"));
}

TEST_CASE("normalise and parse_key") {
  CHECK(*claim::normalise("abcd-efgh-jkmn-pq23") == "ABCDEFGHJKMNPQ23");
  CHECK(claim::normalise("ABCD-EFGH-JKLM-NPQI").error().code() == "bad_claim_code");
  const std::string hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  auto key = claim::parse_key(hex + "\n");
  REQUIRE(key.ok());
  CHECK(*key == vector_key());
  CHECK(claim::parse_key(hex.substr(2)).error().code() == "bad_claim_key");
  CHECK(claim::parse_key("zz" + hex.substr(2)).error().code() == "bad_claim_key");
  CHECK(claim::load_key_file("/nonexistent/claim.key").error().code() == "io_error");
}
