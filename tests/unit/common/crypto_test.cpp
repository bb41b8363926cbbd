#include <doctest/doctest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "aterm/common/crypto.h"

using namespace aterm::common;
using namespace aterm::common::crypto;

namespace {

bytes repeat(std::uint8_t b, std::size_t n) {
  return bytes(n, b);
}
bytes text(std::string_view s) {
  return bytes(s.begin(), s.end());
}

}  // namespace

TEST_CASE("SHA-256 FIPS 180-2 vectors") {
  struct row {
    std::string in;
    const char* hex;
  };
  const row rows[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {std::string(1000000, 'a'),
       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.in.size());
    CHECK(to_hex(sha256(r.in)) == r.hex);
    CHECK(to_hex(sha256(std::span<const std::uint8_t>(text(r.in)))) == r.hex);
  }
}

TEST_CASE("HMAC-SHA256 RFC 4231 test cases 1 to 4 - 6 and 7") {
  bytes key4;
  for (std::uint8_t i = 1; i <= 25; ++i) key4.push_back(i);
  struct row {
    int tc;
    bytes key;
    bytes data;
    const char* hex;
  };
  const row rows[] = {
      {1, repeat(0x0b, 20), text("Hi There"),
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {2, text("Jefe"), text("what do ya want for nothing?"),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {3, repeat(0xaa, 20), repeat(0xdd, 50),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {4, key4, repeat(0xcd, 50),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {6, repeat(0xaa, 131), text("Test Using Larger Than Block-Size Key - Hash Key First"),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {7, repeat(0xaa, 131),
       text("This is a test using a larger than block-size key and a larger than block-size "
            "data. The key needs to be hashed before being used by the HMAC algorithm."),
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.tc);
    CHECK(to_hex(hmac_sha256(r.key, r.data)) == r.hex);
  }
  CHECK(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")) == rows[1].hex);
}

TEST_CASE("PBKDF2-HMAC-SHA256 published vectors") {
  struct row {
    std::string password;
    std::string salt;
    std::uint32_t iterations;
    std::size_t length;
    const char* hex;
  };
  const row rows[] = {
      {"password", "salt", 1, 32,
       "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"},
      {"password", "salt", 2, 32,
       "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"},
      {"password", "salt", 4096, 32,
       "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"},
      {"passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 40,
       "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.iterations);
    CHECK(to_hex(pbkdf2_hmac_sha256(r.password, text(r.salt), r.iterations, r.length)) == r.hex);
  }
}

TEST_CASE("constant_time_equal") {
  CHECK(constant_time_equal("abc", "abc"));
  CHECK(constant_time_equal("", ""));
  CHECK_FALSE(constant_time_equal("abc", "abd"));
  CHECK_FALSE(constant_time_equal("abc", "ab"));
  CHECK_FALSE(constant_time_equal("", "a"));
  const bytes a{1, 2, 3};
  const bytes b{1, 2, 4};
  CHECK(constant_time_equal(a, a));
  CHECK_FALSE(constant_time_equal(a, b));
}

TEST_CASE("hex round trip and bad input") {
  const bytes all = [] {
    bytes v;
    for (int i = 0; i < 256; ++i) v.push_back(static_cast<std::uint8_t>(i));
    return v;
  }();
  const std::string hex = to_hex(all);
  CHECK(hex.substr(0, 8) == "00010203");
  CHECK(hex.substr(hex.size() - 4) == "feff");
  auto back = from_hex(hex);
  REQUIRE(back.ok());
  CHECK(*back == all);
  auto upper = from_hex("DEADbeef");
  REQUIRE(upper.ok());
  CHECK(*upper == bytes{0xde, 0xad, 0xbe, 0xef});
  CHECK(from_hex("").ok());
  for (const char* bad : {"abc", "0g", "zz", " 00", "00 ", "0x00", "-1"}) {
    CAPTURE(bad);
    auto r = from_hex(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == "bad_hex");
  }
}

TEST_CASE("base64url round trip (RFC 4648 vectors unpadded) and bad input") {
  struct row {
    std::string in;
    std::string out;
  };
  const row rows[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff\xbf", "-_-_"}};
  for (const auto& r : rows) {
    CAPTURE(r.in);
    CHECK(base64url_encode(text(r.in)) == r.out);
    auto back = base64url_decode(r.out);
    REQUIRE(back.ok());
    CHECK(*back == text(r.in));
  }
  for (std::size_t n = 0; n < 70; ++n) {
    const bytes data = random_bytes(n);
    auto back = base64url_decode(base64url_encode(data));
    REQUIRE(back.ok());
    CHECK(*back == data);
  }
  for (const char* bad : {"Zg==", "Z", "Zm9v+", "Zm9v/", "Zm 9v", "Zh", "Zm9", "Zm9vY"}) {
    CAPTURE(bad);
    CHECK_FALSE(base64url_decode(bad).ok());
  }
}

TEST_CASE("random values - tokens and passwords") {
  CHECK(random_bytes(0).empty());
  CHECK(random_bytes(5000).size() == 5000);
  CHECK(random_bytes(32) != random_bytes(32));

  std::vector<int> counts(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const auto v = random_below(7);
    REQUIRE(v < 7);
    ++counts[v];
  }
  for (int c : counts) CHECK(c > 700);  // expected 1000 each; 700 is > 10 sigma away
  CHECK(random_below(1) == 0);

  const std::string token = generate_token();
  CHECK(token.size() == 43);
  CHECK(base64url_decode(token).ok());
  CHECK(generate_token(16).size() == 22);
  CHECK(generate_token() != generate_token());

  for (char c : std::string_view("0O1lIo")) {
    CAPTURE(c);
    CHECK(k_password_alphabet.find(c) == std::string_view::npos);
  }
  std::set<char> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string pw = generate_password();
    REQUIRE(pw.size() == 12);
    for (char c : pw) {
      REQUIRE(k_password_alphabet.find(c) != std::string_view::npos);
      seen.insert(c);
    }
  }
  CHECK(seen.size() == k_password_alphabet.size());
  const std::string login = generate_from("ABC", 8);
  CHECK(login.size() == 8);
  CHECK(login.find_first_not_of("ABC") == std::string::npos);
}

TEST_CASE("each thread has its own generator") {
  std::vector<std::string> tokens(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    threads.emplace_back([&tokens, i] { tokens[i] = generate_token(); });
  }
  for (auto& t : threads) t.join();
  const std::set<std::string> distinct(tokens.begin(), tokens.end());
  CHECK(distinct.size() == tokens.size());
}
