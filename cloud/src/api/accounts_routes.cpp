// Accounts of the caller's company (DESIGN.md sections 5 and 6): list, read, create (with an
// e-mail address; a generated first password answered once, or one an administrator sets),
// update (email, role, lock), delete, change password. The administrator flag follows the role.
// An account cannot delete, lock or re-role itself. Who may give which role and act on which
// account is the delegation rule's (security/delegation_policy.h), decided inside the store
// transaction that makes the change.
#include <charconv>
#include <utility>

#include "account_routes.h"
#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/delegation_policy.h"
#include "aterm/cloud/security/email_address.h"
#include "aterm/cloud/security/limits.h"
#include "aterm/cloud/security/login_id.h"
#include "aterm/cloud/security/password_change_rule.h"
#include "aterm/cloud/security/password_policy.h"
#include "aterm/common/crypto.h"
#include "aterm/common/log.h"

namespace aterm::cloud::api {

namespace {

http::response no_account() {
  return http::error_response(404, "not_found", "no such account");
}

// The first broken password rule as a 400 naming the rule and its bound (never the password).
http::response password_refused(const common::status& s,
                                const security::password_settings& policy) {
  if (s.code() == "password_too_short") {
    return http::error_response(400, s.code(), s.message(),
                                {{"min_length", static_cast<std::int64_t>(policy.min_length)}});
  }
  if (s.code() == "password_too_long") {
    return http::error_response(
        400, s.code(), s.message(),
        {{"max_bytes", static_cast<std::int64_t>(security::limits::k_max_password_bytes)}});
  }
  if (s.code() == "password_reused") {
    return http::error_response(400, s.code(), s.message(),
                                {{"history", static_cast<std::int64_t>(policy.history)}});
  }
  return http::error_response(400, s.code(), s.message());
}

http::response list_accounts(api_service::impl& m, http::request&, const caller& c, op_audit&) {
  auto list = m.ctx.db.list_accounts(c.comp.id);
  if (!list.ok()) return m.store_error(list.error(), "list_accounts");
  auto out = json_object();
  auto arr = json_array();
  for (const auto& a : *list) append_item(arr.get(), account_detail_json(a, m.now_s()));
  add_item(out.get(), "accounts", std::move(arr));
  return json_answer(200, out);
}

http::response get_account(api_service::impl& m, http::request& req, const caller& c, op_audit&) {
  auto id = id_param(req);
  if (!id) return no_account();
  auto a = m.ctx.db.get_account(c.comp.id, *id);
  if (!a.ok()) return m.store_error(a.error(), "get_account");
  return json_answer(200, account_detail_json(*a, m.now_s()));
}

http::response create_account(api_service::impl& m, http::request& req, const caller& c,
                              op_audit& audit) {
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  std::optional<std::string> login_id, role_name, email, password;
  for (const cJSON* item = std::get<common::json_ptr>(body)->child; item; item = item->next) {
    std::string_view k = item->string;
    std::optional<std::string>* slot = k == "login_id"   ? &login_id
                                       : k == "role"     ? &role_name
                                       : k == "email"    ? &email
                                       : k == "password" ? &password
                                                         : nullptr;
    if (slot == nullptr) return unknown_field(k);
    if (!cJSON_IsString(item)) return wrong_type(k, "string");
    *slot = item->valuestring;
  }
  if (login_id) *login_id = security::trim_login_id(*login_id);
  if (!login_id || !valid_line(*login_id, limits::k_max_name)) {
    return http::error_response(400, "invalid_login_id",
                                "login_id must be 1..128 printable characters",
                                {{"max_length", static_cast<std::int64_t>(limits::k_max_name)}});
  }
  if (!role_name) {
    return http::error_response(400, "role_required", "role is required: choose one",
                                {{"field", "role"}});
  }
  if (!email || !security::valid_email_address(*email)) return invalid_email("email");
  audit.target = *login_id;
  auto r = m.ctx.db.find_role(c.comp.id, *role_name);
  if (!r.ok()) {
    if (r.error().code() == k_not_found) {
      return http::error_response(400, "unknown_role", "no such role", {{"role", *role_name}});
    }
    return m.store_error(r.error(), "find_role");
  }
  if (auto refused = security::judge_role_grant(delegator_of(c), *r)) {
    return delegation_refused(*refused, audit);
  }
  const auto& policy = m.ctx.settings.security.password;
  std::string generated;
  if (password) {
    if (auto s = security::check_new_password(*password, *login_id, {}, policy); !s.ok()) {
      return password_refused(s, policy);
    }
  } else {
    generated = common::crypto::generate_password(limits::k_generated_password_length);
  }
  const std::string& plain = password ? *password : generated;
  // The creator chose or generated the password, never its owner.
  auto created = m.ctx.db.create_account(
      {c.comp.id, *login_id, *email, *role_name,
       security::make_password_hash(plain, policy.iterations, policy.salt_bytes),
       security::change_required_after_set(false)});
  if (!created.ok()) {
    if (created.error().code() == k_conflict) {
      return http::error_response(409, "login_id_taken",
                                  "login id taken (compared without regard to case)",
                                  {{"login_id", *login_id}});
    }
    return m.store_error(created.error(), "create_account");
  }
  audit.detail =
      "role=" + created->role_name + (password ? " password=set" : " password=generated");
  auto out = account_detail_json(*created, m.now_s());
  if (!password) add_string(out.get(), "password", generated);
  return json_answer(201, out);
}

http::response update_account(api_service::impl& m, http::request& req, const caller& c,
                              op_audit& audit) {
  auto id = id_param(req);
  if (!id) return no_account();
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  account_update update;
  for (const cJSON* item = std::get<common::json_ptr>(body)->child; item; item = item->next) {
    std::string_view k = item->string;
    if (k == "email" || k == "role") {
      if (!cJSON_IsString(item)) return wrong_type(k, "string");
      (k == "email" ? update.email : update.role_name) = item->valuestring;
    } else if (k == "locked") {
      if (!cJSON_IsBool(item)) return wrong_type(k, "boolean");
      update.locked = cJSON_IsTrue(item) != 0;
    } else {
      return unknown_field(k);
    }
  }
  if (update.email && !security::valid_email_address(*update.email)) return invalid_email("email");
  auto current = m.ctx.db.get_account(c.comp.id, *id);
  if (!current.ok()) return m.store_error(current.error(), "get_account");
  audit.target = current->login_id;
  bool self = current->id == c.acct.id;
  if (self && ((update.role_name && *update.role_name != current->role_name) || update.locked)) {
    return http::error_response(409, "own_role_or_lock",
                                "an account cannot change its own role or lock");
  }
  // Decide everything before changing anything: a refused part leaves the account as it was.
  auto who = c.comp.id == k_platform_company ? security::unlocker::site_administrator
                                             : security::unlocker::company_administrator;
  if (update.locked && !*update.locked) {
    if (auto refused = unlock_refused(m, *current, who)) return std::move(*refused);
  }
  auto change = !update.locked   ? security::account_change::edit
                : *update.locked ? security::account_change::lock
                                 : security::account_change::unlock;
  std::optional<security::delegation_refusal> refused;
  auto after =
      m.ctx.db.update_account(c.comp.id, *id, update, delegation_check(c, change, refused));
  if (refused) return delegation_refused(*refused, audit);
  if (!after.ok()) return m.store_error(after.error(), "update_account");
  if (update.locked && !*update.locked) m.gate.reset(gate_key(c.comp.id, *id));
  std::string detail;
  if (update.role_name) detail += "role=" + after->role_name + " ";
  if (update.email) detail += "email ";
  if (update.locked) detail += *update.locked ? "locked" : "unlocked";
  audit.detail = detail;
  return json_answer(200, account_detail_json(*after, m.now_s()));
}

http::response delete_account(api_service::impl& m, http::request& req, const caller& c,
                              op_audit& audit) {
  auto id = id_param(req);
  if (!id) return no_account();
  auto current = m.ctx.db.get_account(c.comp.id, *id);
  if (!current.ok()) return m.store_error(current.error(), "get_account");
  audit.target = current->login_id;
  if (current->id == c.acct.id) {
    return http::error_response(409, "own_account_delete", "an account cannot delete itself");
  }
  std::optional<security::delegation_refusal> refused;
  auto s = m.ctx.db.delete_account(c.comp.id, *id,
                                   delegation_check(c, security::account_change::remove, refused));
  if (refused) return delegation_refused(*refused, audit);
  if (!s.ok()) return m.store_error(s, "delete_account");
  m.gate.reset(gate_key(c.comp.id, *id));
  return no_content();
}

// POST /accounts/{id}/password {password, current_password}: an account changes its own password
// (proving the current one, which counts against the lock like a login), or an account with
// account.manage sets another's ({password}) or resets it ({"generate": true}: a generated one,
// answered once). Either way the account's sessions end; a password set by another must be
// replaced at the next login (security/password_change_rule.h).
http::response change_password(api_service::impl& m, http::request& req, const caller& c,
                               op_audit& audit) {
  auto id = id_param(req);
  if (!id) return no_account();
  bool self = *id == c.acct.id;
  if (!self && !c.has("account.manage")) {
    audit.detail = "denied: account.manage required";
    return http::error_response(403, "forbidden", "permission account.manage required");
  }
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  const cJSON* o = std::get<common::json_ptr>(body).get();
  auto password = common::json_string(o, "password");
  auto current_password = common::json_string(o, "current_password");
  const bool generate = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "generate")) != 0;
  if (generate && (self || password)) {
    return http::error_response(400, "generate_not_allowed",
                                "generate is for another account's password, without password",
                                {{"field", "generate"}});
  }
  std::string generated;
  if (generate) {
    generated = common::crypto::generate_password(limits::k_generated_password_length);
    password = generated;
  }
  if (!password) {
    return http::error_response(400, "password_required", "password (string) is required",
                                {{"field", "password"}});
  }
  auto target = m.ctx.db.get_account(c.comp.id, *id);
  if (!target.ok()) return m.store_error(target.error(), "get_account");
  audit.target = target->login_id;
  if (self) {
    if (!current_password) {
      return http::error_response(400, "current_password_required",
                                  "current_password (string) is required",
                                  {{"field", "current_password"}});
    }
    auto answer =
        m.gate.try_acquire(gate_key(c.comp.id, target->id), security::lock_state_of(*target));
    auto across = answer.ticket ? m.verifications.try_reserve(c.comp.id, target->id)
                                : security::verification_answer{};
    if (!across.lease) return http::error_response(403, "wrong_password", "password not changed");
    m.ctx.metrics
        .get_counter("aterm_api_password_verifications_total",
                     "Password verifications of existing accounts, each reserved by the login gate")
        .inc();
    if (!security::verify_password(*current_password, target->password_hash)) {
      (void)answer.ticket->failed();
      (void)m.count_wrong_password(*target, *across.lease);
      audit.detail = "wrong current password";
      return http::error_response(403, "wrong_password", "password not changed");
    }
    (void)answer.ticket->succeeded();
  }
  const auto& policy = m.ctx.settings.security.password;
  if (auto s = security::check_new_password(*password, *target, policy); !s.ok()) {
    audit.detail = std::string(s.code());
    return password_refused(s, policy);
  }
  // Setting another's password acts on that account: the delegation rule decides.
  std::optional<security::delegation_refusal> refused;
  auto s = m.ctx.db.set_password(
      c.comp.id, target->id,
      security::make_password_hash(*password, policy.iterations, policy.salt_bytes),
      security::change_required_after_set(self),
      self ? account_check{} : delegation_check(c, security::account_change::password, refused));
  if (refused) return delegation_refused(*refused, audit);
  if (!s.ok()) return m.store_error(s, "set_password");
  audit.detail = self       ? "by the account"
                 : generate ? "generated by " + c.acct.login_id
                            : "by " + c.acct.login_id;
  if (generate) {
    auto out = json_object();
    add_string(out.get(), "password", generated);
    add_bool(out.get(), "password_change_required", true);
    return json_answer(200, out);
  }
  auto res = no_content();
  if (self) res.set_header("Set-Cookie", http::expired_session_cookie());
  return res;
}

}  // namespace

security::delegator delegator_of(const caller& c) {
  return {c.acct.role_id, c.permissions, c.acct.is_administrator()};
}

http::response delegation_refused(security::delegation_refusal r, op_audit& audit) {
  audit.detail = "denied: " + std::string(security::to_string(r));
  return http::error_response(403, "forbidden", security::describe(r),
                              {{"reason", std::string(security::to_string(r))}});
}

account_check delegation_check(const caller& c, security::account_change change,
                               std::optional<security::delegation_refusal>& refused) {
  return [d = delegator_of(c), change, &refused](const account_facts& f) -> common::status {
    refused = security::judge_account_change(d, change, f);
    if (!refused) return {};
    return common::status::error(std::string(security::to_string(*refused)),
                                 std::string(security::describe(*refused)));
  };
}

guarded_handler bind_route(api_service::impl& m, route_fn fn) {
  return [&m, fn](http::request& req, const caller& c, op_audit& a) { return fn(m, req, c, a); };
}

std::optional<std::int64_t> id_param(const http::request& req, std::string_view name) {
  auto it = req.params.find(name);
  if (it == req.params.end()) return std::nullopt;
  const auto& s = it->second;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

bool valid_line(std::string_view s, std::size_t max) {
  const auto characters = common::line_characters(s);
  return characters && *characters > 0 && *characters <= max;
}

common::json_ptr account_detail_json(const account& a, std::int64_t now_s) {
  auto o = account_json(a);
  // A failed-logins lock that ran out is no lock any more (lockout_policy::current).
  bool ran_out = a.locked == lock_reason::failed_logins && a.locked_until_s.value_or(0) <= now_s;
  add_string(o.get(), "locked", to_string(ran_out ? lock_reason::none : a.locked));
  add_optional_int(o.get(), "locked_until_s", ran_out ? std::nullopt : a.locked_until_s);
  add_int(o.get(), "failed_count", ran_out ? 0 : a.failed_count);
  add_int(o.get(), "created_at_s", a.created_at_s);
  add_bool(o.get(), "password_change_required", a.password_change_required);
  return o;
}

http::response no_content() {
  http::response res;
  res.status = 204;
  res.body.clear();
  return res;
}

std::string gate_key(const std::string& company_id, std::int64_t account_id) {
  return company_id + "/" + std::to_string(account_id);
}

std::optional<http::response> unlock_refused(api_service::impl& m, const account& a,
                                             security::unlocker who) {
  auto verdict = m.lockout.unlock(security::lock_state_of(a), who);
  if (verdict.ok()) return std::nullopt;
  bool forbidden = verdict.error().code() == "not_permitted";
  return http::error_response(
      forbidden ? 403 : 409, verdict.error().code(),
      forbidden ? "only a site administrator lifts this lock" : "the account is not locked");
}

std::optional<http::response> unlock_account(api_service::impl& m, const account& a,
                                             security::unlocker who) {
  if (auto refused = unlock_refused(m, a, who)) return refused;
  if (auto s = m.ctx.db.unlock_account(a.company_id, a.id); !s.ok()) {
    return m.store_error(s, "unlock_account");
  }
  m.gate.reset(gate_key(a.company_id, a.id));
  return std::nullopt;
}

void register_account_admin_routes(api_service::impl& m, http::router& r, const std::string& base) {
  r.add("GET", base + "/accounts",
        m.guarded("account.list", "account.read", bind_route(m, list_accounts)));
  r.add("POST", base + "/accounts",
        m.guarded("account.create", "account.manage", bind_route(m, create_account)));
  r.add("GET", base + "/accounts/{id}",
        m.guarded("account.read", "account.read", bind_route(m, get_account)));
  r.add("PATCH", base + "/accounts/{id}",
        m.guarded("account.update", "account.manage", bind_route(m, update_account)));
  r.add("DELETE", base + "/accounts/{id}",
        m.guarded("account.delete", "account.manage", bind_route(m, delete_account)));
  // Own password: any signed-in account; another's: account.manage, checked in the handler.
  r.add("POST", base + "/accounts/{id}/password",
        m.guarded("account.password", "", bind_route(m, change_password)));
  register_role_routes(m, r, base);
  register_company_routes(m, r, base);
  register_audit_routes(m, r, base);
  register_admin_routes(m, r, base);
}

}  // namespace aterm::cloud::api
