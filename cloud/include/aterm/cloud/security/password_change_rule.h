// The forced password change (DESIGN.md section 5): a password that someone other than its owner
// chose or generated (the CLI's first password, one an administrator set or reset) is replaced
// by the owner before the account does anything else. Until then the only requests allowed are
// reading and ending the session and the owner's own password change; every other route answers
// 403 {"error":"password_change_required"}. The API's guard asks this rule for every route.
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace aterm::cloud::security {

inline constexpr std::string_view k_password_change_required = "password_change_required";

// A signed-in request as the rule sees it: the method, the path without the query, the
// account's own id and whether its password must still be replaced.
struct pending_change_request {
  std::string_view method;
  std::string_view path;
  std::int64_t account_id = 0;
  bool change_required = false;
};

// True when the request may run: no change is pending, or it is GET/DELETE /api/v1/session or
// POST /api/v1/accounts/{own id}/password.
bool allowed_before_password_change(const pending_change_request& r);

// Whether a password set on an account must be replaced at its next login: true unless the
// account's owner set it.
constexpr bool change_required_after_set(bool set_by_owner) {
  return !set_by_owner;
}

}  // namespace aterm::cloud::security
