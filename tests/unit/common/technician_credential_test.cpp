// The offline technician credential (common/technician_credential.h): the login id round trip,
// a fixed test vector another router implementation can check itself against, and that every
// field of the id and the device are bound into the password.
#include <doctest/doctest.h>

#include <vector>

#include "aterm/common/technician_credential.h"

namespace tc = aterm::common::technician_credential;

namespace {

std::vector<std::uint8_t> vector_secret() {
  std::vector<std::uint8_t> s(tc::k_secret_bytes);
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(i);
  return s;
}

}  // namespace

TEST_CASE("technician credential: the login id carries issue minute, ttl class and counter") {
  tc::fields f{123456, 4, 2047};
  const auto id = tc::encode_login_id(f);
  CHECK(id.size() == 10);
  CHECK(id.starts_with("T-"));
  auto back = tc::decode_login_id(id);
  REQUIRE(back);
  CHECK(back->issue_minute == 123456);
  CHECK(back->ttl_class == 4);
  CHECK(back->counter == 2047);
  CHECK(back->ttl_s() == 3600);
  CHECK(back->issued_at_s() == tc::k_epoch_s + 123456 * 60);
  tc::fields top{tc::k_max_issue_minute, 7, tc::k_max_counter};
  CHECK(tc::decode_login_id(tc::encode_login_id(top))->issue_minute == tc::k_max_issue_minute);
  CHECK_FALSE(tc::decode_login_id("T-ABCDEFG"));
  CHECK_FALSE(tc::decode_login_id("T-ABCDEFG1"));  // 1 is not in the alphabet
  CHECK_FALSE(tc::decode_login_id("X-ABCDEFGH"));
}

TEST_CASE("technician credential: ttl classes round down") {
  CHECK(tc::ttl_class_for(60) == 4);
  CHECK(tc::ttl_class_for(59) == 3);
  CHECK(tc::ttl_class_for(0) == 0);
  CHECK(tc::ttl_class_for(100000) == 7);
}

TEST_CASE("technician credential test vector: secret 00..1f, device acme-router-1") {
  const auto secret = vector_secret();
  const auto id = tc::encode_login_id({0, 4, 1});
  CHECK(id == "T-AAAAAJAB");
  const auto pw = tc::password(secret, "acme-router-1", id);
  CHECK(pw.size() == 12);
  CHECK(pw == tc::password(secret, "acme-router-1", id));
  CHECK(pw == "NxVpMz3EbZrE");
  CHECK(tc::verify(secret, "acme-router-1", id, pw));
}

TEST_CASE("technician credential: another secret, device, issue time or ttl class fails") {
  const auto secret = vector_secret();
  const tc::fields f{5000, 4, 7};
  const auto id = tc::encode_login_id(f);
  const auto pw = tc::password(secret, "acme-router-1", id);
  auto other = secret;
  other[0] ^= 1;
  CHECK_FALSE(tc::verify(other, "acme-router-1", id, pw));
  CHECK_FALSE(tc::verify(secret, "acme-router-2", id, pw));
  CHECK_FALSE(tc::verify(secret, "acme-router-1", tc::encode_login_id({5001, 4, 7}), pw));
  CHECK_FALSE(tc::verify(secret, "acme-router-1", tc::encode_login_id({5000, 5, 7}), pw));
  CHECK_FALSE(tc::verify(secret, "acme-router-1", id, pw.substr(0, 11)));
  const auto s1 = tc::device_secret(secret, "acme-router-1");
  const auto s2 = tc::device_secret(secret, "acme-router-2");
  CHECK(s1 != s2);
}
