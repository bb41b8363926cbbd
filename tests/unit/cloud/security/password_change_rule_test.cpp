// The forced password change (security/password_change_rule.h) and login ids
// (security/login_id.h): pure rules, no daemon.
#include <doctest/doctest.h>

#include "aterm/cloud/security/login_id.h"
#include "aterm/cloud/security/password_change_rule.h"

using namespace aterm::cloud::security;

TEST_CASE("a pending password change allows the session and the own password change only") {
  auto allowed = [](std::string_view method, std::string_view path, bool pending = true) {
    return allowed_before_password_change({method, path, 7, pending});
  };
  CHECK(allowed("GET", "/api/v1/session"));
  CHECK(allowed("DELETE", "/api/v1/session"));
  CHECK(allowed("POST", "/api/v1/accounts/7/password"));
  CHECK_FALSE(allowed("POST", "/api/v1/session"));
  CHECK_FALSE(allowed("POST", "/api/v1/accounts/8/password"));
  CHECK_FALSE(allowed("POST", "/api/v1/accounts/07/password"));
  CHECK_FALSE(allowed("POST", "/api/v1/accounts/%37/password"));
  CHECK_FALSE(allowed("GET", "/api/v1/accounts/7"));
  CHECK_FALSE(allowed("PATCH", "/api/v1/accounts/7"));
  CHECK_FALSE(allowed("GET", "/api/v1/devices"));
  CHECK_FALSE(allowed("GET", "/api/v1/session/"));
  // Nothing pending: the rule stands aside.
  CHECK(allowed("GET", "/api/v1/devices", false));
  CHECK(change_required_after_set(false));
  CHECK_FALSE(change_required_after_set(true));
}

TEST_CASE("login ids are trimmed of surrounding white space only") {
  CHECK(trim_login_id("  op1 ") == "op1");
  CHECK(trim_login_id("\top 1\r\n") == "op 1");
  CHECK(trim_login_id("   ").empty());
  CHECK(trim_login_id("OP1") == "OP1");
}
