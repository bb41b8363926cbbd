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

}  // namespace aterm::test
