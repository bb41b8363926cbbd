#include "aterm/cloud/security/ip_allowlist.h"

#include <doctest/doctest.h>

namespace sec = aterm::cloud::security;

namespace {

sec::ip_address addr(const char* text) {
  auto a = sec::ip_address::parse(text);
  REQUIRE_MESSAGE(a, text);
  return *a;
}

sec::ip_allowlist list(const std::vector<std::string>& entries) {
  auto l = sec::ip_allowlist::parse(entries);
  REQUIRE_MESSAGE(l.ok(), (l.ok() ? std::string() : l.error().to_string()));
  return *l;
}

}  // namespace

TEST_CASE("ip_address: parse and normalise") {
  struct row {
    const char* text;
    const char* canonical;  // nullptr: refused
    bool v4;
  };
  const row rows[] = {
      {"192.0.2.1", "192.0.2.1", true},
      {" 192.0.2.1\t", "192.0.2.1", true},
      {"2001:DB8::1", "2001:db8::1", false},
      {"::ffff:192.0.2.1", "192.0.2.1", true},
      {"::FFFF:c000:0201", "192.0.2.1", true},
      {"::1", "::1", false},
      {"192.0.2.256", nullptr, false},
      {"010.0.0.1", nullptr, false},  // leading zero: octal in some parsers
      {"192.0.2", nullptr, false},
      {"[::1]", nullptr, false},
      {"192.0.2.1:8080", nullptr, false},
      {"fe80::1%eth0", nullptr, false},
      {"", nullptr, false},
      {"unknown", nullptr, false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    auto a = sec::ip_address::parse(r.text);
    if (r.canonical == nullptr) {
      CHECK_FALSE(a);
      continue;
    }
    REQUIRE(a);
    CHECK(a->to_string() == r.canonical);
    CHECK(a->is_v4() == r.v4);
  }
}

TEST_CASE("cidr: parse, canonical form and errors naming the entry") {
  struct row {
    const char* text;
    const char* canonical;  // nullptr: refused
    const char* why;        // part of the error message
  };
  const row rows[] = {
      {"10.0.0.0/8", "10.0.0.0/8", nullptr},
      {"192.0.2.7", "192.0.2.7/32", nullptr},
      {"0.0.0.0/0", "0.0.0.0/0", nullptr},
      {"2001:db8::/32", "2001:db8::/32", nullptr},
      {"2001:db8::1", "2001:db8::1/128", nullptr},
      {"::/0", "::/0", nullptr},
      {"::ffff:10.0.0.0/104", "10.0.0.0/8", nullptr},
      {"::ffff:192.0.2.7/128", "192.0.2.7/32", nullptr},
      {"10.0.0.1/8", nullptr, "host bits"},
      {"2001:db8::1/32", nullptr, "host bits"},
      {"10.0.0.0/33", nullptr, "out of range"},
      {"2001:db8::/129", nullptr, "out of range"},
      {"10.0.0.0/", nullptr, "not a number"},
      {"10.0.0.0/-1", nullptr, "not a number"},
      {"10.0.0.0/8/8", nullptr, "not a number"},
      {"10.0.0.0/ 8", nullptr, "not a number"},
      {"10.0.0/8", nullptr, "not an IPv4 or IPv6 address"},
      {"example.com/24", nullptr, "not an IPv4 or IPv6 address"},
      {"::ffff:10.0.0.0/80", nullptr, "IPv4-mapped"},
      {"", nullptr, "not an IPv4 or IPv6 address"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    auto c = sec::cidr::parse(r.text);
    if (r.canonical != nullptr) {
      REQUIRE_MESSAGE(c.ok(), (c.ok() ? std::string() : c.error().to_string()));
      CHECK(c->to_string() == r.canonical);
      continue;
    }
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code() == "bad_cidr");
    CHECK(c.error().message().find(std::string("\"") + r.text + "\"") != std::string::npos);
    CHECK(c.error().message().find(r.why) != std::string::npos);
  }
}

TEST_CASE("ip_allowlist: matching, mapped addresses and the empty list") {
  const auto l = list({"10.0.0.0/8", "192.0.2.0/25", "2001:db8:abcd::/48"});
  struct row {
    const char* address;
    bool allowed;
  };
  const row rows[] = {
      {"10.1.2.3", true},           {"11.0.0.1", false},
      {"192.0.2.127", true},        {"192.0.2.128", false},
      {"::ffff:10.9.9.9", true},    {"::ffff:11.0.0.1", false},
      {"2001:db8:abcd:1::5", true}, {"2001:db8:abce::1", false},
      {"::a00:1", false},  // IPv4-compatible (deprecated) is not IPv4
  };
  for (const auto& r : rows) {
    CAPTURE(r.address);
    CHECK(l.allows(addr(r.address)) == r.allowed);
  }
  const sec::ip_allowlist none;
  CHECK(none.allows(addr("203.0.113.1")));
  CHECK_FALSE(none.contains(addr("203.0.113.1")));
  CHECK(l.to_strings() ==
        std::vector<std::string>{"10.0.0.0/8", "192.0.2.0/25", "2001:db8:abcd::/48"});
}

TEST_CASE("ip_allowlist: the first bad entry fails the list and is named") {
  auto l = sec::ip_allowlist::parse({"10.0.0.0/8", "10.0.0.1/8", "bogus"});
  REQUIRE_FALSE(l.ok());
  CHECK(l.error().message().find("\"10.0.0.1/8\"") != std::string::npos);
  std::vector<std::string> many(2000, "10.0.0.0/8");
  CHECK(sec::ip_allowlist::parse(many).error().code() == "too_many_cidrs");
}

TEST_CASE("client_address: X-Forwarded-For only from trusted proxies, right-most untrusted") {
  const auto proxies = list({"10.0.0.0/8", "fd00::/8"});
  struct row {
    const char* name;
    const char* peer;
    const char* xff;     // nullptr: no header
    const char* client;  // nullptr: refused
  };
  const row rows[] = {
      {"untrusted peer: spoofed header ignored", "203.0.113.5", "10.1.1.1", "203.0.113.5"},
      {"untrusted peer with junk header", "203.0.113.5", "junk", "203.0.113.5"},
      {"trusted peer, no header", "10.0.0.2", nullptr, "10.0.0.2"},
      {"trusted peer, empty header", "10.0.0.2", " ", "10.0.0.2"},
      {"one proxy", "10.0.0.2", "198.51.100.9", "198.51.100.9"},
      {"chain of proxies", "10.0.0.2", "198.51.100.9, 10.0.0.7,10.0.0.8", "198.51.100.9"},
      {"client-written prefix is skipped", "10.0.0.2", "1.2.3.4, 198.51.100.9, 10.0.0.7",
       "198.51.100.9"},
      {"mapped address", "::ffff:10.0.0.2", "::ffff:198.51.100.9", "198.51.100.9"},
      {"IPv6 proxy and client", "fd00::1", "2001:db8::9", "2001:db8::9"},
      {"all trusted: left-most", "10.0.0.2", "10.0.0.5, 10.0.0.6", "10.0.0.5"},
      {"malformed right-most element", "10.0.0.2", "198.51.100.9, nonsense", nullptr},
      {"malformed after the client is not reached", "10.0.0.2", "nonsense, 198.51.100.9",
       "198.51.100.9"},
      {"port in element", "10.0.0.2", "198.51.100.9:4000", nullptr},
      {"empty element", "10.0.0.2", "198.51.100.9,", nullptr},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    std::optional<std::string_view> xff;
    if (r.xff != nullptr) xff = r.xff;
    auto c = sec::client_address(addr(r.peer), xff, proxies);
    if (r.client == nullptr) {
      REQUIRE_FALSE(c.ok());
      CHECK(c.error().code() == "bad_forwarded_for");
    } else {
      REQUIRE_MESSAGE(c.ok(), (c.ok() ? std::string() : c.error().to_string()));
      CHECK(c->to_string() == r.client);
    }
  }
  // Without trusted proxies the header never counts.
  CHECK(sec::client_address(addr("10.0.0.2"), "198.51.100.9", {})->to_string() == "10.0.0.2");
  std::string long_header;
  for (int i = 0; i < 40; ++i) long_header += "10.0.0.1,";
  long_header += "10.0.0.1";
  CHECK_FALSE(sec::client_address(addr("10.0.0.2"), long_header, proxies).ok());
}
