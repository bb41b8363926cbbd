// The account tests' shared set-up on the cloud_stack of tests/integration/cloud: the daemon's
// options and small request helpers. Used by each test binary's one thread.
#pragma once

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "cloud_stack.h"

namespace aterm::test {

// The account tests' daemon: session use recorded at every request (session_touch_s 0, so the
// idle time is measured from the last request), an alarm mail recipient, and `security` more
// shortened settings.
inline cloud_stack_options accounts(const std::string& security = {},
                                    std::vector<std::string> trusted_proxies = {}) {
  cloud_stack_options o;
  o.name = "integration-accounts";
  o.security = R"("session_touch_s": 0)" + (security.empty() ? "" : ", " + security);
  o.trusted_proxies = std::move(trusted_proxies);
  o.extra = R"("mail": {"alarm_to": "soc@example.com"})";
  return o;
}

// A JSON object of string fields.
inline std::string json_body(std::initializer_list<std::pair<const char*, std::string>> fields) {
  common::json_ptr o(cJSON_CreateObject());
  for (const auto& [k, v] : fields) cJSON_AddStringToObject(o.get(), k, v.c_str());
  return common::print_json(o.get());
}

// Creates viewer accounts user0 .. user<n-1> of acme through the company administrator's
// client `adm` (e-mail userN@acme.example); each replaces its first password with `password`
// as its owner, through a client of `s`.
inline void create_viewers(cloud_stack& s, https_client& adm, int n, const std::string& password) {
  const std::string first = "First-" + password;
  for (int i = 0; i < n; ++i) {
    const std::string login = "user" + std::to_string(i);
    auto a = adm.request("POST", "accounts",
                         json_body({{"login_id", login},
                                    {"role", "viewer"},
                                    {"email", login + "@acme.example"},
                                    {"password", first}}));
    REQUIRE(a.status == 201);
    auto own = s.make_client();
    REQUIRE(replace_first_password(own, "acme", login, first, password).status == 204);
  }
}

// The account's row as the company's administrator sees it.
inline http_answer account_of(cloud_stack& s, const std::string& company, std::int64_t id) {
  auto c = s.client(company);
  return c.request("GET", "accounts/" + std::to_string(id));
}

// The size of the array `key` of the answer's JSON object; 0 when absent.
inline std::size_t array_size(const http_answer& a, const char* key) {
  const cJSON* arr = a.json ? cJSON_GetObjectItemCaseSensitive(a.json.get(), key) : nullptr;
  return cJSON_IsArray(arr) ? static_cast<std::size_t>(cJSON_GetArraySize(arr)) : 0;
}

}  // namespace aterm::test
