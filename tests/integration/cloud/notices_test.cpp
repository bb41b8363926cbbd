// The service document's notices through the real daemon: a planned-maintenance window
// announced too late is refused and mails nobody; one announced in time, and an incident with
// its update, reach every company administrator through a real SMTP server (aiosmtpd) in
// Japanese and English, and show on the public status page without a login.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "aterm/common/clock.h"
#include "aterm/test/smtp_server.h"
#include "aterm/test/sql.h"
#include "cloud_stack.h"

namespace {

using namespace aterm::test;
namespace common = aterm::common;

std::string iso_in(std::int64_t seconds_from_now) {
  return common::format_utc(
      common::from_unix_s(common::system_clock::instance().now_s() + seconds_from_now));
}

std::string maintenance(const std::string& starts, const std::string& ends, bool urgent) {
  return R"({"starts_at":")" + starts + R"(","ends_at":")" + ends +
         R"(","text_ja":"ファームウェア配信基盤の更新","text_en":"Firmware distribution upgrade")" +
         (urgent ? R"(,"urgent":true})" : "}");
}

}  // namespace

TEST_CASE("maintenance_announced_too_late_is_refused_and_in_time_is_mailed_in_both_languages") {
  const int smtp_port = free_port();
  temp_dir mail_dir("notices-smtp");
  auto smtp = smtp_server(smtp_port, mail_dir.path() / "maildir", mail_dir.path() / "smtp.log");
  cloud_stack_options o;
  o.name = "integration-notices";
  o.extra = R"("mail": {"smtp_url": "smtp://127.0.0.1:)" + std::to_string(smtp_port) +
            R"(", "allow_plaintext_loopback": true, "from": "aterm-cloud@example.com",
                "retry_initial_s": 1, "retry_max_s": 1})";
  cloud_stack s(o);
  auto site = s.client("platform");
  auto acme = s.client("acme");
  const fs::path maildir = mail_dir.path() / "maildir";

  // Tomorrow is never 3 business days ahead: refused with its code, nothing stored or queued.
  auto late = site.request("POST", "admin/maintenance",
                           maintenance(iso_in(86400), iso_in(86400 + 7200), false));
  CHECK(late.status == 400);
  CHECK(late.str("error") == "maintenance_too_soon");
  CHECK(late.str("message").find("business days ahead") != std::string::npos);
  CHECK(query_int(s.db_path(), "SELECT count(*) FROM notices") == 0);
  CHECK(query_int(s.db_path(), "SELECT count(*) FROM mail_outbox") == 0);
  // A company administrator may not announce anything.
  CHECK(acme.request("POST", "admin/maintenance",
                     maintenance(iso_in(30 * 86400), iso_in(30 * 86400 + 7200), false))
            .status == 403);
  CHECK(acme.request("POST", "admin/incidents",
                     R"({"status":"investigating","text_ja":"x","text_en":"x"})")
            .status == 403);

  // Thirty days ahead: stored, audited and mailed to the administrators of acme and globex (not
  // to the platform's own).
  auto ok = site.request("POST", "admin/maintenance",
                         maintenance(iso_in(30 * 86400), iso_in(30 * 86400 + 7200), false));
  REQUIRE_MESSAGE(ok.status == 201, ok.body);
  CHECK(ok.num("mails_queued") == 2);
  // Tomorrow again, marked urgent: accepted.
  auto urgent = site.request("POST", "admin/maintenance",
                             maintenance(iso_in(86400), iso_in(86400 + 3600), true));
  REQUIRE_MESSAGE(urgent.status == 201, urgent.body);
  CHECK(query_int(s.db_path(),
                  "SELECT count(*) FROM audit_log WHERE action = 'admin.maintenance.schedule' AND "
                  "result = 'success'") == 2);
  CHECK(query_int(s.db_path(),
                  "SELECT count(*) FROM audit_log WHERE action = 'admin.maintenance.schedule' AND "
                  "result = 'failure' AND detail LIKE 'refused: announced after %'") == 1);

  REQUIRE_MESSAGE(wait_until([&] { return maildir_messages(maildir).size() == 4; }, 30s),
                  (s.cloud_log() + smtp->log()));
  int to_acme = 0, to_globex = 0, urgent_mails = 0;
  for (const auto& m : maildir_messages(maildir)) {
    CAPTURE(m);
    if (m.find("X-RcptTo: admin@acme.example") != std::string::npos) ++to_acme;
    if (m.find("X-RcptTo: admin@globex.example") != std::string::npos) ++to_globex;
    const auto body = decoded_body(m);
    CAPTURE(body);
    CHECK(body.find("ファームウェア配信基盤の更新") != std::string::npos);
    CHECK(body.find("Firmware distribution upgrade") != std::string::npos);
    CHECK(body.find("JST") != std::string::npos);
    if (body.find("緊急メンテナンスを実施いたします") != std::string::npos) {
      ++urgent_mails;
      CHECK(body.find("Urgent maintenance will take place") != std::string::npos);
    } else {
      CHECK(body.find("下記の日程で計画メンテナンスを実施いたします") != std::string::npos);
      CHECK(body.find("Planned maintenance will take place") != std::string::npos);
    }
  }
  CHECK(to_acme == 2);
  CHECK(to_globex == 2);
  CHECK(urgent_mails == 2);

  // An incident and its update: two more mails each, and the status page has them all.
  auto inc = site.request("POST", "admin/incidents",
                          R"({"status":"investigating","text_ja":"一部の機器に接続できません",)"
                          R"("text_en":"Some routers cannot connect"})");
  REQUIRE_MESSAGE(inc.status == 201, inc.body);
  CHECK(inc.num("mails_queued") == 2);
  const auto id = std::to_string(inc.num("id"));
  auto upd = site.request("POST", "admin/incidents/" + id + "/updates",
                          R"({"status":"resolved","text_ja":"復旧しました","text_en":"Resolved"})");
  REQUIRE_MESSAGE(upd.status == 200, upd.body);
  CHECK(site.request("POST", "admin/incidents/" + id + "/updates",
                     R"({"status":"monitoring","text_ja":"x","text_en":"x"})")
            .status == 409);
  CHECK(wait_until([&] { return maildir_messages(maildir).size() == 8; }, 30s));

  // Public: no session, no tenant data, the dashboard's strict CSP on the page.
  auto anonymous = s.make_client();
  auto status = anonymous.request("GET", "status");
  REQUIRE(status.status == 200);
  CHECK(status.body.find("Firmware distribution upgrade") != std::string::npos);
  CHECK(status.body.find("復旧しました") != std::string::npos);
  CHECK(status.body.find("admin@") == std::string::npos);
  CHECK(status.body.find("acme") == std::string::npos);
  auto page = anonymous.request("GET", "/status");
  CHECK(page.status == 200);
  CHECK(page.body.find("/js/status.js") != std::string::npos);
  CHECK(page.header("content-security-policy").find("script-src 'self'") != std::string::npos);
}
