#include <doctest/doctest.h>

#include "aterm/cloud/jobs/backup.h"
#include "aterm/cloud/security/lockout_policy.h"
#include "jobs_fixture.h"

namespace aterm::cloud::jobs::test {

namespace {

const char* name_of(account_step s) {
  switch (s) {
    case account_step::none:
      return "none";
    case account_step::remind:
      return "remind";
    case account_step::lock:
      return "lock";
    case account_step::remove:
      return "remove";
  }
  return "?";
}

// A right password as the login route records it: the lock rule decides the stored fields.
lock_decision login_succeeded(const common::clock& clock) {
  return [policy = security::lockout_policy(security::lockout_settings{}, clock)](
             const account_lock_state& stored) { return policy.after_success(stored); };
}

}  // namespace

TEST_CASE("next_account_step at each boundary a day early and on the day") {
  lifecycle_settings s;
  struct row {
    const char* what;
    const char* role;
    std::optional<std::int64_t> last_login_day;
    std::optional<std::int64_t> reminder_day;
    lock_reason locked;
    std::optional<std::int64_t> locked_day;
    std::int64_t now_day;
    account_step expected;
  };
  const row rows[] = {
      {"179 days after creation",
       "operator",
       {},
       {},
       lock_reason::none,
       {},
       179,
       account_step::none},
      {"180 days after creation",
       "operator",
       {},
       {},
       lock_reason::none,
       {},
       180,
       account_step::remind},
      {"180 days after last login",
       "operator",
       10,
       {},
       lock_reason::none,
       {},
       189,
       account_step::none},
      {"190 days after creation, login on day 10",
       "operator",
       10,
       {},
       lock_reason::none,
       {},
       190,
       account_step::remind},
      {"29 days after the reminder",
       "operator",
       {},
       180,
       lock_reason::none,
       {},
       209,
       account_step::none},
      {"30 days after the reminder",
       "operator",
       {},
       180,
       lock_reason::none,
       {},
       210,
       account_step::lock},
      {"a failed-logins lock does not stop the rule",
       "operator",
       {},
       180,
       lock_reason::failed_logins,
       170,
       210,
       account_step::lock},
      {"89 days after the lock",
       "operator",
       {},
       180,
       lock_reason::inactivity,
       210,
       299,
       account_step::none},
      {"90 days after the lock",
       "operator",
       {},
       180,
       lock_reason::inactivity,
       210,
       300,
       account_step::remove},
      {"administrator 90 days after the lock",
       "administrator",
       {},
       180,
       lock_reason::inactivity,
       210,
       300,
       account_step::none},
      {"administrator years after the lock",
       "administrator",
       {},
       180,
       lock_reason::inactivity,
       210,
       3000,
       account_step::none},
      {"administrator 30 days after the reminder",
       "administrator",
       {},
       180,
       lock_reason::none,
       {},
       210,
       account_step::lock},
      {"locked by an administrator",
       "operator",
       {},
       {},
       lock_reason::administrator,
       1,
       400,
       account_step::none},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    account a;
    a.role_name = r.role;
    a.created_at_s = k_t0;
    auto at = [](std::int64_t d) { return k_t0 + d * k_day_s; };
    if (r.last_login_day) a.last_login_at_s = at(*r.last_login_day);
    if (r.reminder_day) a.reminder_sent_at_s = at(*r.reminder_day);
    a.locked = r.locked;
    if (r.locked_day) a.locked_at_s = at(*r.locked_day);
    CHECK(std::string(name_of(next_account_step(a, at(r.now_day), s))) == name_of(r.expected));
  }
}

TEST_CASE("the 180 210 300 day timeline of a general and an administrator account") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  f.make_account("acme", "gina", "operator", "gina@example.com");
  f.make_account("acme", "adam", "administrator", "adam@example.com");

  CHECK(f.sweep(day(179)).empty());
  auto lines = f.sweep(day(180));
  CHECK(f.has_line(lines, "account.inactivity_reminder company=acme login=gina"));
  CHECK(f.has_line(lines, "account.inactivity_reminder company=acme login=adam"));
  CHECK(f.get("acme", "gina").reminder_sent_at_s == common::to_unix_s(day(180)));
  CHECK(f.scalar("SELECT count(*) FROM mail_outbox") == 2);
  CHECK(f.scalar("SELECT count(*) FROM mail_outbox WHERE recipient = 'gina@example.com'") == 1);
  SUBCASE("a second sweep the same day sends nothing more") {
    CHECK(f.sweep(day(180.5)).empty());
    CHECK(f.scalar("SELECT count(*) FROM mail_outbox") == 2);
  }

  CHECK(f.sweep(day(209)).empty());
  lines = f.sweep(day(210));
  CHECK(f.has_line(lines, "account.inactivity_lock company=acme login=gina"));
  CHECK(f.has_line(lines, "account.inactivity_lock company=acme login=adam"));
  CHECK(f.get("acme", "gina").locked == lock_reason::inactivity);
  CHECK(f.get("acme", "adam").locked == lock_reason::inactivity);
  CHECK(f.scalar("SELECT count(*) FROM mail_outbox") == 4);

  CHECK(f.sweep(day(299)).empty());
  lines = f.sweep(day(300));
  CHECK(lines == std::vector<std::string>{"account.inactivity_delete company=acme login=gina"});
  CHECK_FALSE(f.db->find_account("acme", "gina").ok());
  CHECK(f.get("acme", "adam").locked == lock_reason::inactivity);
  // Every step wrote the access log, and the chain still verifies.
  for (const char* action :
       {"account.inactivity_reminder", "account.inactivity_lock", "account.inactivity_delete"}) {
    CAPTURE(action);
    CHECK(f.scalar(std::string("SELECT count(*) FROM audit_log WHERE action = '") + action +
                   "' AND target = 'gina'") == 1);
  }
  auto report = verify_audit_file(f.path());
  REQUIRE(report.ok());
  CHECK(report->intact());
  // The administrator stays locked (years later only the access-log purge acts).
  CHECK_FALSE(f.has_line(f.sweep(day(1000)), "account."));
  CHECK(f.get("acme", "adam").locked == lock_reason::inactivity);
}

TEST_CASE("a dry run reports the step and changes nothing") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  f.make_account("acme", "gina", "operator", "gina@example.com");
  auto head = f.scalar("SELECT seq FROM audit_head");
  auto lines = f.sweep(day(180), true);
  CHECK(lines ==
        std::vector<std::string>{"dry-run account.inactivity_reminder company=acme login=gina"});
  CHECK_FALSE(f.get("acme", "gina").reminder_sent_at_s.has_value());
  CHECK(f.scalar("SELECT count(*) FROM mail_outbox") == 0);
  CHECK(f.scalar("SELECT seq FROM audit_head") == head);
}

TEST_CASE("a login before the next step resets the cycle") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  auto a = f.make_account("acme", "gina", "operator", "");
  CHECK(f.has_line(f.sweep(day(180)), "account.inactivity_reminder company=acme login=gina"));
  // Without an address the step still happens; no mail is queued.
  CHECK(f.scalar("SELECT count(*) FROM mail_outbox") == 0);
  REQUIRE(f.db->record_login_success("acme", a.id, common::to_unix_s(day(200)),
                                     login_succeeded(f.clock), std::nullopt)
              .ok());
  // (The sweep also tells the administrators about the missing address; not this rule's lines.)
  CHECK_FALSE(f.has_line(f.sweep(day(210)), "account.inactivity"));
  CHECK(f.get("acme", "gina").locked == lock_reason::none);
  CHECK_FALSE(f.has_line(f.sweep(day(379)), "account.inactivity"));
  CHECK(f.has_line(f.sweep(day(380)), "account.inactivity_reminder company=acme login=gina"));
}

TEST_CASE("a login between the read and the write wins over the reminder") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  auto a = f.make_account("acme", "gina", "operator", "gina@example.com");
  auto stale = f.get("acme", "gina");
  REQUIRE(f.db->record_login_success("acme", a.id, common::to_unix_s(day(180)),
                                     login_succeeded(f.clock), std::nullopt)
              .ok());
  auto s = f.port->record_reminder(stale, reminder_mail(stale, 0), common::to_unix_s(day(180)));
  CHECK(s.code() == std::string(k_conflict));
  CHECK(f.scalar("SELECT count(*) FROM mail_outbox") == 0);
}

TEST_CASE("an inactivity lock is lifted by a site administrator only") {
  fixture f;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  f.make_account("acme", "gina", "operator", "");
  f.sweep(day(180));
  f.sweep(day(210));
  auto a = f.get("acme", "gina");
  REQUIRE(a.locked == lock_reason::inactivity);
  security::lockout_policy policy(security::lockout_settings{}, f.clock);
  auto by_company =
      policy.unlock(security::lock_state_of(a), security::unlocker::company_administrator);
  REQUIRE_FALSE(by_company.ok());
  CHECK(by_company.error().code() == "not_permitted");
  CHECK(policy.unlock(security::lock_state_of(a), security::unlocker::site_administrator).ok());
}

TEST_CASE("the administrators are told which accounts have no e-mail, once per notice period") {
  fixture f;
  f.settings.missing_email_notice_days = 30;
  REQUIRE(f.db->create_company("acme", "Acme").ok());
  REQUIRE(f.db->create_company("globex", "Globex").ok());
  f.make_account("acme", "adam", "administrator", "adam@example.com");
  f.make_account("acme", "ada", "administrator", "ada@example.com");
  f.make_account("acme", "gina", "operator", "");
  f.make_account("acme", "otto", "operator", "");
  f.make_account("acme", "mia", "operator", "mia@example.com");
  f.make_account("globex", "gadmin", "administrator", "g@example.com");
  const std::string line =
      "account.missing_email_notice company=acme accounts=gina,otto "
      "to=ada@example.com,adam@example.com";

  // The dry run prints the action and changes nothing.
  auto head = f.scalar("SELECT seq FROM audit_head");
  auto dry = f.sweep(day(1), true);
  CHECK(f.has_line(dry, "dry-run " + line));
  CHECK(f.scalar("SELECT count(*) FROM mail_outbox") == 0);
  CHECK(f.scalar("SELECT seq FROM audit_head") == head);

  auto lines = f.sweep(day(1));
  CHECK(f.has_line(lines, line));
  CHECK_FALSE(f.has_line(lines, "company=globex"));  // every globex account has an address
  CHECK(f.scalar("SELECT count(*) FROM mail_outbox") == 2);
  CHECK(f.scalar("SELECT count(*) FROM mail_outbox WHERE recipient = 'adam@example.com' AND "
                 "body LIKE '%gina%' AND body LIKE '%otto%' AND body NOT LIKE '%mia%'") == 1);
  CHECK(f.scalar("SELECT count(*) FROM audit_log WHERE action = 'account.missing_email_notice' "
                 "AND company_id = 'acme'") == 1);
  // Daily sweeps do not repeat it within the period; after it, the notice comes again.
  for (double d : {2.0, 10.0, 30.5}) {
    CAPTURE(d);
    CHECK_FALSE(f.has_line(f.sweep(day(d)), "account.missing_email_notice"));
  }
  CHECK(f.scalar("SELECT count(*) FROM mail_outbox") == 2);
  CHECK(f.has_line(f.sweep(day(31)), line));
  CHECK(f.scalar("SELECT count(*) FROM mail_outbox") == 4);
  // Once every account has an address, there is nothing to tell.
  REQUIRE(f.raw_exec("UPDATE accounts SET email = login_id || '@example.com'") == "");
  CHECK_FALSE(f.has_line(f.sweep(day(70)), "account.missing_email_notice"));
}

}  // namespace aterm::cloud::jobs::test
