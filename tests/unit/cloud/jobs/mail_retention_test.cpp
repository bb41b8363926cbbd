// Sent mail leaves the outbox retention.mail_sent_days after it was sent, as part of the sweep;
// unsent mail (due, backing off, or given up) stays. Real SQLite through the lifecycle port, the
// real outbox worker with a sender that refuses chosen recipients.
#include <doctest/doctest.h>

#include <set>

#include "aterm/cloud/mail/mail.h"
#include "aterm/test/sql.h"
#include "jobs_fixture.h"

namespace aterm::cloud::jobs::test {

namespace {

class picky_sender final : public mail::sender {
 public:
  std::set<std::string> refused;
  common::status send(const std::string&, const std::string& to, const std::string&) override {
    if (refused.count(to) != 0) return common::status::error("smtp", "550 mailbox unavailable");
    return {};
  }
};

std::int64_t sql(const fixture& f, const std::string& query) {
  return aterm::test::query_int(f.path(), query);
}

std::vector<std::string> mail_lines(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) {
    if (l.find("mail.purge") != std::string::npos) out.push_back(l);
  }
  return out;
}

std::int64_t outbox(const fixture& f, const std::string& recipient) {
  return sql(f, "SELECT count(*) FROM mail_outbox WHERE recipient = '" + recipient + "'");
}

// Only the reminder step of the account rule: no lock notices join the outbox.
void reminders_only(fixture& f) {
  f.settings.inactive_lock_days = 100 * 365;
}

}  // namespace

TEST_CASE("sent mail is deleted 30 days after sending and unsent or failing mail stays") {
  fixture f;
  reminders_only(f);
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  f.make_account("acme", "gina", "operator", "gina@example.com");
  f.make_account("acme", "adam", "operator", "adam@example.com");
  f.clock.set(day(10));
  f.make_account("acme", "hana", "operator", "hana@example.com");
  f.clock.set(day(40));
  f.make_account("acme", "ivan", "operator", "ivan@example.com");

  picky_sender smtp;
  smtp.refused = {"adam@example.com"};
  mail::outbox_settings s;
  s.retry_initial_s = 60;
  s.max_attempts = 2;
  mail::outbox_worker worker(*f.port, smtp, s, f.clock);
  // Day 180: gina is sent, adam fails. Day 190: hana is sent, adam fails again and is given up.
  f.sweep(day(180));
  REQUIRE(worker.run_once().sent == 1);
  f.sweep(day(190));
  auto run = worker.run_once();
  REQUIRE(run.sent == 1);
  REQUIRE(run.failed == 1);
  REQUIRE(sql(f, "SELECT attempts FROM mail_outbox WHERE recipient = 'adam@example.com'") == 2);
  REQUIRE(sql(f, "SELECT count(*) FROM mail_outbox WHERE sent_at_s IS NOT NULL") == 2);

  CHECK(mail_lines(f.sweep(day(210) - std::chrono::seconds(1))).empty());
  CHECK(outbox(f, "gina@example.com") == 1);
  CHECK(mail_lines(f.sweep(day(210), true)) ==
        std::vector<std::string>{"dry-run mail.purge records=1"});
  CHECK(outbox(f, "gina@example.com") == 1);
  CHECK(mail_lines(f.sweep(day(210))) == std::vector<std::string>{"mail.purge records=1"});
  CHECK(outbox(f, "gina@example.com") == 0);
  CHECK(outbox(f, "hana@example.com") == 1);
  CHECK(outbox(f, "adam@example.com") == 1);
  // The deletion is in the access log, under the platform.
  CHECK(sql(f,
            "SELECT count(*) FROM audit_log WHERE action = 'mail.purge' AND company_id = "
            "'platform' AND detail LIKE 'records=1 %'") == 1);
  CHECK(mail_lines(f.sweep(day(215))).empty());

  // Day 220: hana's mail goes; ivan's reminder is queued, never sent, and stays like adam's.
  CHECK(mail_lines(f.sweep(day(220))) == std::vector<std::string>{"mail.purge records=1"});
  CHECK(outbox(f, "hana@example.com") == 0);
  CHECK(outbox(f, "ivan@example.com") == 1);
  CHECK(sql(f, "SELECT count(*) FROM audit_log WHERE action = 'mail.purge'") == 2);
  CHECK(mail_lines(f.sweep(day(2000))).empty());
  CHECK(sql(f, "SELECT count(*) FROM mail_outbox WHERE sent_at_s IS NULL") == 2);
  CHECK(outbox(f, "adam@example.com") == 1);
  CHECK(outbox(f, "ivan@example.com") == 1);
}

TEST_CASE("retention.mail_sent_days sets how long sent mail is kept") {
  const std::int64_t rows[] = {1, 7, 30, 365};
  for (std::int64_t days : rows) {
    CAPTURE(days);
    fixture f;
    reminders_only(f);
    f.settings.mail_sent_days = days;
    REQUIRE(f.db->create_company("acme", "Acme").ok());
    f.make_account("acme", "gina", "operator", "gina@example.com");
    f.sweep(day(180));
    picky_sender smtp;
    mail::outbox_worker worker(*f.port, smtp, mail::outbox_settings{}, f.clock);
    f.clock.set(day(181));
    REQUIRE(worker.run_once().sent == 1);
    const auto kept_until = day(181) + std::chrono::hours(24 * days);
    CHECK(mail_lines(f.sweep(kept_until - std::chrono::seconds(1))).empty());
    CHECK(outbox(f, "gina@example.com") == 1);
    CHECK(mail_lines(f.sweep(kept_until)) == std::vector<std::string>{"mail.purge records=1"});
    CHECK(outbox(f, "gina@example.com") == 0);
  }
}

}  // namespace aterm::cloud::jobs::test
