// Offline technician credentials (docs/security.md, "Offline technician logins") through the
// real agent, a real Mosquitto and `aterm-agent login-check`: the router holds only its
// per-device secret and checks credentials it never received.
#include <doctest/doctest.h>

#include <fstream>

#include "agent_fixture.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"
#include "aterm/common/technician_credential.h"

using namespace agent_test;
namespace tc = aterm::common::technician_credential;
namespace crypto = aterm::common::crypto;

namespace {

constexpr unsigned k_class_60 = 4;  // tc::k_ttl_class_minutes[4] == 60

std::int64_t minute_of(std::int64_t unix_s) {
  return (unix_s - tc::k_epoch_s) / 60;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

double uptime_s() {
  std::ifstream in("/proc/uptime");
  double up = 0;
  in >> up;
  return up;
}

struct offline_router {
  stack s;
  std::string id;
  std::vector<std::uint8_t> secret = crypto::random_bytes(tc::k_secret_bytes);
  agent_process a;
  std::uint32_t counter = 0;

  explicit offline_router(std::string device, const std::string& extra = R"("state_poll_s":1)")
      : id(std::move(device)), a{s.pki, s.broker, s.dir.path(), id, extra} {
    a.start();
    REQUIRE(t::wait_until([&] { return s.cloud.events(id, "boot").size() == 1; }));
    REQUIRE(t::wait_until([&] { return fs::exists(a.socket()); }));
    s.cloud.command(id, "secret-1", "technician_login.secret",
                    R"({"secret":")" + crypto::to_hex(secret) + R"("})");
    auto r = s.cloud.result(id, "secret-1");
    REQUIRE(r.has_value());
    REQUIRE(r->status == proto::result_status::ok);
  }
  // A credential as the cloud issues it (or as a forger would, with another secret).
  std::pair<std::string, std::string> credential(std::int64_t issued_s, unsigned ttl_class,
                                                 const std::vector<std::uint8_t>* key = nullptr) {
    const auto login_id = tc::encode_login_id({minute_of(issued_s), ttl_class, ++counter});
    return {login_id, tc::password(key ? *key : secret, id, login_id)};
  }
};

}  // namespace

TEST_CASE("offline_credential_issued_while_broker_down_is_accepted_exactly_once") {
  offline_router r("dev-offline-1");
  CHECK(read_text(r.a.data_dir() / "technician-secret").find(crypto::to_hex(r.secret)) == 0);
  const auto mode = fs::status(r.a.data_dir() / "technician-secret").permissions();
  CHECK((mode & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
  r.s.broker.stop();
  const auto [login_id, password] = r.credential(now_s(), k_class_60);
  CHECK(r.a.login_check(login_id, password) == 0);
  CHECK(r.a.login_check(login_id, password) == 1);
  // The use waited in the outbox and reaches the cloud once the broker is back.
  r.s.broker.start();
  REQUIRE(
      t::wait_until([&] { return !r.s.cloud.events(r.id, "technician_login.used").empty(); }, 20s));
  const auto used = r.s.cloud.events(r.id, "technician_login.used");
  CHECK(used.size() == 1);
  CHECK(used[0].fields_json.find(login_id) != std::string::npos);
  CHECK(t::wait_until([&] {
    return r.s.cloud.events(r.id, "technician_login.failed").size() == 1;  // already_used
  }));
}

// One router (one stack) for the refusals: forged, expired, revoked, used by the other path.
TEST_CASE("forged_expired_and_revoked_offline_credentials_are_refused") {
  offline_router r("dev-offline-2");
  const auto other = crypto::random_bytes(tc::k_secret_bytes);
  const auto now = now_s();
  // Another router's secret.
  const auto [forged_id, forged_pw] = r.credential(now, k_class_60, &other);
  CHECK(r.a.login_check(forged_id, forged_pw) == 1);
  // A genuine password under a changed issue time, and under a longer ttl class.
  const auto [id, pw] = r.credential(now - 30 * 60, k_class_60);
  const auto later = tc::encode_login_id({minute_of(now), k_class_60, r.counter});
  const auto longer = tc::encode_login_id({minute_of(now - 30 * 60), 7, r.counter});
  CHECK(r.a.login_check(later, pw) == 1);
  CHECK(r.a.login_check(longer, pw) == 1);
  // The genuine one still works: the forgeries were refused on their own ids.
  CHECK(r.a.login_check(id, pw) == 0);

  // Expired.
  const auto [old_id, old_pw] = r.credential(now_s() - 61 * 60, k_class_60);
  CHECK(r.a.login_check(old_id, old_pw) == 1);
  // Issued in the future beyond technician.max_clock_skew_s (300 s) is refused too.
  const auto [future_id, future_pw] = r.credential(now_s() + 20 * 60, k_class_60);
  CHECK(r.a.login_check(future_id, future_pw) == 1);
  REQUIRE(
      t::wait_until([&] { return r.s.cloud.events(r.id, "technician_login.failed").size() == 5; }));
  CHECK(r.s.cloud.events(r.id, "technician_login.failed")[3].fields_json.find("expired") !=
        std::string::npos);

  // Revoked while online.
  const auto [rid, rpw] = r.credential(now_s(), k_class_60);
  r.s.cloud.command(r.id, "rv1", "technician_login.revoke", R"({"login_id":")" + rid + R"("})");
  auto rv = r.s.cloud.result(r.id, "rv1");
  REQUIRE(rv.has_value());
  CHECK(rv->status == proto::result_status::ok);
  CHECK(r.a.login_check(rid, rpw) == 1);
  // Delivered by install while online and used there: the offline path refuses it after.
  const auto [both_id, both_pw] = r.credential(now_s(), k_class_60);
  r.s.cloud.command(r.id, "in1", "technician_login.install",
                    install_args(both_id, both_pw, now_s() + 3600, 3600));
  auto in = r.s.cloud.result(r.id, "in1");
  REQUIRE(in.has_value());
  REQUIRE(in->status == proto::result_status::ok);
  CHECK(r.a.login_check(both_id, both_pw) == 0);
  CHECK(r.a.login_check(both_id, both_pw) == 1);
}

TEST_CASE("offline_credential_with_untrusted_clock_needs_issue_after_last_trusted_time") {
  offline_router r("dev-offline-4");
  // The secret arrived while the clock was trusted, which the router persisted.
  REQUIRE(r.a.stop(SIGTERM) == 0);
  // The same router after a boot without NTP: its clock reads below the trust floor.
  agent_process unset{r.s.pki, r.s.broker, r.s.dir.path(), r.id,
                      R"("clock.trust_floor":4000000000)"};
  const auto [before_id, before_pw] = r.credential(now_s() - 30 * 60, k_class_60);
  CHECK(unset.login_check(before_id, before_pw) == 1);
  const auto [after_id, after_pw] = r.credential(now_s() + 2 * 60, k_class_60);
  const double up_before = uptime_s();
  CHECK(unset.login_check(after_id, after_pw) == 0);
  const double up_after = uptime_s();
  CHECK(unset.login_check(after_id, after_pw) == 1);
  // The local session ends 60 minutes after first use on the monotonic clock.
  auto doc = aterm::common::parse_json(read_text(r.a.data_dir() / "logins.json"));
  REQUIRE(doc.ok());
  std::optional<std::int64_t> until;
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, doc->get()) {
    if (aterm::common::json_string(item, "login_id") == after_id)
      until = aterm::common::json_int(item, "session_until_mono_s");
  }
  REQUIRE(until.has_value());
  CHECK(static_cast<double>(*until) >= up_before + 3600 - 1);
  CHECK(static_cast<double>(*until) <= up_after + 3600 + 1);
}

TEST_CASE("guessing_over_many_offline_login_ids_hits_the_router_wide_limit") {
  offline_router r("dev-offline-5", R"("state_poll_s":1,"technician.failure_limit":5)");
  const auto [id, pw] = r.credential(now_s(), k_class_60);
  // One wrong password on each of five ids: no id reaches its own limit of 5.
  for (int i = 0; i < 5; ++i) {
    const auto [guess_id, unused] = r.credential(now_s(), k_class_60);
    CHECK(r.a.login_check(guess_id, "Guess234abcd") == 1);
  }
  CHECK(r.a.login_check(id, pw) == 1);
  CHECK(read_text(r.a.data_dir() / "technician-state.json").find("\"window_failures\":5") !=
        std::string::npos);
}
