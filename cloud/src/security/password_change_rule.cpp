#include "aterm/cloud/security/password_change_rule.h"

#include <string>

namespace aterm::cloud::security {

bool allowed_before_password_change(const pending_change_request& r) {
  if (!r.change_required) return true;
  constexpr std::string_view k_session = "/api/v1/session";
  if (r.path == k_session) return r.method == "GET" || r.method == "DELETE";
  const std::string own = "/api/v1/accounts/" + std::to_string(r.account_id) + "/password";
  return r.method == "POST" && r.path == own;
}

}  // namespace aterm::cloud::security
