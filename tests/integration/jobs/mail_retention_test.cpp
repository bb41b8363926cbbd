// Sent mail leaves the outbox through `aterm-cloud jobs run` once retention.mail_sent_days have
// passed since it was sent; unsent mail stays. The real binary on its own SQLite file. The
// outbox worker's part (setting sent_at_s) is written with SQL here; integration_jobs' mail
// delivery case and unit_cloud_jobs show the worker doing it.
#include <doctest/doctest.h>

#include "aterm/test/sql.h"
#include "jobs_env.h"

namespace aterm::test::jobs {

TEST_CASE("jobs run deletes sent mail after retention.mail_sent_days and keeps unsent mail") {
  jobs_env env;
  env.configure(R"("retention": {"mail_sent_days": 7},)");
  env.seed_acme();
  auto queued =
      env.cli({"jobs", "run", "--as-of", iso(env.created_at("acme", "adam") + 180 * k_day_s)});
  REQUIRE_MESSAGE(queued.exit_code == 0, queued.err);
  REQUIRE(env.scalar("SELECT count(*) FROM mail_outbox") == 2);
  const std::int64_t sent = env.created_at("acme", "adam") + 181 * k_day_s;
  REQUIRE(exec_sql(env.db(), "UPDATE mail_outbox SET sent_at_s = " + std::to_string(sent) +
                                 ", attempts = 1 WHERE recipient = 'gina@example.com'") == "");
  // adam's mail failed once and waits for its next attempt.
  REQUIRE(exec_sql(env.db(),
                   "UPDATE mail_outbox SET attempts = 1, last_error = 'smtp: 451', "
                   "next_attempt_s = " +
                       std::to_string(sent + 60) + " WHERE recipient = 'adam@example.com'") == "");
  auto count = [&](const std::string& who) {
    return env.scalar("SELECT count(*) FROM mail_outbox WHERE recipient = '" + who + "'");
  };
  auto sweep = [&](std::int64_t at, bool dry) {
    std::vector<std::string> args{"jobs", "run", "--as-of", iso(at)};
    if (dry) args.push_back("--dry-run");
    auto r = env.cli(args);
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    return r.out;
  };
  const std::int64_t due = sent + 7 * k_day_s;

  CHECK(sweep(due - 1, false).find("mail.purge") == std::string::npos);
  CHECK(count("gina@example.com") == 1);
  CHECK(has_line(sweep(due, true), "dry-run mail.purge records=1"));
  CHECK(count("gina@example.com") == 1);
  CHECK(has_line(sweep(due, false), "mail.purge records=1"));
  CHECK(count("gina@example.com") == 0);
  CHECK(count("adam@example.com") == 1);
  // A year on (the lock notices are queued meanwhile, and never sent): the failing mail stays.
  CHECK(sweep(due + 400 * k_day_s, false).find("mail.purge") == std::string::npos);
  CHECK(env.scalar("SELECT count(*) FROM mail_outbox WHERE last_error = 'smtp: 451'") == 1);
  CHECK(env.scalar("SELECT count(*) FROM mail_outbox WHERE sent_at_s IS NOT NULL") == 0);
  // The purge's access-log record is part of an intact chain.
  auto verify = env.cli({"audit", "verify"});
  CHECK_MESSAGE(verify.exit_code == 0, verify.out, verify.err);
}

TEST_CASE("retention.mail_sent_days outside 1 to 36500 days is refused naming the key") {
  struct row {
    std::string value;
    bool accepted;
  };
  const std::vector<row> rows = {{"1", true},      {"36500", true},   {"0", false},
                                 {"36501", false}, {"\"30\"", false}, {"-1", false}};
  for (const auto& r : rows) {
    CAPTURE(r.value);
    jobs_env env;
    env.configure(R"("retention": {"mail_sent_days": )" + r.value + "},");
    auto res = env.cli({"jobs", "run", "--as-of", "2027-01-01T00:00:00Z", "--dry-run"});
    CHECK((res.exit_code == 0) == r.accepted);
    if (!r.accepted) CHECK(res.err.find("retention.mail_sent_days") != std::string::npos);
  }
}

}  // namespace aterm::test::jobs
