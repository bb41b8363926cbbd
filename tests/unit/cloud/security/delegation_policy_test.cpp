#include "aterm/cloud/security/delegation_policy.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace sec = aterm::cloud::security;
using aterm::cloud::account;
using aterm::cloud::account_facts;
using aterm::cloud::lock_reason;
using aterm::cloud::role;
using sec::account_change;
using sec::delegation_refusal;

namespace {

using perms = std::vector<std::string>;

// model.h's catalogue; the security library does not link the model's functions.
const perms k_all(aterm::cloud::k_permissions.begin(), aterm::cloud::k_permissions.end());
const perms k_account_manager = {"account.manage", "account.read"};

role built_in(const std::string& name, std::int64_t id, perms p) {
  return {id, "", name, std::move(p), true};
}
role custom(std::int64_t id, perms p) {
  return {id, "acme", "custom" + std::to_string(id), std::move(p), false};
}

account acct(std::int64_t id, const role& r, lock_reason locked = lock_reason::none) {
  account a;
  a.id = id;
  a.company_id = "acme";
  a.login_id = "user" + std::to_string(id);
  a.role_id = r.id;
  a.role_name = r.name;
  a.locked = locked;
  return a;
}

const role k_admin = built_in("administrator", 1, k_all);
const role k_operator = built_in(
    "operator", 2, {"device.read", "device.command", "device.technician_login", "account.read"});
const role k_viewer = built_in("viewer", 3, {"device.read"});
const role k_managers = custom(10, k_account_manager);

sec::delegator administrator() {
  return {k_admin.id, k_all, true};
}
sec::delegator manager() {
  return {k_managers.id, k_account_manager, false};
}

account_facts facts(const account& target, const role& held, std::optional<role> new_role = {},
                    std::vector<account> others = {}) {
  return {target, held.permissions, std::move(new_role), std::move(others)};
}

}  // namespace

TEST_CASE("delegation: a role is given only by a caller holding all of it") {
  struct row {
    const char* name;
    sec::delegator caller;
    role r;
    std::optional<delegation_refusal> want;
  };
  const sec::delegator all_ten_custom{11, k_all, false};
  const std::vector<row> table = {
      {"administrator gives administrator", administrator(), k_admin, std::nullopt},
      {"manager gives administrator", manager(), k_admin, delegation_refusal::administrators_only},
      {"all ten permissions without the administrator role gives administrator", all_ten_custom,
       k_admin, delegation_refusal::administrators_only},
      {"manager gives operator", manager(), k_operator, delegation_refusal::role_exceeds_caller},
      {"manager gives its own permissions", manager(), custom(12, {"account.read"}), std::nullopt},
      {"manager gives an empty role", manager(), custom(13, {}), std::nullopt},
      {"administrator gives viewer", administrator(), k_viewer, std::nullopt},
  };
  for (const auto& r : table) {
    CAPTURE(r.name);
    CHECK(sec::judge_role_grant(r.caller, r.r) == r.want);
  }
}

TEST_CASE("delegation: an account is acted on only by a caller holding all it has") {
  const account admin2 = acct(2, k_admin);
  const account op = acct(3, k_operator);
  const account peer = acct(4, k_managers);
  const account reader = acct(5, custom(14, {"account.read"}));
  const account others_admin = acct(1, k_admin);
  for (auto change : {account_change::edit, account_change::lock, account_change::unlock,
                      account_change::password, account_change::remove}) {
    CAPTURE(static_cast<int>(change));
    CHECK(
        sec::judge_account_change(manager(), change, facts(admin2, k_admin, {}, {others_admin})) ==
        delegation_refusal::administrators_only);
    CHECK(sec::judge_account_change(manager(), change, facts(op, k_operator)) ==
          delegation_refusal::account_exceeds_caller);
    CHECK(sec::judge_account_change(manager(), change, facts(peer, k_managers)) == std::nullopt);
    CHECK(sec::judge_account_change(manager(), change,
                                    facts(reader, custom(14, {"account.read"}))) == std::nullopt);
    CHECK(sec::judge_account_change(administrator(), change,
                                    facts(admin2, k_admin, {}, {others_admin})) == std::nullopt);
  }
  // The new role counts as well as the account's.
  CHECK(sec::judge_account_change(manager(), account_change::edit,
                                  facts(peer, k_managers, k_admin)) ==
        delegation_refusal::administrators_only);
  CHECK(sec::judge_account_change(manager(), account_change::edit,
                                  facts(peer, k_managers, k_operator)) ==
        delegation_refusal::role_exceeds_caller);
}

TEST_CASE("delegation: the last active administrator is not demoted, locked or deleted") {
  const account last = acct(2, k_admin);
  struct row {
    const char* name;
    std::vector<account> others;
    bool refused;
  };
  const std::vector<row> table = {
      {"no other administrator", {}, true},
      {"the other is locked by an administrator",
       {acct(5, k_admin, lock_reason::administrator)},
       true},
      {"the other is locked for inactivity", {acct(5, k_admin, lock_reason::inactivity)}, true},
      {"the other's failed-logins lock ends by itself",
       {acct(5, k_admin, lock_reason::failed_logins)},
       false},
      {"another active administrator", {acct(5, k_admin)}, false},
  };
  for (const auto& r : table) {
    CAPTURE(r.name);
    auto want = r.refused ? std::optional(delegation_refusal::last_administrator) : std::nullopt;
    CHECK(sec::judge_account_change(administrator(), account_change::edit,
                                    facts(last, k_admin, k_operator, r.others)) == want);
    CHECK(sec::judge_account_change(administrator(), account_change::lock,
                                    facts(last, k_admin, {}, r.others)) == want);
    CHECK(sec::judge_account_change(administrator(), account_change::remove,
                                    facts(last, k_admin, {}, r.others)) == want);
    // What leaves it an administrator is never refused for being the last.
    CHECK(sec::judge_account_change(administrator(), account_change::password,
                                    facts(last, k_admin, {}, r.others)) == std::nullopt);
    CHECK(sec::judge_account_change(administrator(), account_change::edit,
                                    facts(last, k_admin, k_admin, r.others)) == std::nullopt);
  }
  // A locked administrator is not the active one the company keeps: deleting it is allowed.
  CHECK(sec::judge_account_change(administrator(), account_change::remove,
                                  facts(acct(2, k_admin, lock_reason::inactivity), k_admin)) ==
        std::nullopt);
}

TEST_CASE("delegation: roles are created and edited within what the caller holds") {
  const sec::delegator role_manager{20, {"role.manage", "device.read"}, false};
  const role own = custom(20, {"role.manage", "device.read"});
  const role small = custom(21, {"device.read"});
  const role big = custom(22, {"device.read", "audit.read"});
  CHECK(sec::judge_role_edit(role_manager, own, k_all) == delegation_refusal::own_role);
  CHECK(sec::judge_role_edit(role_manager, own, std::nullopt) == delegation_refusal::own_role);
  CHECK(sec::judge_role_edit(role_manager, small, perms{"device.read", "role.manage"}) ==
        std::nullopt);
  CHECK(sec::judge_role_edit(role_manager, small, perms{"device.read", "audit.read"}) ==
        delegation_refusal::role_exceeds_caller);
  // Narrowing a role that holds more than the caller acts on its accounts: refused too.
  CHECK(sec::judge_role_edit(role_manager, big, perms{"device.read"}) ==
        delegation_refusal::role_exceeds_caller);
  CHECK(sec::judge_role_edit(role_manager, big, std::nullopt) ==
        delegation_refusal::role_exceeds_caller);
  CHECK(sec::judge_role_edit(administrator(), big, k_all) == std::nullopt);
  CHECK(sec::judge_role_create(role_manager, {"device.read"}) == std::nullopt);
  CHECK(sec::judge_role_create(role_manager, k_all) == delegation_refusal::role_exceeds_caller);
  CHECK(sec::judge_role_create(administrator(), k_all) == std::nullopt);
}

TEST_CASE("delegation: each refusal has its own code") {
  std::vector<std::string_view> codes;
  for (auto r :
       {delegation_refusal::role_exceeds_caller, delegation_refusal::account_exceeds_caller,
        delegation_refusal::administrators_only, delegation_refusal::own_role,
        delegation_refusal::last_administrator}) {
    auto code = sec::to_string(r);
    CHECK(std::find(codes.begin(), codes.end(), code) == codes.end());
    CHECK(!sec::describe(r).empty());
    codes.push_back(code);
  }
}
