#include "aterm/cloud/security/password_policy.h"

#include <doctest/doctest.h>

#include "aterm/common/crypto.h"

namespace sec = aterm::cloud::security;
namespace crypto = aterm::common::crypto;

namespace {

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Cheap hashes for the rule tests; the production count is tested once below.
constexpr std::uint32_t k_test_iterations = 1000;

}  // namespace

TEST_CASE("pbkdf2: OpenSSL and mbedTLS agree with the published PBKDF2-HMAC-SHA256 vectors") {
  // RFC 7914 section 11 and the widely used vectors of draft-josefsson-pbkdf2-test-vectors
  // adapted to SHA-256.
  struct row {
    std::string_view password;
    std::string_view salt;
    std::uint32_t iterations;
    const char* hex;
  };
  using namespace std::string_view_literals;
  const row rows[] = {
      {"password", "salt", 1, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"},
      {"password", "salt", 2, "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"},
      {"password", "salt", 4096,
       "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"},
      {"passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096,
       "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9"},
      {"pass\0word"sv, "sa\0lt"sv, 4096, "89b69d0516f829893c696226650a8687"},
      {"passwd", "salt", 1,
       "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
       "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"},
      {"Password", "NaCl", 80000,
       "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
       "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.password);
    CAPTURE(r.iterations);
    const std::size_t length = std::string_view(r.hex).size() / 2;
    const auto fast = sec::pbkdf2_sha256_fast(r.password, as_bytes(r.salt), r.iterations, length);
    const auto mbed =
        crypto::pbkdf2_hmac_sha256(r.password, as_bytes(r.salt), r.iterations, length);
    CHECK(crypto::to_hex(fast) == r.hex);
    CHECK(crypto::to_hex(mbed) == r.hex);
  }
}

TEST_CASE("password hash: format, round trip and verification") {
  const std::string h = sec::make_password_hash("correct horse battery", k_test_iterations);
  CHECK(h.starts_with("pbkdf2-sha256$1000$"));
  auto parsed = sec::password_hash::parse(h);
  REQUIRE(parsed.ok());
  CHECK(parsed->iterations == 1000);
  CHECK(parsed->salt.size() == 16);
  CHECK(parsed->hash.size() == 32);
  CHECK(parsed->to_string() == h);
  CHECK(sec::verify_password("correct horse battery", h));
  CHECK_FALSE(sec::verify_password("correct horse batterY", h));
  CHECK_FALSE(sec::verify_password("", h));
  // Two hashes of one password differ by their salt.
  CHECK(sec::make_password_hash("correct horse battery", k_test_iterations) != h);
  // The hash the agent and mbedTLS compute is the same.
  CHECK(parsed->hash ==
        crypto::pbkdf2_hmac_sha256("correct horse battery", parsed->salt, 1000, 32));
}

TEST_CASE("password hash: the default is 600,000 iterations with a 16-byte salt") {
  const std::string h = sec::make_password_hash("a long enough password");
  auto parsed = sec::password_hash::parse(h);
  REQUIRE(parsed.ok());
  CHECK(parsed->iterations == 600000);
  CHECK(parsed->salt.size() == 16);
  CHECK(sec::verify_password("a long enough password", h));
}

TEST_CASE("password hash: malformed strings are refused and never verify") {
  const std::string salt(32, 'a');
  const std::string hash(64, 'b');
  const char* const bad[] = {
      "",
      "pbkdf2-sha256",
      "pbkdf2-sha1$1000$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa$bbbb",
      "pbkdf2-sha256$0$",
      "pbkdf2-sha256$01000$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa$"
      "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
      "pbkdf2-sha256$99999999$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa$"
      "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
      "pbkdf2-sha256$1000$zz$bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
      "pbkdf2-sha256$1000$aa$bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
      "pbkdf2-sha256$1000$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa$bbb",
      "pbkdf2-sha256$1000$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa$"
      "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb$extra",
      "pbkdf2-sha256$ 1000$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa$"
      "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
  };
  for (const char* s : bad) {
    CAPTURE(s);
    auto p = sec::password_hash::parse(s);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().code() == "bad_password_hash");
    CHECK_FALSE(sec::verify_password("anything", s));
  }
  CHECK(sec::password_hash::parse("pbkdf2-sha256$1000$" + salt + "$" + hash).ok());
}

TEST_CASE("password hash: the dummy hash is valid, stable and matches nothing") {
  const std::string& d = sec::dummy_password_hash(k_test_iterations);
  CHECK(sec::password_hash::parse(d).ok());
  CHECK(&sec::dummy_password_hash(k_test_iterations) == &d);
  CHECK_FALSE(sec::verify_password("", d));
  CHECK_FALSE(sec::verify_password("password", d));
}

TEST_CASE("password policy: the rules for a new password") {
  const sec::password_settings settings{12, 3, k_test_iterations, 16};
  const std::vector<std::string> history = {
      sec::make_password_hash("current password 1", k_test_iterations),
      sec::make_password_hash("previous password 2", k_test_iterations),
      sec::make_password_hash("previous password 3", k_test_iterations),
      sec::make_password_hash("fourth back password", k_test_iterations),
  };
  struct row {
    const char* name;
    std::string password;
    const char* login_id;
    const char* error;  // nullptr: accepted
  };
  const row rows[] = {
      {"good", "violet-harbour-42", "alice", nullptr},
      {"exactly 12", "abcdefghijk1", "alice", nullptr},
      {"11 characters", "abcdefghij1", "alice", "password_too_short"},
      {"12 code points of Japanese",
       "\xe3\x81\x82\xe3\x81\x84\xe3\x81\x86\xe3\x81\x88\xe3\x81\x8a"
       "\xe3\x81\x8b\xe3\x81\x8d\xe3\x81\x8f\xe3\x81\x91\xe3\x81\x93"
       "\xe3\x81\x95\xe3\x81\x97",
       "alice", nullptr},
      {"11 code points, 33 bytes",
       "\xe3\x81\x82\xe3\x81\x84\xe3\x81\x86\xe3\x81\x88\xe3\x81\x8a"
       "\xe3\x81\x8b\xe3\x81\x8d\xe3\x81\x8f\xe3\x81\x91\xe3\x81\x93"
       "\xe3\x81\x95",
       "alice", "password_too_short"},
      {"equals login id", "operator-account", "operator-account", "password_contains_login"},
      {"equals login id, other case", "Operator-Account", "operator-account",
       "password_contains_login"},
      {"contains login id", "my-ALICE-password", "alice", "password_contains_login"},
      {"short login id is not searched", "xy-is-a-password", "xy", nullptr},
      {"current password", "current password 1", "alice", "password_reused"},
      {"third password back", "previous password 3", "alice", "password_reused"},
      {"fourth back is allowed", "fourth back password", "alice", nullptr},
      {"control character", "good password\n1", "alice", "password_invalid"},
      {"invalid UTF-8", "good password \xff\xfe", "alice", "password_invalid"},
      {"too long", std::string(1025, 'x'), "alice", "password_too_long"},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    const auto s = sec::check_new_password(r.password, r.login_id, history, settings);
    if (r.error == nullptr) {
      CHECK_MESSAGE(s.ok(), s.to_string());
    } else {
      CHECK(s.code() == r.error);
      // Errors never repeat the password.
      CHECK(s.message().find(r.password) == std::string::npos);
    }
  }
}

TEST_CASE("password policy: an account's current hash and history count as its recent passwords") {
  const sec::password_settings settings{12, 3, k_test_iterations, 16};
  aterm::cloud::account a;
  a.login_id = "bob";
  a.password_hash = sec::make_password_hash("current password 1", k_test_iterations);
  a.password_history = {sec::make_password_hash("previous password 2", k_test_iterations),
                        sec::make_password_hash("previous password 3", k_test_iterations),
                        sec::make_password_hash("previous password 4", k_test_iterations)};
  CHECK(sec::check_new_password("current password 1", a, settings).code() == "password_reused");
  CHECK(sec::check_new_password("previous password 3", a, settings).code() == "password_reused");
  CHECK(sec::check_new_password("previous password 4", a, settings).ok());
  CHECK(sec::check_new_password("bobs-new-password", a, settings).code() ==
        "password_contains_login");
}
