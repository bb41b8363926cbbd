// Privilege escalation through delegated account and role management, performed against the
// real daemon as an intruder holding a narrow custom role would (DESIGN.md section 5,
// "permissions": nobody grants, assigns or acts on more than they hold). Each refusal answers 403,
// changes nothing (read back as the company administrator) and is in the access log.
#include <doctest/doctest.h>

#include <algorithm>
#include <barrier>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "accounts_fixture.h"

using namespace aterm::test;

namespace {

constexpr const char* k_good = "correct-horse-battery";
constexpr const char* k_stolen = "attacker-chosen-password";

const std::vector<std::string> k_all_ten = {
    "device.read",        "device.command",  "device.technician_login", "device.register",
    "destination.manage", "account.read",    "account.manage",          "role.manage",
    "audit.read",         "company.settings"};

std::string permissions_json(const std::vector<std::string>& perms) {
  std::string out = "[";
  for (const auto& p : perms) out += (out.size() > 1 ? ",\"" : "\"") + p + "\"";
  return out + "]";
}

// Creates the company role `name` with `perms` as acme's administrator; returns its id.
std::int64_t make_role(https_client& adm, const std::string& name,
                       const std::vector<std::string>& perms) {
  auto r =
      adm.request("POST", "roles",
                  R"({"name":")" + name + R"(","permissions":)" + permissions_json(perms) + "}");
  REQUIRE(r.status == 201);
  return r.num("id");
}

// The id of acme's administrator "admin".
std::int64_t admin_id(https_client& adm) {
  auto me = adm.request("GET", "session");
  REQUIRE(me.status == 200);
  return aterm::common::json_int(cJSON_GetObjectItemCaseSensitive(me.json.get(), "account"), "id")
      .value_or(0);
}

// Whether acme's access log holds a record of `actor` doing `action` on `target` that was
// refused by the delegation rule with `code`.
bool refusal_logged(https_client& adm, const std::string& actor, const std::string& action,
                    const std::string& target, const std::string& code) {
  auto log = adm.request("GET", "audit?account=" + actor + "&action=" + action);
  REQUIRE(log.status == 200);
  const cJSON* records = cJSON_GetObjectItemCaseSensitive(log.json.get(), "records");
  const cJSON* r = nullptr;
  cJSON_ArrayForEach(r, records) {
    auto field = [&](const char* k) { return aterm::common::json_string(r, k).value_or(""); };
    if (field("target") == target && field("result") == "failure" &&
        field("detail") == "denied: " + code) {
      return true;
    }
  }
  return false;
}

bool has_account(https_client& adm, const std::string& login) {
  auto list = adm.request("GET", "accounts");
  REQUIRE(list.status == 200);
  return list.body.find("\"login_id\":\"" + login + "\"") != std::string::npos;
}

// acme with a custom role holding only account.manage and account.read, and "mallory" holding
// it, signed in.
struct delegated_manager {
  cloud_stack s{accounts()};
  https_client adm = s.client("acme");
  std::int64_t admin = admin_id(adm);
  std::int64_t role = make_role(adm, "account-managers", {"account.manage", "account.read"});
  std::int64_t mallory_id = s.create_account("acme", "mallory", "account-managers", k_good);
  https_client mallory = s.make_client();

  delegated_manager() { REQUIRE(mallory.login("acme", "mallory", k_good).status == 200); }
};

}  // namespace

TEST_CASE("delegated_account_manager_cannot_create_administrator") {
  delegated_manager f;
  auto a = f.mallory.request("POST", "accounts",
                             json_body({{"login_id", "mallory-admin"},
                                        {"role", "administrator"},
                                        {"email", "mallory@evil.example"},
                                        {"password", k_stolen}}));
  CHECK(a.status == 403);
  CHECK(a.str("error") == "forbidden");
  CHECK_FALSE(has_account(f.adm, "mallory-admin"));
  CHECK(f.s.make_client().login("acme", "mallory-admin", k_stolen).status == 401);
  CHECK(refusal_logged(f.adm, "mallory", "account.create", "mallory-admin", "administrators_only"));
  // Nor an operator: that role holds device permissions mallory does not.
  auto op = f.mallory.request(
      "POST", "accounts",
      json_body(
          {{"login_id", "mallory-op"}, {"role", "operator"}, {"email", "mallory@evil.example"}}));
  CHECK(op.status == 403);
  CHECK_FALSE(has_account(f.adm, "mallory-op"));
  CHECK(refusal_logged(f.adm, "mallory", "account.create", "mallory-op", "role_exceeds_caller"));
  // Within what mallory holds, delegation still works.
  CHECK(f.mallory
            .request("POST", "accounts",
                     json_body({{"login_id", "helper"},
                                {"role", "account-managers"},
                                {"email", "helper@acme.example"}}))
            .status == 201);
}

TEST_CASE("delegated_account_manager_cannot_make_another_account_administrator") {
  delegated_manager f;
  auto peer = f.s.create_account("acme", "peer", "account-managers", k_good);
  auto viewer = f.s.create_account("acme", "vera", "viewer", k_good);
  auto patch = [&](std::int64_t id, const char* body) {
    return f.mallory.request("PATCH", "accounts/" + std::to_string(id), body);
  };
  auto a = patch(peer, R"({"role":"administrator"})");
  CHECK(a.status == 403);
  CHECK(account_of(f.s, "acme", peer).str("role") == "account-managers");
  CHECK(refusal_logged(f.adm, "mallory", "account.update", "peer", "administrators_only"));
  // An account holding more than mallory (device.read) is not mallory's to change at all.
  CHECK(patch(viewer, R"({"role":"account-managers"})").status == 403);
  CHECK(account_of(f.s, "acme", viewer).str("role") == "viewer");
  CHECK(refusal_logged(f.adm, "mallory", "account.update", "vera", "account_exceeds_caller"));
  // The peer's session gained nothing: the administrator-only routes stay closed to it.
  auto p = f.s.make_client();
  REQUIRE(p.login("acme", "peer", k_good).status == 200);
  CHECK(p.request("GET", "audit").status == 403);
}

TEST_CASE("delegated_account_manager_cannot_reset_administrator_password_and_log_in") {
  delegated_manager f;
  auto a = f.mallory.request("POST", "accounts/" + std::to_string(f.admin) + "/password",
                             json_body({{"password", k_stolen}}));
  CHECK(a.status == 403);
  CHECK(f.s.make_client().login("acme", "admin", k_stolen).status == 401);
  // The administrator's own password still works and its session was not ended.
  CHECK(f.adm.request("GET", "session").status == 200);
  CHECK(f.s.make_client().login("acme", "admin", f.s.admin_password("acme")).status == 200);
  CHECK(refusal_logged(f.adm, "mallory", "account.password", "admin", "administrators_only"));
  // Nor the password of an operator, which holds device permissions mallory does not.
  auto op = f.s.create_account("acme", "otto", "operator", k_good);
  CHECK(f.mallory
            .request("POST", "accounts/" + std::to_string(op) + "/password",
                     json_body({{"password", k_stolen}}))
            .status == 403);
  CHECK(f.s.make_client().login("acme", "otto", k_good).status == 200);
  CHECK(refusal_logged(f.adm, "mallory", "account.password", "otto", "account_exceeds_caller"));
}

TEST_CASE("delegated_account_manager_cannot_lock_or_delete_administrator") {
  delegated_manager f;
  const std::string path = "accounts/" + std::to_string(f.admin);
  CHECK(f.mallory.request("PATCH", path, R"({"locked":true})").status == 403);
  CHECK(f.mallory.request("DELETE", path).status == 403);
  auto admin = f.adm.request("GET", path);
  CHECK(admin.status == 200);
  CHECK(admin.str("locked") == "none");
  CHECK(f.adm.request("GET", "session").status == 200);
  CHECK(refusal_logged(f.adm, "mallory", "account.update", "admin", "administrators_only"));
  CHECK(refusal_logged(f.adm, "mallory", "account.delete", "admin", "administrators_only"));
  // An administrator lock set by a real administrator is not mallory's to lift either.
  auto second = f.s.create_account("acme", "second-admin", "administrator", k_good);
  REQUIRE(
      f.adm.request("PATCH", "accounts/" + std::to_string(second), R"({"locked":true})").status ==
      200);
  CHECK(f.mallory.request("PATCH", "accounts/" + std::to_string(second), R"({"locked":false})")
            .status == 403);
  CHECK(account_of(f.s, "acme", second).str("locked") == "administrator");
}

TEST_CASE("role_manager_cannot_widen_own_role") {
  cloud_stack s(accounts());
  auto adm = s.client("acme");
  auto own = make_role(adm, "role-managers", {"role.manage", "device.read"});
  auto other = make_role(adm, "readers", {"device.read"});
  s.create_account("acme", "rita", "role-managers", k_good);
  auto rita = s.make_client();
  REQUIRE(rita.login("acme", "rita", k_good).status == 200);

  auto a = rita.request("PATCH", "roles/" + std::to_string(own),
                        R"({"permissions":)" + permissions_json(k_all_ten) + "}");
  CHECK(a.status == 403);
  CHECK(refusal_logged(adm, "rita", "role.update", std::to_string(own), "own_role"));
  // Nothing applied: the role is as it was and rita's next request has no new permission.
  auto roles = adm.request("GET", "roles");
  REQUIRE(roles.status == 200);
  CHECK(
      roles.body.find(
          R"("name":"role-managers","built_in":false,"permissions":["role.manage","device.read"])") !=
      std::string::npos);
  CHECK(rita.request("GET", "audit").status == 403);
  CHECK(rita.request("GET", "accounts").status == 403);
  // Nor through another role, nor a new one, with permissions rita does not hold.
  CHECK(rita.request("PATCH", "roles/" + std::to_string(other),
                     R"({"permissions":["device.read","account.manage"]})")
            .status == 403);
  CHECK(refusal_logged(adm, "rita", "role.update", std::to_string(other), "role_exceeds_caller"));
  auto made = rita.request("POST", "roles", R"({"name":"escape","permissions":["audit.read"]})");
  CHECK(made.status == 403);
  CHECK(adm.request("GET", "roles").body.find("\"escape\"") == std::string::npos);
  CHECK(rita.request("DELETE", "roles/" + std::to_string(own)).status == 403);
  // Within what rita holds, role management still works.
  CHECK(rita.request("PATCH", "roles/" + std::to_string(other),
                     R"({"permissions":["device.read","role.manage"]})")
            .status == 200);
}

TEST_CASE("last_administrator_cannot_be_demoted_locked_or_deleted_by_two_administrators_at_once") {
  // Through the API the acting administrator is itself active, so the last one can only be
  // removed by two administrators removing each other at the same moment: each request sees the
  // other administrator still there unless the check runs inside the transaction that changes.
  // Sessions are not touched at every request here (the default), so requests overlap more.
  cloud_stack_options o = accounts();
  o.security.clear();
  cloud_stack s(o);
  tls_options kept;
  kept.ca_file = s.pki().ca().string();
  // Each administrator of a pair sends the same request on k_lanes connections at once.
  constexpr int k_lanes = 3;
  struct admin {
    std::string login;
    std::int64_t id = 0;
    std::vector<std::unique_ptr<https_client>> lanes;
  };
  // Two new administrators made by `by`, each signed in on k_lanes kept connections; then every
  // administrator in `retire` is locked, so these two are the company's only active ones.
  auto fresh_pair = [&](https_client& by, const std::string& tag,
                        const std::vector<std::int64_t>& retire) {
    std::vector<admin> pair;
    for (const char* who : {"x", "y"}) {
      admin a{std::string(who) + tag, 0, {}};
      const std::string first = std::string("First-") + k_good;
      auto made = by.request("POST", "accounts",
                             json_body({{"login_id", a.login},
                                        {"role", "administrator"},
                                        {"email", a.login + "@acme.example"},
                                        {"password", first}}));
      REQUIRE(made.status == 201);
      a.id = made.num("id");
      // The account replaces the password its creator set before it may act.
      auto own = s.make_client();
      REQUIRE(replace_first_password(own, "acme", a.login, first, k_good).status == 204);
      for (int l = 0; l < k_lanes; ++l) {
        a.lanes.push_back(std::make_unique<https_client>(s.https_port(), kept, true));
        REQUIRE(a.lanes.back()->login("acme", a.login, k_good).status == 200);
      }
      pair.push_back(std::move(a));
    }
    for (auto id : retire) {
      REQUIRE(pair[0]
                  .lanes[0]
                  ->request("PATCH", "accounts/" + std::to_string(id), R"({"locked":true})")
                  .status == 200);
    }
    return pair;
  };

  struct attack {
    std::string name, method, body;
  };
  auto adm = s.client("acme");
  std::vector<std::int64_t> retire = {admin_id(adm)};
  https_client* by = &adm;
  std::unique_ptr<https_client> holder;
  int in_transaction_refusals = 0;
  for (const attack& x :
       {attack{"demote", "PATCH", R"({"role":"operator"})"},
        attack{"lock", "PATCH", R"({"locked":true})"}, attack{"delete", "DELETE", ""}}) {
    for (int round = 0; round < 20; ++round) {
      CAPTURE(x.name);
      CAPTURE(round);
      auto pair = fresh_pair(*by, x.name + std::to_string(round), retire);
      std::barrier start(2 * k_lanes);
      std::vector<unsigned> status(2 * k_lanes, 0);
      std::vector<std::thread> threads;
      for (int t = 0; t < 2 * k_lanes; ++t) {
        threads.emplace_back([&, t] {
          int side = t / k_lanes;
          auto& lane = *pair[side].lanes[t % k_lanes];
          start.arrive_and_wait();
          status[t] =
              lane.request(x.method, "accounts/" + std::to_string(pair[1 - side].id), x.body)
                  .status;
        });
      }
      for (auto& t : threads) t.join();
      auto went_through = [&](int side) {
        return std::any_of(status.begin() + side * k_lanes, status.begin() + (side + 1) * k_lanes,
                           [](unsigned st) { return st < 300; });
      };
      // Exactly one side went through: the company keeps an active administrator.
      std::string statuses;
      for (auto st : status) statuses += std::to_string(st) + " ";
      REQUIRE_MESSAGE(went_through(0) != went_through(1), x.name << ": " << pair[0].login << ", "
                                                                 << pair[1].login
                                                                 << " answered: " << statuses);
      int w = went_through(0) ? 0 : 1;
      const admin& winner = pair[w];
      const admin& loser = pair[1 - w];
      for (int l = 0; l < k_lanes; ++l) {
        // 403, or 401 when the winner's lock or deletion ended the loser's session first.
        unsigned st = status[(1 - w) * k_lanes + l];
        CHECK((st == 403 || st == 401));
      }
      // Read back: the winner is untouched.
      auto& wc = *winner.lanes[0];
      auto row = wc.request("GET", "accounts/" + std::to_string(winner.id));
      REQUIRE(row.status == 200);
      CHECK(row.str("role") == "administrator");
      CHECK(row.str("locked") == "none");
      CHECK(wc.request("GET", "session").status == 200);
      // A refusal inside the transaction is in the access log as such.
      std::string action = x.method == "DELETE" ? "account.delete" : "account.update";
      if (refusal_logged(wc, loser.login, action, winner.login, "last_administrator")) {
        ++in_transaction_refusals;
      }
      // The winner, the only active administrator, makes the next pair and retires itself.
      retire = {winner.id};
      holder = std::move(pair[w].lanes[0]);
      by = holder.get();
    }
  }
  MESSAGE(in_transaction_refusals << " of 60 races were refused inside the transaction");
}
