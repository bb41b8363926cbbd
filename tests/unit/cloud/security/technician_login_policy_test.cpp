#include "aterm/cloud/security/technician_login_policy.h"

#include <doctest/doctest.h>

#include "aterm/cloud/mail/mail.h"
#include "aterm/cloud/security/built_in_roles.h"
#include "aterm/cloud/security/email_address.h"
#include "aterm/cloud/security/password_policy.h"
#include "aterm/cloud/security/technician_delivery.h"
#include "aterm/common/command_table.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"
#include "aterm/common/technician_credential.h"

namespace sec = aterm::cloud::security;
namespace cloud = aterm::cloud;
namespace crypto = aterm::common::crypto;
namespace tc = aterm::common::technician_credential;

namespace {

constexpr std::int64_t k_now = 1'800'000'000;

cloud::technician_event_facts held(std::string_view type, std::int64_t in_window = 0) {
  return {type, true, in_window, "", "{}"};
}

}  // namespace

TEST_CASE("technician logins: the company's ttl gives the lifetime, 0 turns the feature off") {
  cloud::company_settings s;
  CHECK(sec::technician_login_ttl_s(s) == 3600);
  s.technician_login_ttl_minutes = 5;
  CHECK(sec::technician_login_ttl_s(s) == 300);
  s.technician_login_ttl_minutes = 0;
  CHECK_FALSE(sec::technician_login_ttl_s(s).has_value());
}

TEST_CASE("technician logins: an issued login holds only the hash of its one-time password") {
  auto issue = sec::issue_technician_login({"acme", "acme-r1", "alice", ""}, {}, 1000, k_now, 300);
  const auto& t = issue.login;
  CHECK(t.login_id.size() == 10);
  CHECK(t.login_id.rfind("T-", 0) == 0);
  CHECK(issue.password.size() == 12);
  CHECK(t.expires_at_s == k_now + 300);
  CHECK(t.issued_at_s == k_now);
  CHECK(t.status == cloud::technician_login_status::active);
  const auto salt = crypto::from_hex(t.salt_hex);
  REQUIRE(salt.ok());
  CHECK(crypto::to_hex(sec::pbkdf2_sha256_fast(issue.password, *salt, 1000, 32)) == t.hash_hex);
  CHECK(issue.install.device_id == "acme-r1");
  CHECK(issue.install.op == "technician_login.install");
  CHECK(issue.install.deadline_s == t.expires_at_s);
  CHECK(issue.install.args_json.find(issue.password) == std::string::npos);
  CHECK(issue.install.args_json.find(t.login_id) != std::string::npos);

  const std::string first_id = t.login_id;
  const std::string hash = t.hash_hex;
  sec::renew_login_id(issue, {}, 1000);
  CHECK(issue.login.hash_hex == hash);
  CHECK(issue.install.args_json.find(issue.login.login_id) != std::string::npos);
  if (issue.login.login_id != first_id) {
    CHECK(issue.install.args_json.find(first_id) == std::string::npos);
  }
}

TEST_CASE("technician logins: with a technician key the login is an offline credential") {
  const std::vector<std::uint8_t> key(32, 7);
  auto issue = sec::issue_technician_login({"acme", "acme-r1", "alice", "Sato Hanako"}, key, 1000,
                                           k_now, 3600);
  const auto& t = issue.login;
  const auto f = tc::decode_login_id(t.login_id);
  REQUIRE(f.has_value());
  CHECK(f->ttl_s() == 3600);
  CHECK(f->issued_at_s() == k_now - k_now % 60);
  CHECK(t.expires_at_s == f->issued_at_s() + 3600);
  CHECK(t.technician_name == "Sato Hanako");
  const auto secret = tc::device_secret(key, "acme-r1");
  CHECK(issue.password == tc::password(secret, "acme-r1", t.login_id));
  const auto salt = crypto::from_hex(t.salt_hex);
  REQUIRE(salt.ok());
  CHECK(crypto::to_hex(sec::pbkdf2_sha256_fast(issue.password, *salt, 1000, 32)) == t.hash_hex);
  // A new id is a new credential: its password and hash follow.
  const auto first_pw = issue.password;
  sec::renew_login_id(issue, key, 1000);
  CHECK(issue.password == tc::password(secret, "acme-r1", issue.login.login_id));
  if (issue.login.login_id != t.login_id) CHECK(issue.password != first_pw);
  // The router's secret travels only in its own command's message; the stored command holds none.
  const auto rule = sec::technician_secret_rule_of(key, 600);
  CHECK(rule.key_id == sec::technician_key_id(key));
  CHECK(rule.key_id.size() == 16);
  CHECK(sec::technician_secret_rule_of({}, 600).key_id.empty());
  CHECK_FALSE(sec::technician_secret_rule_of({}, 600).command);
  auto cmd = rule.command("acme-r1", k_now);
  CHECK(cmd.op == "technician_login.secret");
  CHECK(cmd.deadline_s == k_now + 600);
  CHECK(cmd.args_json == R"({"key_id":")" + rule.key_id + R"("})");
  CHECK(issue.install.args_json.find(crypto::to_hex(secret)) == std::string::npos);
  const auto publish = sec::technician_secret_at_publish(key);
  CHECK(publish("acme-r1", "technician_login.secret", cmd.args_json) ==
        R"({"secret":")" + crypto::to_hex(secret) + R"("})");
  // A row changed to name another secret still publishes the device's own.
  CHECK(publish("acme-r1", "technician_login.secret", R"({"secret":"00"})") ==
        R"({"secret":")" + crypto::to_hex(secret) + R"("})");
  CHECK(publish("acme-r1", "ping", R"({"x":1})") == R"({"x":1})");
  CHECK(sec::technician_secret_at_publish({})("acme-r1", "technician_login.secret", "{}") == "{}");
  // Names: trimmed, bounded, no control characters.
  CHECK(sec::technician_name_of("  Sato Hanako ") == "Sato Hanako");
  CHECK_FALSE(sec::technician_name_of("a\nb").has_value());
  CHECK_FALSE(sec::technician_name_of(std::string(65, 'x')).has_value());
  CHECK(sec::technician_event_detail("Sato Hanako", R"({"login_id":"T-A","reason":"expired"})") ==
        "technician=Sato Hanako reason=expired");
}

TEST_CASE("technician logins: a revoke outlives the login by at least a minute") {
  cloud::technician_login t;
  t.login_id = "T-ABCD2345";
  t.device_id = "acme-r1";
  t.expires_at_s = k_now + 600;
  auto late = sec::revoke_command(t, "alice", k_now);
  CHECK(late.op == "technician_login.revoke");
  CHECK(late.deadline_s == k_now + 600);
  CHECK(late.args_json == R"({"login_id":"T-ABCD2345"})");
  CHECK(sec::revoke_command(t, "alice", k_now + 590).deadline_s == k_now + 650);
}

TEST_CASE("technician logins: what each event does to the login and the access log") {
  const sec::device_event_settings s{3, std::chrono::seconds{60}};
  auto used = sec::technician_event_effect(held("technician_login.used"), s);
  CHECK(used.status == cloud::technician_login_status::used);
  CHECK_FALSE(used.count_failure);
  CHECK(used.record);
  CHECK(used.outcome == "success");
  auto failed = sec::technician_event_effect(held("technician_login.failed"), s);
  CHECK_FALSE(failed.status.has_value());
  CHECK(failed.count_failure);
  CHECK(failed.outcome == "failure");
  auto locked = sec::technician_event_effect(held("technician_login.locked"), s);
  CHECK(locked.status == cloud::technician_login_status::locked);
  CHECK(locked.outcome == "locked");
  auto ended = sec::technician_event_effect(held("technician_login.ended"), s);
  CHECK_FALSE(ended.status.has_value());
  CHECK_FALSE(ended.count_failure);
  CHECK(ended.record);
  CHECK(ended.outcome == "ended");

  // A login the device does not hold changes nothing; past the rate the login still changes.
  auto foreign = sec::technician_event_effect({"technician_login.used", false, 0, "", "{}"}, s);
  CHECK_FALSE(foreign.status.has_value());
  CHECK_FALSE(foreign.count_failure);
  CHECK_FALSE(foreign.record);
  auto flooded = sec::technician_event_effect(held("technician_login.used", 3), s);
  CHECK(flooded.status == cloud::technician_login_status::used);
  CHECK_FALSE(flooded.record);

  const auto rule = sec::technician_event_rule_of(s);
  CHECK(rule.window == std::chrono::seconds{60});
  CHECK(rule.handles("technician_login.failed"));
  CHECK_FALSE(rule.handles("config.changed"));
  CHECK(rule.decide(held("technician_login.used")).record);
}

TEST_CASE("technician logins: records go `retention` after issue") {
  CHECK(sec::technician_login_purge_before_s(k_now, 3600) == k_now - 3600);
}

TEST_CASE("built-in roles: administrator all, operator five, viewer reads") {
  CHECK(sec::built_in_permissions("administrator").size() == cloud::k_permissions.size());
  CHECK(sec::built_in_permissions("operator") ==
        std::vector<std::string>{"device.read", "device.command", "device.technician_login",
                                 "account.read", "job.manage"});
  CHECK(sec::built_in_permissions("viewer") == std::vector<std::string>{"device.read"});
  CHECK(sec::built_in_permissions("auditor").empty());
}

TEST_CASE("e-mail addresses: plausible ones only") {
  CHECK(sec::valid_email_address("a@example.com"));
  CHECK_FALSE(sec::valid_email_address("a@example"));
  CHECK_FALSE(sec::valid_email_address("@example.com"));
  CHECK_FALSE(sec::valid_email_address("a b@example.com"));
  CHECK_FALSE(sec::valid_email_address("a@@example.com"));
  CHECK_FALSE(sec::valid_email_address("a@example.com."));
}

TEST_CASE("technician logins: the mail to the technician is bilingual and sealed") {
  cloud::technician_login t;
  t.login_id = "T-ABCD2345";
  t.device_id = "acme-r1";
  t.issued_at_s = k_now;
  t.expires_at_s = k_now + 3600;
  t.technician_name = "Sato Hanako";
  const auto plain = sec::technician_login_mail(t, "Pass234word", 3600, "sato@example.com");
  CHECK(plain.to == "sato@example.com");
  CHECK(plain.subject.find("acme-r1") != std::string::npos);
  for (const char* part :
       {"ログインID: T-ABCD2345", "パスワード: Pass234word", "Login ID: T-ABCD2345",
        "Password: Pass234word", "Sato Hanako", "+09:00", "60"}) {
    CAPTURE(part);
    CHECK(plain.body.find(part) != std::string::npos);
  }
  // Without the key there is nothing to seal it under: refused, not stored in plain text.
  CHECK(
      sec::sealed_technician_mail(t, "Pass234word", 3600, "sato@example.com", {}).error().code() ==
      "technician_mail_unavailable");
  const std::vector<std::uint8_t> key(32, 7);
  auto sealed = sec::sealed_technician_mail(t, "Pass234word", 3600, "sato@example.com", key);
  REQUIRE(sealed.ok());
  CHECK(sealed->body.find("Pass234word") == std::string::npos);
  const auto mail_key = sec::technician_mail_key(key);
  CHECK(mail_key.size() == 32);
  CHECK(cloud::mail::open_body(*sealed, mail_key)->body == plain.body);
  // The mail key is not the technician key: opening under it fails.
  CHECK_FALSE(cloud::mail::open_body(*sealed, key).ok());
}
