// A change and its access-log record commit together or not at all, on the real daemon: a
// trigger added behind the daemon's back refuses one action's record.
#include <doctest/doctest.h>

#include "aterm/test/sql.h"
#include "cloud_stack.h"

namespace aterm::test {

TEST_CASE("refused_audit_write_undoes_the_operation_and_answers_500") {
  cloud_stack s;
  auto acme = s.client("acme");
  const auto db = s.db_path();
  REQUIRE(exec_sql(db,
                   "CREATE TRIGGER refuse_destination_audit BEFORE INSERT ON audit_log "
                   "WHEN NEW.action = 'destination.create' "
                   "BEGIN SELECT RAISE(ABORT, 'access log refused'); END") == "");
  const auto records = query_int(db, "SELECT count(*) FROM audit_log");

  auto r = acme.request("POST", "destinations", R"({"name": "unrecorded"})");
  CHECK(r.status == 500);
  CHECK(query_int(db, "SELECT count(*) FROM destinations WHERE name = 'unrecorded'") == 0);
  CHECK(query_int(db, "SELECT count(*) FROM audit_log") == records);

  // Once the log takes records again, the same operation succeeds and is recorded.
  REQUIRE(exec_sql(db, "DROP TRIGGER refuse_destination_audit") == "");
  r = acme.request("POST", "destinations", R"({"name": "recorded"})");
  CHECK(r.status == 201);
  CHECK(query_int(db, "SELECT count(*) FROM destinations WHERE name = 'recorded'") == 1);
  CHECK(query_int(db,
                  "SELECT count(*) FROM audit_log WHERE action = 'destination.create' AND "
                  "result = 'success'") == 1);
  CHECK(s.cli({"audit", "verify"}).exit_code == 0);
}

// A sign-in changes the store too (a new session, the failure count): refused records undo it.
TEST_CASE("refused_login_record_undoes_the_session_and_the_failure_count") {
  cloud_stack s;
  const auto db = s.db_path();
  const auto password = s.admin_password("acme");
  REQUIRE(exec_sql(db,
                   "CREATE TRIGGER refuse_login_audit BEFORE INSERT ON audit_log "
                   "WHEN NEW.action = 'login' "
                   "BEGIN SELECT RAISE(ABORT, 'access log refused'); END") == "");
  const auto records = query_int(db, "SELECT count(*) FROM audit_log");
  const auto sessions = query_int(db, "SELECT count(*) FROM sessions");
  const std::string logins =
      "SELECT count(*) FROM audit_log WHERE action = 'login' AND result = 'success'";
  const auto logged_in = query_int(db, logins);

  auto c = s.make_client();
  auto r = c.login("acme", "admin", password);
  CHECK(r.status == 500);
  CHECK(c.cookie().empty());
  CHECK(query_int(db, "SELECT count(*) FROM sessions") == sessions);

  r = c.login("acme", "admin", "a wrong password, twice over");
  CHECK(r.status == 500);
  CHECK(query_int(db,
                  "SELECT failed_count FROM accounts WHERE login_id = 'admin' AND "
                  "company_id = 'acme'") == 0);
  CHECK(query_int(db, "SELECT count(*) FROM audit_log") == records);

  REQUIRE(exec_sql(db, "DROP TRIGGER refuse_login_audit") == "");
  r = c.login("acme", "admin", password);
  CHECK(r.status == 200);
  CHECK(query_int(db, "SELECT count(*) FROM sessions") == sessions + 1);
  CHECK(query_int(db, logins) == logged_in + 1);
  CHECK(s.cli({"audit", "verify"}).exit_code == 0);
}

}  // namespace aterm::test
