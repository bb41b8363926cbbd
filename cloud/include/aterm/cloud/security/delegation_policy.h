// Delegation rule (DESIGN.md section 5, "permissions"): nobody grants, assigns or acts on more
// than they hold.
//   - A role is given to an account, created, or edited only by a caller holding every
//     permission the role has (before and after the edit); the built-in administrator role is
//     given by administrators only.
//   - Nobody edits or deletes the role they hold.
//   - An account is changed (role, e-mail, lock), has its password set, or is deleted only by a
//     caller holding every permission that account has; administrator accounts only by
//     administrators.
//   - A company always keeps one active administrator: the last one is not demoted, locked or
//     deleted.
//
// Pure functions over values; thread-safe. The account decisions take the facts as the store
// transaction that makes the change reads them (account_facts, model.h), so two concurrent
// changes cannot each leave the other's administrator as the last one and then remove it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/cloud/model.h"

namespace aterm::cloud::security {

// Why a change is refused. Closed; to_string gives the code written to the access log.
enum class delegation_refusal {
  role_exceeds_caller,     // the role holds (or would hold) a permission the caller does not
  account_exceeds_caller,  // the account holds a permission the caller does not
  administrators_only,     // administrator accounts and the administrator role: administrators
  own_role,                // the caller holds the role it tries to edit or delete
  last_administrator,      // the change would leave the company without an active administrator
};
std::string_view to_string(delegation_refusal r);
// A sentence for the 403 answer.
std::string_view describe(delegation_refusal r);

// Who asks: the signed-in account's role and permissions as the request resolved them.
struct delegator {
  std::int64_t role_id = 0;
  std::vector<std::string> permissions;
  bool administrator = false;  // holds the built-in administrator role
};

// What a change does to an account, as far as the rule cares.
enum class account_change {
  edit,      // e-mail and/or role (account_facts::new_role)
  lock,      // an administrator lock (a role may change in the same request)
  unlock,    // lifting a lock (a role may change in the same request)
  password,  // setting another account's password
  remove,    // deletion
};

// Whether `a` counts as an active administrator: the administrator role and no lock but a
// failed-logins one (that lock ends by itself; the others need someone to lift them).
bool is_active_administrator(const account& a);

// Giving `r` to an account (creating one with it).
std::optional<delegation_refusal> judge_role_grant(const delegator& caller, const role& r);

// Changing the account of `facts` as `change`. nullopt: allowed.
std::optional<delegation_refusal> judge_account_change(const delegator& caller,
                                                       account_change change,
                                                       const account_facts& facts);

// Creating a role with `permissions`.
std::optional<delegation_refusal> judge_role_create(const delegator& caller,
                                                    const std::vector<std::string>& permissions);

// Editing `current` to `new_permissions` (nullopt: unchanged, e.g. a rename), or deleting it
// (new_permissions nullopt as well).
std::optional<delegation_refusal> judge_role_edit(
    const delegator& caller, const role& current,
    const std::optional<std::vector<std::string>>& new_permissions);

}  // namespace aterm::cloud::security
