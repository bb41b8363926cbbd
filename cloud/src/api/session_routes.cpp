// POST/GET/DELETE /api/v1/session (DESIGN.md sections 5 and 6). Every failed login answers the
// same 401 {"error":"login_failed"}; an unknown company or account is verified against a dummy
// hash so it costs the time of a real one. Locked accounts and throttled addresses are refused
// before hashing (the document's rule, and it keeps a flood from costing 0.2 s of CPU each).
#include "api_internal.h"
#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/ip_allowlist.h"
#include "aterm/cloud/security/limits.h"
#include "aterm/cloud/security/password_policy.h"
#include "aterm/common/log.h"

namespace aterm::cloud::api {

namespace {

http::response login_failed() {
  return http::error_response(401, "login_failed", "login failed");
}

}  // namespace

http::response api_service::impl::login(http::request& req) {
  auto count = [&](std::string_view outcome) {
    ctx.metrics
        .get_counter("aterm_api_logins_total", "Login attempts by outcome",
                     {{"outcome", std::string(outcome)}})
        .inc();
  };
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  const cJSON* o = std::get<common::json_ptr>(body).get();
  auto company_id = common::json_string(o, "company_id");
  auto login_id = common::json_string(o, "login_id");
  auto password = common::json_string(o, "password");
  if (!company_id || !login_id || !password) {
    return http::error_response(400, "bad_request",
                                "company_id, login_id and password (strings) are required");
  }
  const std::string& ip = req.client_address;
  auto address = security::ip_address::parse(ip);
  std::string throttle_key = address ? security::throttle_key(*address) : ip;

  // Platform-wide record of a failure whose company is unknown; the actor is what was typed.
  auto fail = [&](const std::string& company, bool company_known, const std::string& detail,
                  bool counts) {
    count(detail);
    audit(company_known ? company : std::string(k_platform_company),
          login_id->substr(0, limits::k_max_name), "login", "", "failure",
          company_known
              ? detail
              : detail + " (company \"" + company.substr(0, limits::k_max_company_id) + "\")",
          ip);
    if (counts) {
      throttle.record_failure(throttle_key);
      raise_alarms(burst.record_failure(company_known ? company : std::string()));
    }
    return login_failed();
  };

  if (!throttle.allowed(throttle_key)) {
    // Refused without hashing, yet still a failed login: it counts toward the attack alarm (one
    // address guessing many accounts is the burst the alarm is for), not toward the throttle.
    bool known =
        company_id->size() <= limits::k_max_company_id && ctx.db.get_company(*company_id).ok();
    raise_alarms(burst.record_failure(known ? *company_id : std::string()));
    return fail(*company_id, known, "throttled", false);
  }
  bool oversized = company_id->size() > limits::k_max_company_id ||
                   login_id->size() > limits::k_max_name ||
                   password->size() > security::limits::k_max_password_bytes;
  if (oversized) return fail("", false, "oversized", true);

  auto comp = ctx.db.get_company(*company_id);
  if (!comp.ok()) {
    if (comp.error().code() != k_not_found) return store_error(comp.error(), "get_company");
    (void)security::verify_password(
        *password, security::dummy_password_hash(ctx.settings.security.password.iterations));
    return fail(*company_id, false, "unknown_company", true);
  }
  if (!comp->settings.ip_allowlist.empty()) {
    auto list = security::ip_allowlist::parse(comp->settings.ip_allowlist);
    if (!list.ok() || !address || !list->allows(*address)) {
      count("ip_not_allowed");
      audit(comp->id, *login_id, "login", "", "denied", "ip_not_allowed", ip);
      return http::error_response(403, "ip_not_allowed",
                                  "logins from this address are not allowed");
    }
  }
  auto acct = ctx.db.find_account(comp->id, *login_id);
  if (!acct.ok()) {
    if (acct.error().code() != k_not_found) return store_error(acct.error(), "find_account");
    (void)security::verify_password(
        *password, security::dummy_password_hash(ctx.settings.security.password.iterations));
    return fail(comp->id, true, "unknown_account", true);
  }

  std::string gate_key = comp->id + "/" + std::to_string(acct->id);
  auto answer = gate.try_acquire(gate_key, security::lock_state_of(*acct));
  if (!answer.ticket) {
    return fail(comp->id, true, answer.refusal == security::gate_refusal::busy ? "busy" : "locked",
                false);
  }
  ctx.metrics
      .get_counter("aterm_api_password_verifications_total",
                   "Password verifications of existing accounts, each reserved by the login gate")
      .inc();
  if (!security::verify_password(*password, acct->password_hash)) {
    auto outcome = answer.ticket->failed();
    const auto& lock = ctx.settings.security.lockout;
    auto updated = ctx.db.record_login_failure(comp->id, acct->id, now_s(), lock.threshold,
                                               lock.lock_duration.count());
    bool locked_now = outcome.locked_now || (updated.ok() && updated->locked != acct->locked &&
                                             updated->locked == lock_reason::failed_logins);
    if (outcome.locked_now && updated.ok() && updated->locked == lock_reason::none) {
      // The gate counted concurrent failures the store did not see yet: persist its lock.
      (void)ctx.db.lock_account(comp->id, acct->id, lock_reason::failed_logins,
                                outcome.state.locked_until_s, now_s());
    }
    if (locked_now) {
      audit(comp->id, acct->login_id, "account.lock", acct->login_id, "success",
            std::to_string(lock.threshold) + " failed logins", ip);
    }
    return fail(comp->id, true, "wrong_password", true);
  }
  (void)answer.ticket->succeeded();
  if (auto s = ctx.db.record_login_success(comp->id, acct->id, now_s()); !s.ok()) {
    return store_error(s, "record_login_success");
  }

  // A new session at every login; a session the browser still carried ends here.
  if (auto old = req.cookie(http::k_session_cookie); old && !old->empty()) {
    (void)ctx.db.delete_session(security::hash_session_token(*old));
  }
  auto fresh = sessions.start();
  session s;
  s.token_hash = fresh.token_hash;
  s.csrf_token = fresh.csrf_token;
  s.account_id = acct->id;
  s.company_id = comp->id;
  s.created_at_s = now_s();
  s.last_seen_at_s = s.created_at_s;
  s.source_ip = ip;
  if (auto st = ctx.db.create_session(s); !st.ok()) return store_error(st, "create_session");
  count("success");
  audit(comp->id, acct->login_id, "login", acct->login_id, "success", "", ip);

  caller c;
  c.acct = std::move(acct).value();
  c.sess = s;
  c.comp = std::move(comp).value();
  c.permissions = permissions_for(c.acct);
  auto res = session_answer(c);
  res.set_header("Set-Cookie", http::session_cookie(fresh.token));
  return res;
}

http::response api_service::impl::whoami(const caller& c) {
  return session_answer(c);
}

http::response api_service::impl::session_answer(const caller& c) {
  auto out = json_object();
  add_item(out.get(), "account", account_json(c.acct));
  auto perms = json_array();
  for (const auto& p : c.permissions)
    cJSON_AddItemToArray(perms.get(), cJSON_CreateString(p.c_str()));
  add_item(out.get(), "permissions", std::move(perms));
  add_string(out.get(), "csrf_token", c.sess.csrf_token);
  add_int(out.get(), "expires_at_s",
          sessions.expires_at_s({c.sess.created_at_s, c.sess.last_seen_at_s}));
  return json_answer(200, out);
}

http::response api_service::impl::logout(http::request& req, const caller& c) {
  auto token = req.cookie(http::k_session_cookie);
  if (token) (void)ctx.db.delete_session(security::hash_session_token(*token));
  (void)c;
  http::response res;
  res.status = 204;
  res.set_header("Set-Cookie", http::expired_session_cookie());
  return res;
}

}  // namespace aterm::cloud::api
