#include <doctest/doctest.h>

#include "jobs_env.h"

namespace aterm::test::jobs {

TEST_CASE("jobs run: the whole lifecycle of a general and an administrator account") {
  jobs_env env;
  env.configure();
  env.seed_acme();
  std::int64_t gina = env.created_at("acme", "gina");
  std::int64_t adam = env.created_at("acme", "adam");
  REQUIRE(gina > 0);
  REQUIRE(adam >= gina);
  auto sweep = [&](std::int64_t at, bool dry = false) {
    std::vector<std::string> args{"jobs", "run", "--as-of", iso(at)};
    if (dry) args.push_back("--dry-run");
    auto r = env.cli(args);
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    return r.out;
  };
  const std::string remind_gina = "account.inactivity_reminder company=acme login=gina";
  const std::string remind_adam = "account.inactivity_reminder company=acme login=adam";
  const std::string lock_gina = "account.inactivity_lock company=acme login=gina";
  const std::string lock_adam = "account.inactivity_lock company=acme login=adam";
  const std::string delete_gina = "account.inactivity_delete company=acme login=gina";

  CHECK_FALSE(has_line(sweep(gina + 179 * k_day_s), remind_gina));
  auto out = sweep(adam + 180 * k_day_s);
  CHECK(has_line(out, remind_gina));
  CHECK(has_line(out, remind_adam));
  CHECK(env.scalar("SELECT count(*) FROM mail_outbox WHERE recipient = 'gina@example.com'") == 1);
  std::int64_t reminded = adam + 180 * k_day_s;

  out = sweep(reminded + 29 * k_day_s);
  CHECK_FALSE(has_line(out, lock_gina));
  out = sweep(reminded + 30 * k_day_s, true);
  CHECK(has_line(out, "dry-run " + lock_gina));
  CHECK(env.scalar("SELECT count(*) FROM accounts WHERE lock_reason = 'inactivity'") == 0);
  out = sweep(reminded + 30 * k_day_s);
  CHECK(has_line(out, lock_gina));
  CHECK(has_line(out, lock_adam));
  std::int64_t locked = reminded + 30 * k_day_s;

  CHECK_FALSE(has_line(sweep(locked + 89 * k_day_s), delete_gina));
  out = sweep(locked + 90 * k_day_s);
  CHECK(has_line(out, delete_gina));
  CHECK_FALSE(has_line(out, "account.inactivity_delete company=acme login=adam"));
  CHECK(env.scalar("SELECT count(*) FROM accounts WHERE login_id = 'gina'") == 0);
  CHECK(env.scalar("SELECT count(*) FROM accounts WHERE login_id = 'adam' "
                   "AND lock_reason = 'inactivity'") == 1);

  // The host's operator (a site administrator) lifts the administrator's inactivity lock.
  auto unlock = env.cli({"admin", "account", "unlock", "--company", "acme", "--login", "adam"});
  CHECK_MESSAGE(unlock.exit_code == 0, unlock.err);
  CHECK(unlock.out.find("\"unlocked\":\"inactivity\"") != std::string::npos);
  CHECK(env.scalar("SELECT count(*) FROM accounts WHERE login_id = 'adam' "
                   "AND lock_reason = 'none'") == 1);
  CHECK(env.cli({"admin", "account", "unlock", "--company", "acme", "--login", "adam"}).exit_code ==
        1);

  auto verify = env.cli({"audit", "verify"});
  CHECK_MESSAGE(verify.exit_code == 0, (verify.out + verify.err));

  // A year later the access log is purged behind a checkpoint and still verifies.
  out = sweep(locked + 400 * k_day_s);
  CHECK(out.find("audit.purge records=") != std::string::npos);
  CHECK(env.scalar("SELECT count(*) FROM audit_log WHERE action = 'audit.checkpoint'") == 1);
  verify = env.cli({"audit", "verify"});
  CHECK_MESSAGE(verify.exit_code == 0, (verify.out + verify.err));
}

TEST_CASE("jobs run refuses a missing or bad --as-of") {
  jobs_env env;
  env.configure();
  CHECK(env.cli({"jobs", "run"}).exit_code == 2);
  CHECK(env.cli({"jobs", "run", "--as-of", "yesterday"}).exit_code == 2);
}

TEST_CASE("backups over 9 days leave 7 and restore round trip and a corrupt backup is refused") {
  jobs_env env;
  env.configure();
  env.must({"admin", "init"});
  env.must({"admin", "company", "create", "--id", "acme", "--name", "Acme"});
  std::int64_t start = 1'790'000'000;
  for (int d = 0; d < 9; ++d) {
    auto r = env.cli({"backup", "--as-of", iso(start + d * k_day_s)});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  }
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(env.backups())) {
    if (e.path().extension() == ".db") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() == 7);
  CHECK(files.front().find(iso(start + 2 * k_day_s).substr(0, 10)) != std::string::npos);

  env.must({"admin", "company", "create", "--id", "globex", "--name", "Globex"});
  REQUIRE(env.scalar("SELECT count(*) FROM companies WHERE id = 'globex'") == 1);

  SUBCASE("restore round trip") {
    auto r = env.cli({"restore", files.back()});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(env.scalar("SELECT count(*) FROM companies WHERE id = 'globex'") == 0);
    CHECK(env.scalar("SELECT count(*) FROM companies WHERE id = 'acme'") == 1);
    auto verify = env.cli({"audit", "verify"});
    CHECK_MESSAGE(verify.exit_code == 0, (verify.out + verify.err));
  }
  SUBCASE("a corrupt backup is refused and changes nothing") {
    std::string bytes = read_file(files.back());
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x55);
    write_file(files.back(), bytes);
    auto r = env.cli({"restore", files.back()});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("restore refused") != std::string::npos);
    CHECK(env.scalar("SELECT count(*) FROM companies WHERE id = 'globex'") == 1);
  }
}

}  // namespace aterm::test::jobs
