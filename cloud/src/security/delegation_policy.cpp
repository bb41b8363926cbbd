#include "aterm/cloud/security/delegation_policy.h"

#include <algorithm>
#include <array>
#include <cassert>

namespace aterm::cloud::security {

namespace {

bool holds_all(const delegator& caller, const std::vector<std::string>& permissions) {
  return std::all_of(permissions.begin(), permissions.end(), [&](const std::string& p) {
    return std::find(caller.permissions.begin(), caller.permissions.end(), p) !=
           caller.permissions.end();
  });
}

bool is_administrator_role(const role& r) {
  return r.built_in && r.name == k_role_administrator;
}

struct refusal_entry {
  delegation_refusal refusal;
  std::string_view code;
  std::string_view sentence;
};

constexpr std::array<refusal_entry, 5> k_refusals{{
    {delegation_refusal::role_exceeds_caller, "role_exceeds_caller",
     "the role holds permissions you do not hold"},
    {delegation_refusal::account_exceeds_caller, "account_exceeds_caller",
     "the account holds permissions you do not hold"},
    {delegation_refusal::administrators_only, "administrators_only",
     "administrator accounts are managed by administrators only"},
    {delegation_refusal::own_role, "own_role", "nobody edits the role they hold"},
    {delegation_refusal::last_administrator, "last_administrator",
     "the company's last active administrator cannot be demoted, locked or deleted"},
}};

const refusal_entry& refusal_text(delegation_refusal r) {
  for (const auto& e : k_refusals) {
    if (e.refusal == r) return e;
  }
  assert(false && "every delegation_refusal has an entry");
  return k_refusals[0];
}

}  // namespace

std::string_view to_string(delegation_refusal r) {
  return refusal_text(r).code;
}

std::string_view describe(delegation_refusal r) {
  return refusal_text(r).sentence;
}

bool is_active_administrator(const account& a) {
  return a.is_administrator() &&
         (a.locked == lock_reason::none || a.locked == lock_reason::failed_logins);
}

std::optional<delegation_refusal> judge_role_grant(const delegator& caller, const role& r) {
  if (is_administrator_role(r) && !caller.administrator) {
    return delegation_refusal::administrators_only;
  }
  if (!holds_all(caller, r.permissions)) return delegation_refusal::role_exceeds_caller;
  return std::nullopt;
}

std::optional<delegation_refusal> judge_account_change(const delegator& caller,
                                                       account_change change,
                                                       const account_facts& facts) {
  const account& target = facts.target;
  if (target.is_administrator() && !caller.administrator) {
    return delegation_refusal::administrators_only;
  }
  if (!holds_all(caller, facts.target_permissions)) {
    return delegation_refusal::account_exceeds_caller;
  }
  if (facts.new_role) {
    if (auto refused = judge_role_grant(caller, *facts.new_role)) return refused;
  }
  bool stays_administrator = change != account_change::remove && change != account_change::lock &&
                             (!facts.new_role || is_administrator_role(*facts.new_role));
  if (is_active_administrator(target) && !stays_administrator &&
      std::none_of(facts.other_administrators.begin(), facts.other_administrators.end(),
                   is_active_administrator)) {
    return delegation_refusal::last_administrator;
  }
  return std::nullopt;
}

std::optional<delegation_refusal> judge_role_create(const delegator& caller,
                                                    const std::vector<std::string>& permissions) {
  if (!holds_all(caller, permissions)) return delegation_refusal::role_exceeds_caller;
  return std::nullopt;
}

std::optional<delegation_refusal> judge_role_edit(
    const delegator& caller, const role& current,
    const std::optional<std::vector<std::string>>& new_permissions) {
  if (current.id == caller.role_id) return delegation_refusal::own_role;
  if (is_administrator_role(current) && !caller.administrator) {
    return delegation_refusal::administrators_only;
  }
  // Taking permissions away from a role acts on every account holding it, so the caller must
  // hold what the role has as well as what it gets.
  if (!holds_all(caller, current.permissions)) return delegation_refusal::role_exceeds_caller;
  if (new_permissions && !holds_all(caller, *new_permissions)) {
    return delegation_refusal::role_exceeds_caller;
  }
  return std::nullopt;
}

}  // namespace aterm::cloud::security
