// Account security against the real daemon (DESIGN.md sections 5 and 6), with durations
// shortened through the configuration. Every wait is wait_until with a deadline.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "accounts_fixture.h"
#include "aterm/test/sql.h"

using namespace aterm::test;
using aterm::common::json_ptr;

namespace {

constexpr const char* k_good = "correct-horse-battery";
constexpr const char* k_bad = "wrong-password-guess";

double metric(cloud_stack& s, const std::string& name) {
  return std::max(0.0, metric_value(s.metrics(), name));
}

}  // namespace

TEST_CASE("five wrong passwords lock the account and four do not") {
  cloud_stack s(accounts(R"("lockout_s": 3)"));
  auto id = s.create_account("acme", "alice", "operator", k_good);
  auto c = s.make_client();
  for (int i = 0; i < 4; ++i) CHECK(c.login("acme", "alice", k_bad).status == 401);
  CHECK(account_of(s, "acme", id).str("locked") == "none");
  // Four failures, then the right password: accepted and the count starts over.
  CHECK(c.login("acme", "alice", k_good).status == 200);
  for (int i = 0; i < 4; ++i) CHECK(c.login("acme", "alice", k_bad).status == 401);
  CHECK(account_of(s, "acme", id).str("locked") == "none");
  auto fifth = c.login("acme", "alice", k_bad);
  CHECK(fifth.status == 401);
  CHECK(fifth.str("error") == "login_failed");
  CHECK(account_of(s, "acme", id).str("locked") == "failed_logins");

  // While locked, the correct password is refused with the same answer and is not checked.
  double before = metric(s, "aterm_api_password_verifications_total");
  auto refused = c.login("acme", "alice", k_good);
  CHECK(refused.status == 401);
  CHECK(refused.str("error") == "login_failed");
  CHECK(metric(s, "aterm_api_password_verifications_total") == before);

  // After the lock time the right password works again.
  CHECK(wait_until([&] { return c.login("acme", "alice", k_good).status == 200; }, 15s, 250ms));
}

TEST_CASE("after a lock ran out the first wrong password does not lock again") {
  cloud_stack s(accounts(R"("lockout_s": 2)"));
  auto id = s.create_account("acme", "bob", "viewer", k_good);
  auto c = s.make_client();
  for (int i = 0; i < 5; ++i) CHECK(c.login("acme", "bob", k_bad).status == 401);
  REQUIRE(account_of(s, "acme", id).str("locked") == "failed_logins");
  REQUIRE(
      wait_until([&] { return account_of(s, "acme", id).str("locked") == "none"; }, 15s, 250ms));
  // The policy allows five again: four failures leave it open.
  for (int i = 0; i < 4; ++i) CHECK(c.login("acme", "bob", k_bad).status == 401);
  CHECK(account_of(s, "acme", id).str("locked") == "none");
  CHECK(c.login("acme", "bob", k_good).status == 200);
}

TEST_CASE("fifty parallel wrong logins verify at most five passwords before the lock") {
  cloud_stack s(accounts());
  auto id = s.create_account("acme", "carol", "viewer", k_good);
  double before = metric(s, "aterm_api_password_verifications_total");
  std::vector<std::thread> threads;
  std::atomic<int> not_401{0};
  for (int i = 0; i < 50; ++i) {
    // Spread over addresses so the per-address throttle does not hide the gate.
    std::string local = "127.0.1." + std::to_string(1 + i);
    threads.emplace_back([&, local] {
      try {
        auto c = s.make_client(local);
        if (c.login("acme", "carol", k_bad).status != 401) ++not_401;
      } catch (const std::exception&) {
        ++not_401;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(not_401 == 0);
  double verified = metric(s, "aterm_api_password_verifications_total") - before;
  CHECK(verified >= 1);
  CHECK(verified <= 5);
  CHECK(account_of(s, "acme", id).str("locked") == "failed_logins");
}

TEST_CASE(
    "one wrong guess on each of a hundred accounts from one address is throttled and "
    "raises the alarm") {
  cloud_stack s(accounts(R"("throttle_failures": 10, "alarm_failures": 20)"));
  auto adm = s.client("acme");
  create_viewers(s, adm, 100, k_good);
  double before = metric(s, "aterm_api_password_verifications_total");
  auto attacker = s.make_client("127.0.0.9");
  for (int i = 0; i < 100; ++i) {
    auto a = attacker.login("acme", "user" + std::to_string(i), k_bad);
    CHECK(a.status == 401);
    CHECK(a.str("error") == "login_failed");
  }
  // Only the first 10 reached a password check; the other 90 were refused by the throttle.
  CHECK(metric(s, "aterm_api_password_verifications_total") - before == 10);
  // Even the right password is refused from the throttled address, not from another one.
  CHECK(attacker.login("acme", "user0", k_good).status == 401);
  CHECK(s.make_client("127.0.0.10").login("acme", "user0", k_good).status == 200);
  // No account got locked by one guess each.
  auto list = adm.request("GET", "accounts");
  REQUIRE(list.status == 200);
  CHECK(list.body.find("failed_logins") == std::string::npos);

  auto site = s.client("platform");
  auto alarms = site.request("GET", "admin/alarms");
  REQUIRE(alarms.status == 200);
  CHECK(alarms.body.find("login_failure_burst") != std::string::npos);
  CHECK(alarms.body.find("\"company_id\":\"acme\"") != std::string::npos);
  CHECK(alarms.body.find("\"company_id\":\"platform\"") != std::string::npos);
  s.stop_cloud();
  // The alarm mail is queued durably for mail.alarm_to.
  CHECK(query_int(s.db_path(),
                  "SELECT count(*) FROM mail_outbox WHERE recipient = 'soc@example.com' AND "
                  "subject LIKE '%login failure burst%'") >= 1);
}

TEST_CASE("a session ends after the idle time and after its lifetime") {
  SUBCASE("idle") {
    cloud_stack s(accounts(R"("session_idle_s": 2, "session_max_s": 3600)"));
    auto c = s.client("acme");
    // Used every half second for longer than the idle time: it lives on.
    auto t0 = std::chrono::steady_clock::now();
    bool alive = true;
    while (alive && std::chrono::steady_clock::now() - t0 < 3s) {
      alive = c.request("GET", "session").status == 200;
      wait_until([&] { return std::chrono::steady_clock::now() - t0 >= 3s; }, 500ms, 10ms);
    }
    CHECK(alive);
    // Left alone, the server ends it: the wait is the idle time under test, not a sync.
    auto idle_from = std::chrono::steady_clock::now();
    wait_until([&] { return std::chrono::steady_clock::now() - idle_from >= 2500ms; }, 5s, 50ms);
    // session_expired, or unauthenticated once the session sweep deleted it first.
    CHECK(c.request("GET", "session").status == 401);
  }
  SUBCASE("lifetime despite use") {
    cloud_stack s(accounts(R"("session_idle_s": 3600, "session_max_s": 3)"));
    auto c = s.client("acme");
    auto start = std::chrono::steady_clock::now();
    // Kept busy, it still ends.
    bool ended = wait_until([&] { return c.request("GET", "session").status == 401; }, 15s, 200ms);
    CHECK(ended);
    CHECK(std::chrono::steady_clock::now() - start >= 2s);
  }
}

TEST_CASE("logout and a lock and deletion and a password change end the account's sessions") {
  cloud_stack s(accounts());
  auto adm = s.client("acme");
  SUBCASE("logout: the old cookie answers 401") {
    auto c = s.client("acme");
    auto old_cookie = c.cookie();
    CHECK(c.request("DELETE", "session").status == 204);
    c.use_cookie(old_cookie);
    CHECK(c.request("GET", "session").status == 401);
  }
  SUBCASE("disabling an account") {
    auto id = s.create_account("acme", "dave", "operator", k_good);
    auto d = s.make_client();
    REQUIRE(d.login("acme", "dave", k_good).status == 200);
    REQUIRE(d.request("GET", "devices").status == 200);
    CHECK(adm.request("PATCH", "accounts/" + std::to_string(id), R"({"locked":true})").status ==
          200);
    CHECK(d.request("GET", "devices").status == 401);
    CHECK(d.login("acme", "dave", k_good).status == 401);
    // The company administrator lifts an administrator lock.
    CHECK(adm.request("PATCH", "accounts/" + std::to_string(id), R"({"locked":false})").status ==
          200);
    CHECK(d.login("acme", "dave", k_good).status == 200);
  }
  SUBCASE("a lock by failed logins") {
    s.create_account("acme", "lou", "operator", k_good);
    auto l = s.make_client();
    REQUIRE(l.login("acme", "lou", k_good).status == 200);
    auto guesser = s.make_client("127.0.0.5");
    for (int i = 0; i < 5; ++i) CHECK(guesser.login("acme", "lou", k_bad).status == 401);
    CHECK(l.request("GET", "devices").status == 401);
  }
  SUBCASE("deletion") {
    auto id = s.create_account("acme", "erin", "operator", k_good);
    auto e = s.make_client();
    REQUIRE(e.login("acme", "erin", k_good).status == 200);
    CHECK(adm.request("DELETE", "accounts/" + std::to_string(id)).status == 204);
    CHECK(e.request("GET", "devices").status == 401);
    CHECK(adm.request("GET", "accounts/" + std::to_string(id)).status == 404);
  }
  SUBCASE("password change") {
    auto id = s.create_account("acme", "frank", "operator", k_good);
    auto f = s.make_client();
    REQUIRE(f.login("acme", "frank", k_good).status == 200);
    auto other = s.make_client();
    REQUIRE(other.login("acme", "frank", k_good).status == 200);
    auto changed =
        f.request("POST", "accounts/" + std::to_string(id) + "/password",
                  json_body({{"current_password", k_good}, {"password", "a-new-long-password"}}));
    CHECK(changed.status == 204);
    CHECK(f.request("GET", "session").status == 401);
    CHECK(other.request("GET", "session").status == 401);
    CHECK(f.login("acme", "frank", k_good).status == 401);
    CHECK(f.login("acme", "frank", "a-new-long-password").status == 200);
  }
}

TEST_CASE("the session token changes at every login and is a 256-bit random value") {
  cloud_stack s(accounts());
  auto a = s.client("acme");
  auto b = s.client("acme");
  CHECK(a.cookie() != b.cookie());
  auto token = a.cookie().substr(a.cookie().find('=') + 1);
  CHECK(token.size() >= 22);  // >= 128 bits in base64url
  auto first = a.cookie();
  // Logging in again while carrying the session replaces it; the old cookie is dead.
  auto again = a.request(
      "POST", "session",
      json_body(
          {{"company_id", "acme"}, {"login_id", "admin"}, {"password", s.admin_password("acme")}}));
  REQUIRE(again.status == 200);
  auto renewed = again.header("set-cookie");
  CHECK(renewed.substr(0, renewed.find(';')) != first);
  auto stale = s.make_client();
  stale.use_cookie(first);
  CHECK(stale.request("GET", "session").status == 401);
  // The cookie carries the attributes of DESIGN.md section 6.
  auto c = s.make_client();
  auto login = c.login("acme", "admin", s.admin_password("acme"));
  auto set_cookie = login.header("set-cookie");
  CHECK(set_cookie.starts_with("__Host-aterm_session="));
  for (const char* attr : {"HttpOnly", "Secure", "SameSite=Strict", "Path=/"}) {
    CHECK(set_cookie.find(attr) != std::string::npos);
  }
}

TEST_CASE("every login failure answers the same 401 and unknown accounts cost a hash") {
  cloud_stack s(accounts());
  s.create_account("acme", "gina", "viewer", k_good);
  auto c = s.make_client();
  double before = metric(s, "aterm_api_password_verifications_total");
  std::vector<http_answer> answers;
  answers.push_back(c.login("acme", "gina", k_bad));
  answers.push_back(c.login("acme", "nobody", k_bad));
  answers.push_back(c.login("no-such-company", "gina", k_bad));
  for (const auto& a : answers) {
    CHECK(a.status == 401);
    CHECK(a.body == answers.front().body);
  }
  // Only the existing account's hash counts as a verification; the others use the dummy hash.
  CHECK(metric(s, "aterm_api_password_verifications_total") - before == 1);
}

TEST_CASE(
    "IP restriction from a foreign address with a spoofed X-Forwarded-For and through a trusted "
    "proxy") {
  cloud_stack s(accounts("", {"127.0.0.3"}));
  auto adm = s.client("acme");
  // An allowlist that would shut out the request setting it is refused.
  CHECK(adm.request("PATCH", "company", R"({"ip_allowlist":["10.0.0.0/8"]})").status == 409);
  REQUIRE(adm.request("PATCH", "company", R"({"ip_allowlist":["127.0.0.1/32","::ffff:127.0.0.4"]})")
              .status == 200);
  auto company = adm.request("GET", "company");
  CHECK(company.body.find("127.0.0.4/32") != std::string::npos);  // mapped form normalised

  SUBCASE("login from a foreign address") {
    auto foreign = s.make_client("127.0.0.2");
    auto a = foreign.login("acme", "admin", s.admin_password("acme"));
    // The uniform 401 of every failed login: the refusal does not tell the company exists.
    CHECK(a.status == 401);
    CHECK(a.str("error") == "login_failed");
    CHECK(s.make_client("127.0.0.4").login("acme", "admin", s.admin_password("acme")).status ==
          200);
  }
  SUBCASE("a session used from a foreign address") {
    auto foreign = s.make_client("127.0.0.2");
    foreign.use_cookie(adm.cookie());
    foreign.use_csrf(adm.csrf());
    CHECK(foreign.request("GET", "devices").status == 403);
    CHECK(adm.request("GET", "devices").status == 200);
  }
  SUBCASE("X-Forwarded-For from an untrusted peer is ignored") {
    auto foreign = s.make_client("127.0.0.2");
    auto a = foreign.request("POST", "session",
                             json_body({{"company_id", "acme"},
                                        {"login_id", "admin"},
                                        {"password", s.admin_password("acme")}}),
                             {{"X-Forwarded-For", "127.0.0.1"}});
    CHECK(a.status == 401);
  }
  SUBCASE("through a trusted proxy the right-most untrusted address counts") {
    auto proxy = s.make_client("127.0.0.3");
    auto body = json_body(
        {{"company_id", "acme"}, {"login_id", "admin"}, {"password", s.admin_password("acme")}});
    // The client spoofs an allowed address on the left; the proxy appends the real one.
    // Refused like every failed login (the access log keeps ip_not_allowed).
    CHECK(proxy.request("POST", "session", body, {{"X-Forwarded-For", "127.0.0.1, 127.0.0.2"}})
              .status == 401);
    CHECK(proxy.request("POST", "session", body, {{"X-Forwarded-For", "127.0.0.2, 127.0.0.1"}})
              .status == 200);
    // Proxy itself trusted and skipped: "127.0.0.1, 127.0.0.3" is the client 127.0.0.1.
    CHECK(proxy.request("POST", "session", body, {{"X-Forwarded-For", "127.0.0.1, 127.0.0.3"}})
              .status == 200);
    auto bad = proxy.request("POST", "session", body, {{"X-Forwarded-For", "not-an-address"}});
    CHECK(bad.status == 400);
    CHECK(bad.str("error") == "bad_forwarded_for");
  }
  // Refusals are in the access log.
  auto audit = adm.request("GET", "audit");
  CHECK(audit.body.find("ip_not_allowed") != std::string::npos);
}

TEST_CASE("a state-changing request without the CSRF header answers 403") {
  cloud_stack s(accounts());
  auto adm = s.client("acme");
  auto csrf = adm.csrf();
  adm.use_csrf("");
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "accounts"}, {"PATCH", "company"}, {"POST", "roles"}, {"DELETE", "session"}}) {
    auto a = adm.request(method, path, "{}");
    CHECK_MESSAGE(a.status == 403, method << " " << path);
    CHECK(a.str("error") == "csrf_failed");
  }
  adm.use_csrf("wrong");
  CHECK(adm.request("DELETE", "session").status == 403);
  adm.use_csrf(csrf);
  CHECK(adm.request("GET", "session").status == 200);
}

TEST_CASE("the security headers are on every answer") {
  cloud_stack s(accounts());
  auto adm = s.client("acme");
  for (const auto& a : {adm.request("GET", "accounts"), adm.request("GET", "nope"),
                        s.make_client().login("acme", "admin", "x")}) {
    CHECK(a.header("strict-transport-security").find("max-age=") != std::string::npos);
    CHECK(a.header("content-security-policy").find("frame-ancestors 'none'") != std::string::npos);
    CHECK(a.header("x-content-type-options") == "nosniff");
    CHECK(a.header("cache-control").find("no-store") != std::string::npos);
  }
}

TEST_CASE("another company's ids answer 404 on every route and method") {
  cloud_stack s(accounts());
  auto acme = s.client("acme");
  auto globex = s.client("globex");
  // globex's objects.
  auto gacct = globex.request("POST", "accounts",
                              json_body({{"login_id", "gx"},
                                         {"role", "viewer"},
                                         {"email", "gx@globex.example"},
                                         {"password", k_good}}));
  REQUIRE(gacct.status == 201);
  auto grole =
      globex.request("POST", "roles", R"({"name":"auditors","permissions":["audit.read"]})");
  REQUIRE(grole.status == 201);
  auto gdest = globex.request("POST", "destinations", R"({"name":"gx-dest"})");
  REQUIRE(gdest.status == 201);
  REQUIRE(s.cli({"admin", "device", "register", "--company", "globex", "--device", "gx-router-1"})
              .exit_code == 0);
  auto gcmd = globex.request("POST", "devices/gx-router-1/commands", R"({"op":"ping"})");
  REQUIRE(gcmd.status == 202);
  auto gtech = globex.request("POST", "devices/gx-router-1/technician-logins");
  REQUIRE(gtech.status == 201);

  const std::string acct = std::to_string(gacct.num("id"));
  const std::string role = std::to_string(grole.num("id"));
  const std::string dest = std::to_string(gdest.num("id"));
  const std::string cmd = gcmd.str("id");
  const std::string tech = gtech.str("login_id");
  struct row {
    std::string method, path, body;
  };
  const std::vector<row> table = {
      {"GET", "accounts/" + acct, ""},
      {"PATCH", "accounts/" + acct, R"({"email":"x@example.com"})"},
      {"PATCH", "accounts/" + acct, R"({"locked":true})"},
      {"DELETE", "accounts/" + acct, ""},
      {"POST", "accounts/" + acct + "/password", R"({"password":"another-long-password"})"},
      {"PATCH", "roles/" + role, R"({"permissions":["device.read"]})"},
      {"DELETE", "roles/" + role, ""},
      {"GET", "destinations/" + dest, ""},
      {"PATCH", "destinations/" + dest, R"({"name":"mine"})"},
      {"DELETE", "destinations/" + dest, ""},
      {"POST", "destinations/" + dest + "/devices", R"({"device_id":"ac-router-1"})"},
      {"GET", "devices/gx-router-1", ""},
      {"POST", "devices/gx-router-1/commands", R"({"op":"ping"})"},
      {"GET", "commands/" + cmd, ""},
      {"POST", "devices/gx-router-1/technician-logins", ""},
      {"GET", "devices/gx-router-1/technician-logins", ""},
      {"DELETE", "devices/gx-router-1/technician-logins/" + tech, ""},
  };
  for (const auto& r : table) {
    auto a = acme.request(r.method, r.path, r.body);
    CHECK_MESSAGE(a.status == 404,
                  r.method << " " << r.path << " -> " << a.status << " " << a.body);
  }
  // Lists never show the other company's rows.
  for (const char* path : {"accounts", "roles", "destinations", "devices", "audit"}) {
    auto a = acme.request("GET", path);
    CHECK(a.status == 200);
    for (const char* theirs : {"\"gx\"", "gx-dest", "auditors"}) {
      CHECK_MESSAGE(a.body.find(theirs) == std::string::npos, path << ": " << a.body);
    }
  }
  // And globex's objects are unchanged.
  auto still = globex.request("GET", "accounts/" + acct);
  CHECK(still.status == 200);
  CHECK(still.str("email") == "gx@globex.example");
  CHECK(still.str("locked") == "none");
  CHECK(s.make_client().login("globex", "gx", k_good).status == 200);
  CHECK(globex.request("GET", "commands/" + cmd).status == 200);
  CHECK(globex.request("GET", "destinations/" + dest).str("name") == "gx-dest");
  // The site administrator's routes are closed to company administrators.
  CHECK(acme.request("GET", "admin/companies").status == 403);
  CHECK(acme.request("GET", "admin/alarms").status == 403);
}

TEST_CASE("role x route permission matrix") {
  cloud_stack s(accounts());
  auto adm = s.client("acme");
  REQUIRE(
      adm.request("POST", "roles", R"({"name":"auditor","permissions":["audit.read"]})").status ==
      201);
  s.create_account("acme", "op", "operator", k_good);
  s.create_account("acme", "view", "viewer", k_good);
  s.create_account("acme", "aud", "auditor", k_good);
  REQUIRE(s.cli({"admin", "device", "register", "--company", "acme", "--device", "ac-router-1"})
              .exit_code == 0);

  struct route {
    std::string method, path, body, permission;
  };
  // A body that fails validation after the permission check still shows the check passed
  // (anything but 403 means the permission was granted).
  const std::vector<route> routes = {
      {"GET", "devices", "", "device.read"},
      {"GET", "devices/ac-router-1", "", "device.read"},
      {"POST", "devices/ac-router-1/commands", R"({"op":"no.such.op"})", "device.command"},
      {"GET", "devices/ac-router-1/technician-logins", "", "device.technician_login"},
      {"POST", "destinations", R"({})", "destination.manage"},
      {"POST", "destinations/999999/devices", R"({})", "device.register"},
      {"GET", "accounts", "", "account.read"},
      {"POST", "accounts", R"({})", "account.manage"},
      {"PATCH", "accounts/999999", R"({})", "account.manage"},
      {"DELETE", "accounts/999999", "", "account.manage"},
      {"POST", "accounts/999999/password", R"({})", "account.manage"},
      {"GET", "roles", "", "account.read"},
      {"POST", "roles", R"({})", "role.manage"},
      {"PATCH", "roles/999999", R"({})", "role.manage"},
      {"DELETE", "roles/999999", "", "role.manage"},
      {"GET", "audit", "", "audit.read"},
      {"GET", "company", "", "company.settings"},
      {"PATCH", "company", R"({})", "company.settings"},
  };
  struct who {
    std::string login;
    std::vector<std::string> permissions;
  };
  const std::vector<who> people = {
      {"op", {"device.read", "device.command", "device.technician_login", "account.read"}},
      {"view", {"device.read"}},
      {"aud", {"audit.read"}},
  };
  for (const auto& p : people) {
    auto c = s.make_client();
    REQUIRE(c.login("acme", p.login, k_good).status == 200);
    for (const auto& r : routes) {
      bool allowed = std::find(p.permissions.begin(), p.permissions.end(), r.permission) !=
                     p.permissions.end();
      auto a = c.request(r.method, r.path, r.body);
      if (allowed) {
        CHECK_MESSAGE(a.status != 403, p.login << " " << r.method << " " << r.path);
      } else {
        CHECK_MESSAGE(a.status == 403,
                      p.login << " " << r.method << " " << r.path << " -> " << a.status);
        CHECK(a.str("error") == "forbidden");
      }
    }
  }
  // The administrator holds every permission.
  for (const auto& r : routes) CHECK(adm.request(r.method, r.path, r.body).status != 403);
  // Refusals are logged as denied.
  auto log = adm.request("GET", "audit?account=view");
  CHECK(log.body.find("\"result\":\"denied\"") != std::string::npos);
}

TEST_CASE(
    "accounts get a generated first password and follow the password rules and the role's "
    "administrator flag") {
  cloud_stack s(accounts());
  auto adm = s.client("acme");
  auto created = adm.request("POST", "accounts",
                             R"({"login_id":"hana","role":"viewer","email":"hana@acme.example"})");
  REQUIRE(created.status == 201);
  auto generated = created.str("password");
  CHECK(generated.size() >= 12);
  auto id = std::to_string(created.num("id"));
  CHECK(adm.request("GET", "accounts/" + id).str("password").empty());
  auto h = s.make_client();
  REQUIRE(h.login("acme", "hana", generated).status == 200);

  // Administrator flag follows the role.
  auto promoted = adm.request("PATCH", "accounts/" + id, R"({"role":"administrator"})");
  REQUIRE(promoted.status == 200);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(promoted.json.get(), "administrator")));
  CHECK(adm.request("PATCH", "accounts/" + id, R"({"role":"no-such-role"})").status == 400);

  auto change = [&](const std::string& current, const std::string& next) {
    return h.request("POST", "accounts/" + id + "/password",
                     json_body({{"current_password", current}, {"password", next}}));
  };
  CHECK(change(generated, "short").str("error") == "password_too_short");
  CHECK(change(generated, "xx-hana-xx-long-enough").str("error") == "password_contains_login");
  CHECK(change(generated, generated).str("error") == "password_reused");
  CHECK(change("not-the-current-one", "a-fine-new-password").status == 403);
  // Through four passwords: none of the last three may come back.
  std::vector<std::string> pw = {generated, "first-new-password", "second-new-password",
                                 "third-new-password"};
  for (std::size_t i = 1; i < pw.size(); ++i) {
    REQUIRE(change(pw[i - 1], pw[i]).status == 204);
    REQUIRE(h.login("acme", "hana", pw[i]).status == 200);
  }
  CHECK(change(pw[3], pw[1]).str("error") == "password_reused");
  CHECK(change(pw[3], pw[2]).str("error") == "password_reused");
  // An administrator sets another's password (rules still apply); a viewer cannot.
  CHECK(adm.request("POST", "accounts/" + id + "/password", R"({"password":"hana"})").status ==
        400);
  CHECK(adm.request("POST", "accounts/" + id + "/password", R"({"password":"set-by-the-admin"})")
            .status == 204);
  CHECK(h.login("acme", "hana", "set-by-the-admin").status == 200);
  // Nobody deletes or locks themselves.
  auto me = adm.request("GET", "session");
  REQUIRE(me.json);
  auto self = std::to_string(
      aterm::common::json_int(cJSON_GetObjectItemCaseSensitive(me.json.get(), "account"), "id")
          .value_or(0));
  CHECK(adm.request("DELETE", "accounts/" + self).status == 409);
  CHECK(adm.request("PATCH", "accounts/" + self, R"({"locked":true})").status == 409);
}

TEST_CASE("an inactivity lock is lifted only by a site administrator") {
  cloud_stack s(accounts());
  auto id = s.create_account("acme", "ivan", "operator", k_good);
  REQUIRE(exec_sql(s.db_path(), "UPDATE accounts SET lock_reason = 'inactivity' WHERE id = " +
                                    std::to_string(id)) == "");
  auto c = s.make_client();
  CHECK(c.login("acme", "ivan", k_good).status == 401);
  auto adm = s.client("acme");
  auto refused = adm.request("PATCH", "accounts/" + std::to_string(id), R"({"locked":false})");
  CHECK(refused.status == 403);
  CHECK(c.login("acme", "ivan", k_good).status == 401);
  auto site = s.client("platform");
  auto unlock =
      site.request("POST", "admin/companies/acme/accounts/" + std::to_string(id) + "/unlock");
  CHECK(unlock.status == 200);
  CHECK(unlock.str("locked") == "none");
  CHECK(c.login("acme", "ivan", k_good).status == 200);
  // The same path with another company's account id is not found.
  CHECK(site.request("POST", "admin/companies/globex/accounts/" + std::to_string(id) + "/unlock")
            .status == 404);
}

TEST_CASE("site administrators manage companies and contract ends and assign unassigned devices") {
  cloud_stack s(accounts());
  auto site = s.client("platform");
  // Every account has an address: a first administrator without one is refused, and so is the
  // company with it.
  CHECK(site.request("POST", "admin/companies",
                     R"({"id":"initech","name":"Initech","administrator":"boss"})")
            .status == 400);
  CHECK(site.request("POST", "admin/companies",
                     R"({"id":"initech","name":"Initech","administrator":"boss",)"
                     R"("administrator_email":"not an address"})")
            .status == 400);
  CHECK(site.request("GET", "admin/companies").body.find("initech") == std::string::npos);
  auto made =
      site.request("POST", "admin/companies",
                   R"({"id":"initech","name":"Initech","contract_end":"2030-03-31T23:59:59+09:00",)"
                   R"("administrator":"boss","administrator_email":"boss@initech.example"})");
  REQUIRE(made.status == 201);
  CHECK(aterm::common::json_string(
            cJSON_GetObjectItemCaseSensitive(made.json.get(), "administrator"), "email")
            .value_or("") == "boss@initech.example");
  CHECK(made.str("contract_end") == "2030-03-31T23:59:59+09:00");
  const cJSON* boss = cJSON_GetObjectItemCaseSensitive(made.json.get(), "administrator");
  REQUIRE(boss != nullptr);
  auto pw = aterm::common::json_string(boss, "password").value_or("");
  CHECK(s.make_client().login("initech", "boss", pw).status == 200);
  CHECK(site.request("GET", "admin/companies").body.find("initech") != std::string::npos);
  auto end = site.request("PATCH", "admin/companies/initech", R"({"contract_end":null})");
  CHECK(end.status == 200);
  CHECK(end.num("contract_end_s") == -1);
  CHECK(site.request("PATCH", "admin/companies/nope", R"({"contract_end":null})").status == 404);
  CHECK(site.request("GET", "admin/devices/unassigned").status == 200);
  CHECK(site.request("POST", "admin/devices/not-seen-1/assign",
                     R"({"company_id":"initech","destination":"tokyo"})")
            .status == 200);
  // The first administrator replaces the generated password before acting.
  auto boss_client = s.make_client();
  REQUIRE(replace_first_password(boss_client, "initech", "boss", pw, "chief-own-choice-1").status ==
          204);
  REQUIRE(boss_client.login("initech", "boss", "chief-own-choice-1").status == 200);
  CHECK(boss_client.request("GET", "devices/not-seen-1").status == 200);
}

TEST_CASE(
    "the access log refuses SQL changes and audit verify finds tampering and the CSV is safe and "
    "in JST") {
  cloud_stack s(accounts());
  auto adm = s.client("acme");
  // A login id that tries CSV injection and a forged line.
  REQUIRE(adm.request("POST", "accounts",
                      json_body({{"login_id", "=HYPERLINK(\"http://evil\")"},
                                 {"role", "viewer"},
                                 {"email", "evil@acme.example"},
                                 {"password", k_good}}))
              .status == 201);
  s.make_client().login("acme", "=HYPERLINK(\"http://evil\")", "wrong");
  s.make_client().login("acme", "mallory\r\n9999,2030-01-01T00:00:00+09:00,acme,admin", "x");
  auto csv = adm.request("GET", "audit?format=csv");
  REQUIRE(csv.status == 200);
  CHECK(csv.header("content-type").find("text/csv") != std::string::npos);
  CHECK(csv.body.find(",=HYPERLINK") == std::string::npos);
  CHECK(csv.body.find("'=HYPERLINK") != std::string::npos);
  CHECK(csv.body.find("+09:00") != std::string::npos);
  CHECK(csv.body.find("\r\n9999,") == std::string::npos);
  CHECK(csv.body.find("mallory\\r\\n9999") != std::string::npos);
  auto json = adm.request("GET", "audit");
  REQUIRE(json.status == 200);
  CHECK(json.body.find("+09:00") != std::string::npos);
  // Every line of the CSV is a record (seq first) or the header.
  std::size_t pos = 0, lines = 0;
  while ((pos = csv.body.find("\r\n", pos)) != std::string::npos) {
    ++lines;
    pos += 2;
  }
  // The header plus one line per record; the JSON read also shows the CSV read's own record.
  CHECK(lines == array_size(json, "records"));

  s.stop_cloud();
  CHECK(s.cli({"audit", "verify"}).exit_code == 0);
  CHECK(exec_sql(s.db_path(), "UPDATE audit_log SET detail = 'x' WHERE seq = 2") != "");
  CHECK(exec_sql(s.db_path(), "DELETE FROM audit_log WHERE seq = 2") != "");
  CHECK(s.cli({"audit", "verify"}).exit_code == 0);

  REQUIRE(exec_sql(s.db_path(),
                   "DROP TRIGGER audit_log_no_update; "
                   "DROP TRIGGER audit_log_no_delete") == "");
  SUBCASE("an edited record") {
    REQUIRE(exec_sql(s.db_path(), "UPDATE audit_log SET detail = detail || 'x' WHERE seq = 3") ==
            "");
    auto v = s.cli({"audit", "verify"});
    CHECK(v.exit_code == 1);
    CHECK(v.out.find("\"first_bad_seq\":3") != std::string::npos);
  }
  SUBCASE("a record deleted in the middle") {
    REQUIRE(exec_sql(s.db_path(), "DELETE FROM audit_log WHERE seq = 4") == "");
    auto v = s.cli({"audit", "verify"});
    CHECK(v.exit_code == 1);
    CHECK(v.out.find("\"result\":\"gap\"") != std::string::npos);
  }
  SUBCASE("a cut tail") {
    REQUIRE(exec_sql(s.db_path(),
                     "DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 2 FROM audit_log)") ==
            "");
    auto v = s.cli({"audit", "verify"});
    CHECK(v.exit_code == 1);
    CHECK(v.out.find("\"result\":\"cut_tail\"") != std::string::npos);
  }
}
