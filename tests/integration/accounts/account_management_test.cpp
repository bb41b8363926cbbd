// Account management against the real daemon (real HTTPS, Mosquitto and SQLite): the forced
// password change of a password someone other than its owner set (security/
// password_change_rule.h), the administrator's reset, and login ids trimmed and unique without
// regard to case (security/login_id.h).
#include <doctest/doctest.h>

#include "accounts_fixture.h"

using namespace aterm::test;

namespace {

constexpr const char* k_chosen = "chosen-by-the-owner-1";

bool change_required(const http_answer& a) {
  return a.json &&
         cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a.json.get(), "password_change_required"));
}

std::int64_t own_id(const http_answer& login) {
  const cJSON* acct = cJSON_GetObjectItemCaseSensitive(login.json.get(), "account");
  return aterm::common::json_int(acct, "id").value_or(-1);
}

// Every kind of route the account would reach for before replacing the password: reads,
// commands, account and role changes, another account's password, the access log.
void check_every_other_route_refused(https_client& c, std::int64_t self, std::int64_t other) {
  const std::string own = std::to_string(self);
  const std::string theirs = std::to_string(other);
  struct attempt {
    const char* method;
    std::string path;
    std::string body;
  };
  const attempt attempts[] = {
      {"GET", "devices", ""},
      {"GET", "destinations", ""},
      {"GET", "accounts", ""},
      {"GET", "accounts/" + own, ""},
      {"PATCH", "accounts/" + own, R"({"email":"x@acme.example"})"},
      {"POST", "accounts", R"({"login_id":"sneaky","role":"viewer","email":"s@acme.example"})"},
      {"POST", "accounts/" + theirs + "/password", R"({"password":"taken-over-password"})"},
      {"GET", "roles", ""},
      {"GET", "audit", ""},
      {"GET", "company", ""},
      {"GET", "commands/catalogue", ""},
  };
  for (const auto& a : attempts) {
    auto answer = c.request(a.method, a.path, a.body);
    INFO(a.method << " " << a.path << " -> " << answer.status << " " << answer.body);
    CHECK(answer.status == 403);
    CHECK(answer.str("error") == "password_change_required");
  }
}

}  // namespace

TEST_CASE(
    "a first password set by the administrator cannot act on any route until its owner replaces "
    "it") {
  cloud_stack s(accounts());
  auto adm = s.client("acme");
  auto admin_id = own_id(adm.request("GET", "session"));
  auto created = adm.request(
      "POST", "accounts", R"({"login_id":"kai","role":"administrator","email":"k@acme.example"})");
  REQUIRE(created.status == 201);
  CHECK(change_required(created));
  const std::string first = created.str("password");

  // The one who chose the password (or read it over a shoulder) signs in with it.
  auto k = s.make_client();
  auto in = k.login("acme", "kai", first);
  REQUIRE(in.status == 200);
  CHECK(change_required(in));
  const auto id = own_id(in);
  check_every_other_route_refused(k, id, admin_id);
  // The session itself stays readable, and the refusals are on the access log as denied.
  auto me = k.request("GET", "session");
  CHECK(me.status == 200);
  CHECK(change_required(me));
  auto log = adm.request("GET", "audit?account=kai");
  CHECK(log.body.find("password_change_required") != std::string::npos);
  // The administrator's password is untouched: it still signs in.
  CHECK(s.make_client().login("acme", "admin", s.admin_password("acme")).status == 200);

  // The owner replaces it; the change ends the session, and the next login acts normally.
  auto changed = k.request("POST", "accounts/" + std::to_string(id) + "/password",
                           json_body({{"current_password", first}, {"password", k_chosen}}));
  CHECK(changed.status == 204);
  auto again = k.login("acme", "kai", k_chosen);
  REQUIRE(again.status == 200);
  CHECK_FALSE(change_required(again));
  CHECK(k.request("GET", "devices").status == 200);
}

TEST_CASE("a password the administrator reset or the CLI generated is replaced at the next login") {
  cloud_stack s(accounts());
  auto adm = s.client("acme");
  auto id = s.create_account("acme", "lena", "operator", k_chosen);
  auto l = s.make_client();
  auto owned = l.login("acme", "lena", k_chosen);
  REQUIRE(owned.status == 200);
  CHECK_FALSE(change_required(owned));

  // Reset: a generated password answered once; the account's sessions end.
  auto reset =
      adm.request("POST", "accounts/" + std::to_string(id) + "/password", R"({"generate":true})");
  REQUIRE(reset.status == 200);
  const std::string generated = reset.str("password");
  CHECK(generated.size() >= 12);
  CHECK(l.request("GET", "devices").status == 401);
  CHECK(adm.request("GET", "accounts/" + std::to_string(id)).body.find(generated) ==
        std::string::npos);
  auto in = l.login("acme", "lena", generated);
  REQUIRE(in.status == 200);
  CHECK(change_required(in));
  CHECK(l.request("GET", "devices").str("error") == "password_change_required");
  // Another's password cannot be "replaced" through the own-password route's reset form.
  CHECK(l.request("POST", "accounts/" + std::to_string(id) + "/password", R"({"generate":true})")
            .status == 400);

  // The CLI's first password of a new account.
  auto cli = s.cli({"admin", "account", "create", "--company", "acme", "--login", "mika", "--role",
                    "viewer", "--email", "mika@acme.example"});
  REQUIRE(cli.exit_code == 0);
  auto parsed = aterm::common::parse_json(cli.out);
  REQUIRE(parsed.ok());
  const auto cli_password = aterm::common::json_string(parsed->get(), "password").value_or("");
  auto m = s.make_client();
  auto mika = m.login("acme", "mika", cli_password);
  REQUIRE(mika.status == 200);
  CHECK(change_required(mika));
  CHECK(m.request("GET", "devices").str("error") == "password_change_required");
}

TEST_CASE("login ids are trimmed and unique without regard to case") {
  cloud_stack s(accounts());
  auto adm = s.client("acme");
  auto padded = adm.request("POST", "accounts",
                            json_body({{"login_id", "  op1 "},
                                       {"role", "viewer"},
                                       {"email", "op1@acme.example"},
                                       {"password", "first-password-aaaa"}}));
  REQUIRE(padded.status == 201);
  CHECK(padded.str("login_id") == "op1");
  auto upper = adm.request("POST", "accounts",
                           json_body({{"login_id", "OP1"},
                                      {"role", "viewer"},
                                      {"email", "op1b@acme.example"},
                                      {"password", "first-password-bbbb"}}));
  CHECK(upper.status == 409);
  CHECK(upper.str("error") == "login_id_taken");
  // The one account answers to its id in any case, typed with spaces too.
  CHECK(s.make_client().login("acme", " Op1 ", "first-password-aaaa").status == 200);
}

TEST_CASE("errors carry stable codes with their details as fields") {
  cloud_stack s(accounts());
  auto adm = s.client("acme");
  auto short_pw = adm.request("POST", "accounts",
                              json_body({{"login_id", "nina"},
                                         {"role", "viewer"},
                                         {"email", "nina@acme.example"},
                                         {"password", "short"}}));
  CHECK(short_pw.status == 400);
  CHECK(short_pw.str("error") == "password_too_short");
  CHECK(short_pw.num("min_length") == 12);
  auto typo = adm.request("POST", "accounts", R"({"login_id":"nina","rloe":"viewer"})");
  CHECK(typo.str("error") == "unknown_field");
  CHECK(typo.str("field") == "rloe");
  auto no_role = adm.request("POST", "accounts", R"({"login_id":"nina","email":"n@acme.example"})");
  CHECK(no_role.str("error") == "role_required");
}

TEST_CASE(
    "a registration that would move a router to another destination changes nothing until "
    "confirmed") {
  cloud_stack s(accounts());
  s.register_device("acme", "acme-r1");
  auto adm = s.client("acme");
  const auto home = adm.request("GET", "devices/acme-r1").str("destination");
  REQUIRE_FALSE(home.empty());
  auto osaka = adm.request("POST", "destinations", R"({"name":"Osaka"})");
  REQUIRE(osaka.status == 201);
  const auto osaka_id = std::to_string(osaka.num("id"));
  const auto claim = json_body({{"device_id", "acme-r1"}, {"claim_code", s.claim_code("acme-r1")}});

  auto plan = adm.request("POST", "destinations/" + osaka_id + "/devices", claim);
  CHECK(plan.status == 409);
  CHECK(plan.str("error") == "confirm_moves");
  CHECK(plan.body.find("\"from_destination\":\"" + home + "\"") != std::string::npos);
  CHECK(adm.request("GET", "devices/acme-r1").str("destination") == home);
  // A wrong code answers the one refusal of every claim, naming no move.
  auto wrong = adm.request("POST", "destinations/" + osaka_id + "/devices",
                           R"({"device_id":"acme-r1","claim_code":"AAAA-AAAA-AAAA-AAAA"})");
  CHECK(wrong.status == 404);
  CHECK(wrong.body.find("moves") == std::string::npos);

  auto confirmed = adm.request("POST", "destinations/" + osaka_id + "/devices",
                               claim.substr(0, claim.size() - 1) + R"(,"confirm_moves":true})");
  CHECK(confirmed.status == 200);
  CHECK(adm.request("GET", "devices/acme-r1").str("destination") == "Osaka");

  // Moving by hand, and renaming a destination.
  auto list = adm.request("GET", "destinations");
  const cJSON* dests = cJSON_GetObjectItemCaseSensitive(list.json.get(), "destinations");
  std::int64_t home_id = -1;
  for (const cJSON* d = dests ? dests->child : nullptr; d != nullptr; d = d->next) {
    if (aterm::common::json_string(d, "name").value_or("") == home) {
      home_id = aterm::common::json_int(d, "id").value_or(-1);
    }
  }
  REQUIRE(home_id > 0);
  auto back = adm.request("PATCH", "devices/acme-r1",
                          R"({"destination_id":)" + std::to_string(home_id) + "}");
  CHECK(back.status == 200);
  CHECK(adm.request("GET", "devices/acme-r1").str("destination") == home);
  CHECK(adm.request("PATCH", "destinations/" + osaka_id, R"({"name":"Osaka 2"})").status == 200);
  // Another company's router cannot be moved, nor moved into another company's destination.
  s.register_device("globex", "globex-r1");
  CHECK(
      adm.request("PATCH", "devices/globex-r1", R"({"destination_id":)" + osaka_id + "}").status ==
      404);
}

TEST_CASE("the site administrator's overview counts each company's routers and locked accounts") {
  cloud_stack s(accounts());
  s.register_device("acme", "acme-r1");
  s.register_device("acme", "acme-r2");
  auto adm = s.client("acme");
  auto id = s.create_account("acme", "olaf", "viewer", k_chosen);
  REQUIRE(adm.request("PATCH", "accounts/" + std::to_string(id), R"({"locked":true})").status ==
          200);
  CHECK(adm.request("GET", "admin/overview").status == 403);
  auto site = s.client("platform");
  auto overview = site.request("GET", "admin/overview");
  REQUIRE(overview.status == 200);
  const cJSON* companies = cJSON_GetObjectItemCaseSensitive(overview.json.get(), "companies");
  bool seen = false;
  for (const cJSON* c = companies ? companies->child : nullptr; c != nullptr; c = c->next) {
    const auto company = aterm::common::json_string(c, "id").value_or("");
    CHECK(company != "platform");
    if (company != "acme") continue;
    seen = true;
    CHECK(aterm::common::json_int(c, "devices") == 2);
    CHECK(aterm::common::json_int(c, "online") == 0);
    CHECK(aterm::common::json_int(c, "open_alarms") == 0);
    CHECK(aterm::common::json_int(c, "locked_accounts") == 1);
  }
  CHECK(seen);
}
