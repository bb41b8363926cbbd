#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "aterm/agent/login_store.h"
#include "aterm/common/clock.h"
#include "aterm/common/command_table.h"
#include "aterm/common/crypto.h"
#include "aterm/test/support.h"

namespace fs = std::filesystem;
using aterm::test::temp_dir;
namespace crypto = aterm::common::crypto;
using aterm::agent::login_store;
using outcome = aterm::agent::login_store::outcome;
using namespace std::chrono_literals;
namespace cmd = aterm::common::commands;

namespace {
const auto k_start = aterm::common::from_unix_s(1800000000);

std::string install_args(const std::string& id, const std::string& password,
                         std::int64_t expires_at, std::int64_t ttl_s = 3600) {
  const std::vector<std::uint8_t> salt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  const auto hash = crypto::pbkdf2_hmac_sha256(password, salt, 1000, 32);
  return R"({"login_id":")" + id + R"(","salt":")" + crypto::to_hex(salt) +
         R"(","iterations":1000,"hash":")" + crypto::to_hex(hash) + R"(","expires_at":)" +
         std::to_string(expires_at) + R"(,"ttl_s":)" + std::to_string(ttl_s) + "}";
}
}  // namespace

TEST_CASE("a login is accepted once, then refused") {
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock(k_start);
  auto s = login_store::open(t.path() / "logins.json", clock, "boot-1");
  REQUIRE(s.ok());
  REQUIRE(s->install(install_args("T-abcdefgh", "Pw2345678abc", 1800003600)).ok());
  CHECK(s->check("T-abcdefgh", "Pw2345678abc").result == outcome::accepted);
  CHECK(s->check("T-abcdefgh", "Pw2345678abc").result == outcome::unknown);
}

TEST_CASE("the store keeps hashes only and survives a restart") {
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock(k_start);
  {
    auto s = login_store::open(t.path() / "logins.json", clock, "boot-1");
    REQUIRE(s.ok());
    REQUIRE(s->install(install_args("T-abcdefgh", "Pw2345678abc", 1800003600)).ok());
    CHECK(s->check("T-abcdefgh", "wrong").result == outcome::wrong_password);
  }
  std::ifstream in(t.path() / "logins.json");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("Pw2345678abc") == std::string::npos);
  CHECK((fs::status(t.path() / "logins.json").permissions() & fs::perms::others_read) ==
        fs::perms::none);
  auto s = login_store::open(t.path() / "logins.json", clock, "boot-1");
  REQUIRE(s.ok());
  CHECK(s->size() == 1);
  // The failure count survived too: 4 more wrong ones lock it.
  for (int i = 2; i <= 4; ++i) CHECK(s->check("T-abcdefgh", "wrong").failures == i);
  const auto last = s->check("T-abcdefgh", "wrong");
  CHECK(last.result == outcome::locked);
  CHECK(last.failures == 5);
  CHECK(s->check("T-abcdefgh", "Pw2345678abc").result == outcome::unknown);
}

TEST_CASE("expiry at the earlier of expires_at and receipt + ttl_s") {
  temp_dir t{"unit-agent"};
  struct row {
    const char* name;
    std::int64_t expires_at;
    std::int64_t ttl_s;
    std::chrono::seconds advance;
    outcome expected;
  };
  const row rows[] = {
      {"inside both", 1800003600, 3600, 1800s, outcome::accepted},
      {"ttl passed first", 1800003600, 60, 61s, outcome::expired},
      {"expires_at passed first", 1800000030, 3600, 31s, outcome::expired},
      {"exactly at expires_at", 1800000030, 3600, 30s, outcome::expired},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    aterm::common::manual_clock clock(k_start);
    auto s =
        login_store::open(t.path() / (std::string("l-") + std::to_string(&r - rows)), clock, "b");
    REQUIRE(s.ok());
    REQUIRE(s->install(install_args("T-x1234567", "pw", r.expires_at, r.ttl_s)).ok());
    clock.advance(r.advance);
    CHECK(s->check("T-x1234567", "pw").result == r.expected);
  }
}

TEST_CASE("a wrong wall clock cannot stretch the ttl") {
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock(k_start);
  auto s = login_store::open(t.path() / "l", clock, "b");
  REQUIRE(s.ok());
  REQUIRE(s->install(install_args("T-x1234567", "pw", 1800003600, 60)).ok());
  clock.advance(120s);
  clock.set(k_start);  // someone sets the wall clock back; the monotonic clock keeps going
  CHECK(s->check("T-x1234567", "pw").result == outcome::expired);
}

TEST_CASE("expired entries are removed at load and a reboot drops ttl-bound entries") {
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock(k_start);
  {
    auto s = login_store::open(t.path() / "l", clock, "boot-1");
    REQUIRE(s.ok());
    REQUIRE(s->install(install_args("T-short123", "pw", 1800000100)).ok());
    REQUIRE(s->install(install_args("T-long1234", "pw", 1800003600)).ok());
  }
  clock.advance(200s);
  {
    auto s = login_store::open(t.path() / "l", clock, "boot-1");
    REQUIRE(s.ok());
    CHECK(s->size() == 1);
    CHECK(s->contains("T-long1234"));
  }
  auto s = login_store::open(t.path() / "l", clock, "boot-2");
  REQUIRE(s.ok());
  CHECK(s->size() == 0);
}

TEST_CASE("revoke removes the login") {
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock(k_start);
  auto s = login_store::open(t.path() / "l", clock, "b");
  REQUIRE(s.ok());
  REQUIRE(s->install(install_args("T-abcdefgh", "pw", 1800003600)).ok());
  auto r = s->revoke("T-abcdefgh");
  REQUIRE(r.ok());
  CHECK(*r);
  CHECK(s->check("T-abcdefgh", "pw").result == outcome::unknown);
  r = s->revoke("T-abcdefgh");
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
}

TEST_CASE("install refuses bad arguments") {
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock(k_start);
  auto s = login_store::open(t.path() / "l", clock, "b");
  REQUIRE(s.ok());
  const std::pair<const char*, const char*> rows[] = {
      {"not json", "{"},
      {"missing hash",
       R"({"login_id":"T-a","salt":"00","iterations":1,"expires_at":1900000000,"ttl_s":60})"},
      {"short hash",
       R"({"login_id":"T-a","salt":"00","iterations":1,"hash":"00","expires_at":1900000000,"ttl_s":60})"},
      {"bad login id",
       R"({"login_id":"T a/b","salt":"00","iterations":1,"hash":"0000000000000000000000000000000000000000000000000000000000000000","expires_at":1900000000,"ttl_s":60})"},
      {"huge iterations",
       R"({"login_id":"T-a","salt":"00","iterations":100000000,"hash":"0000000000000000000000000000000000000000000000000000000000000000","expires_at":1900000000,"ttl_s":60})"},
      {"zero ttl",
       R"({"login_id":"T-a","salt":"00","iterations":1,"hash":"0000000000000000000000000000000000000000000000000000000000000000","expires_at":1900000000,"ttl_s":0})"},
  };
  for (const auto& [name, args] : rows) {
    // CAPTURE's lambda cannot take a structured binding under clang 14 (the sanitizer build).
    const auto& row_name = name;
    CAPTURE(row_name);
    CHECK(cmd::failed_with(s->install(args), cmd::op_error::bad_args));
  }
  const auto dead = s->install(install_args("T-old12345", "pw", 1700000000));
  CHECK(cmd::failed_with(dead, cmd::op_error::bad_args));
  CHECK(dead.message().find("expired") != std::string::npos);
  CHECK(s->size() == 0);
}

TEST_CASE("a use opens a local session that ends once: at logout, at its end, or at a reboot") {
  using reason = aterm::agent::ended_session::reason;
  temp_dir t{"unit-agent"};
  aterm::common::manual_clock clock(k_start);
  auto s = login_store::open(t.path() / "logins.json", clock, "boot-1");
  REQUIRE(s.ok());
  REQUIRE(s->install(install_args("T-LGTA2345", "pw-a", 1800003600)).ok());
  REQUIRE(s->install(install_args("T-LGTB2345", "pw-b", 1800000600, 600)).ok());
  REQUIRE(s->install(install_args("T-LGTC2345", "pw-c", 1800003600)).ok());
  CHECK_FALSE(s->logout("T-LGTA2345").has_value());  // not used yet: no session
  REQUIRE(s->check("T-LGTA2345", "pw-a", 7).result == outcome::accepted);
  REQUIRE(s->check("T-LGTB2345", "pw-b", 7).result == outcome::accepted);
  REQUIRE(s->check("T-LGTC2345", "pw-c").result == outcome::accepted);
  CHECK(s->end_sessions().empty());

  auto out = s->logout("T-LGTA2345");
  REQUIRE(out.has_value());
  CHECK(out->why == reason::logout);
  CHECK(out->config_rev_before == 7);
  CHECK_FALSE(s->logout("T-LGTA2345").has_value());

  // B ends with its credential (600 s); C's end is reported after a reboot, by the next start.
  clock.advance(601s);
  auto ended = s->end_sessions();
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].login_id == "T-LGTB2345");
  CHECK(ended[0].why == reason::expired);
  CHECK(s->end_sessions().empty());
  s->expire();  // a record whose session is open is kept
  auto rebooted = login_store::open(t.path() / "logins.json", clock, "boot-2");
  REQUIRE(rebooted.ok());
  auto after = rebooted->end_sessions();
  REQUIRE(after.size() == 1);
  CHECK(after[0].login_id == "T-LGTC2345");
  CHECK(after[0].why == reason::reboot);
  CHECK_FALSE(after[0].config_rev_before.has_value());
  CHECK(rebooted->end_sessions().empty());
}
