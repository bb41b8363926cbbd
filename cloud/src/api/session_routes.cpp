// POST/GET/DELETE /api/v1/session (DESIGN.md sections 5 and 6). Every failed login answers the
// same 401 {"error":"login_failed"} and, once the company and account were looked up, spends the
// same PBKDF2 time: an unknown company or account, a locked or busy account and an address the
// company's allowlist refuses are verified against a dummy hash of the configured iteration
// count, so neither the answer nor its timing tells which. Throttled addresses and oversized
// input are refused before any lookup (their answer depends on the request alone, and it keeps
// a flood from costing 0.2 s of CPU each).
//
// The login CSRF rule: the body must be application/json (a foreign page's form or text/plain
// post cannot send it without a CORS preflight, which this server never grants), and a browser's
// Origin / Sec-Fetch-Site must name the server's own origin (security/request_origin.h).
//
// PBKDF2 runs on the password hashing pool when the context has one: the login answers later
// and the worker that parsed it is free at once. A full pool answers 503 login_busy with
// Retry-After at once, without hashing and without counting a failure: it depends on the load
// only, never on the account, and a real user is told to retry rather than that the password
// was wrong.
#include <memory>

#include "api_internal.h"
#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/ip_allowlist.h"
#include "aterm/cloud/security/limits.h"
#include "aterm/cloud/security/login_id.h"
#include "aterm/cloud/security/password_policy.h"
#include "aterm/cloud/security/request_origin.h"
#include "aterm/common/log.h"

namespace aterm::cloud::api {

namespace {

http::response login_failed() {
  return http::error_response(401, "login_failed", "login failed");
}

http::response login_busy() {
  auto res =
      http::error_response(503, "login_busy", "too many sign-ins in progress; try again shortly");
  res.set_header("Retry-After", "1");
  return res;
}

// One login between its lookups (on a worker) and its verdict (after PBKDF2, on the hashing
// pool). `refusal` empty: a real verification of `acct` under `ticket`; otherwise the verification
// is against the dummy hash and `refusal` is the failure to record.
struct login_attempt {
  std::string company_id;
  std::string login_id;
  std::string password;
  std::string hash;
  std::string refusal;
  bool company_known = false;
  bool counts = false;  // the failure counts toward the address throttle
  std::optional<company> comp;
  std::optional<account> acct;
  std::optional<security::login_ticket> ticket;
  std::optional<security::verification_lease> lease;  // ended with the verdict, in the store
  std::string ip;
  std::string throttle_key;
  std::optional<std::string> old_session;
};

void count_login(api_service::impl& m, std::string_view outcome) {
  m.ctx.metrics
      .get_counter("aterm_api_logins_total", "Login attempts by outcome",
                   {{"outcome", std::string(outcome)}})
      .inc();
}

// Counts and audits a failed login and answers the uniform 401. A failure whose company is
// unknown is recorded platform-wide; the actor is what was typed.
http::response record_failure(api_service::impl& m, const login_attempt& a,
                              const std::string& detail, bool counts) {
  count_login(m, detail);
  const auto& company = a.company_id;
  m.audit(a.company_known ? company : std::string(k_platform_company),
          a.login_id.substr(0, limits::k_max_name), "login", "", "failure",
          a.company_known
              ? detail
              : detail + " (company \"" + company.substr(0, limits::k_max_company_id) + "\")",
          a.ip);
  if (counts) {
    m.throttle.record_failure(a.throttle_key);
    m.raise_alarms(m.burst.record_failure(a.company_known ? company : std::string()));
  }
  return login_failed();
}

// The verdict once PBKDF2 ran: the refusal decided before hashing, the wrong password, or a new
// session.
http::response finish_login(api_service::impl& m, login_attempt& a, bool password_ok) {
  if (a.refusal == "ip_not_allowed") {
    // The answer is the uniform 401; the access log keeps the reason.
    count_login(m, a.refusal);
    m.audit(a.company_id, a.login_id, "login", "", "denied", "ip_not_allowed", a.ip);
    return login_failed();
  }
  if (!a.refusal.empty()) return record_failure(m, a, a.refusal, a.counts);
  auto& comp = *a.comp;
  auto& acct = *a.acct;
  if (!password_ok) {
    if (m.count_wrong_password(acct, *a.lease)) {
      m.audit(comp.id, acct.login_id, "account.lock", acct.login_id, "success",
              std::to_string(m.lockout.settings().threshold) + " failed logins", a.ip);
    }
    return record_failure(m, a, "wrong_password", true);
  }
  if (auto s = m.ctx.db.record_login_success(
          comp.id, acct.id, m.now_s(),
          [&](const account_lock_state& stored) { return m.lockout.after_success(stored); },
          a.lease->id());
      !s.ok()) {
    return m.store_error(s, "record_login_success");
  }
  a.lease->ended();

  // A new session at every login; a session the browser still carried ends here.
  if (a.old_session && !a.old_session->empty()) {
    (void)m.ctx.db.delete_session(security::hash_session_token(*a.old_session));
  }
  auto fresh = m.sessions.start();
  session s;
  s.token_hash = fresh.token_hash;
  s.csrf_token = fresh.csrf_token;
  s.account_id = acct.id;
  s.company_id = comp.id;
  s.created_at_s = m.now_s();
  s.last_seen_at_s = s.created_at_s;
  s.source_ip = a.ip;
  if (auto st = m.ctx.db.create_session(s); !st.ok()) return m.store_error(st, "create_session");
  count_login(m, "success");
  m.audit(comp.id, acct.login_id, "login", acct.login_id, "success", "", a.ip);

  caller c;
  c.acct = std::move(acct);
  c.sess = s;
  c.comp = std::move(comp);
  c.permissions = m.permissions_for(c.acct);
  auto res = m.session_answer(c);
  res.set_header("Set-Cookie", http::session_cookie(fresh.token));
  return res;
}

std::optional<std::string_view> header_value(const http::request& req, std::string_view name) {
  const auto* h = req.header(name);
  if (h == nullptr) return std::nullopt;
  return std::string_view(*h);
}

}  // namespace

http::response api_service::impl::login(http::request& req) {
  const auto* content_type = req.header("content-type");
  if (content_type == nullptr || !http::is_json_media_type(*content_type)) {
    return http::error_response(415, "unsupported_media_type",
                                "POST /session takes an application/json body");
  }
  const auto* host = req.header("host");
  if (!security::from_own_origin(
          header_value(req, "origin"), header_value(req, "sec-fetch-site"),
          security::own_origin(ctx.settings.public_origin, host != nullptr ? *host : ""))) {
    return http::error_response(403, "cross_origin",
                                "sign-in is accepted only from this server's own pages");
  }
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  const cJSON* o = std::get<common::json_ptr>(body).get();
  // Refused by the request alone, before any lookup: not a failed login.
  for (const char* field : {"company_id", "login_id", "password"}) {
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(o, field);
    if (item == nullptr) return field_required(field);
    if (!cJSON_IsString(item)) return wrong_type(field, "string");
  }
  auto company_id = common::json_string(o, "company_id");
  auto login_id = common::json_string(o, "login_id");
  auto password = common::json_string(o, "password");
  auto a = std::make_shared<login_attempt>();
  a->company_id = *company_id;
  a->login_id = security::trim_login_id(*login_id);
  a->ip = req.client_address;
  auto address = security::ip_address::parse(a->ip);
  a->throttle_key = address ? security::throttle_key(*address) : a->ip;

  if (!throttle.allowed(a->throttle_key)) {
    // Refused without hashing, yet still a failed login: it counts toward the attack alarm (one
    // address guessing many accounts is the burst the alarm is for), not toward the throttle.
    a->company_known =
        company_id->size() <= limits::k_max_company_id && ctx.db.get_company(*company_id).ok();
    return as_operation("login", [&] {
      raise_alarms(burst.record_failure(a->company_known ? *company_id : std::string()));
      return record_failure(*this, *a, "throttled", false);
    });
  }
  bool oversized = company_id->size() > limits::k_max_company_id ||
                   login_id->size() > limits::k_max_name_bytes ||
                   password->size() > security::limits::k_max_password_bytes;
  if (oversized) {
    a->company_id.clear();
    return as_operation("login", [&] { return record_failure(*this, *a, "oversized", true); });
  }

  // From here every path verifies a password: the account's hash, or the dummy one.
  auto refuse = [&](std::string refusal, bool counts) {
    a->refusal = std::move(refusal);
    a->counts = counts;
    a->hash = security::dummy_password_hash(ctx.settings.security.password.iterations);
  };
  auto comp = ctx.db.get_company(*company_id);
  if (!comp.ok()) {
    if (comp.error().code() != k_not_found) return store_error(comp.error(), "get_company");
    refuse("unknown_company", true);
  } else {
    a->company_known = true;
    a->company_id = comp->id;
    a->comp = std::move(comp).value();
  }
  if (a->comp && !a->comp->settings.ip_allowlist.empty()) {
    auto list = security::ip_allowlist::parse(a->comp->settings.ip_allowlist);
    if (!list.ok() || !address || !list->allows(*address)) refuse("ip_not_allowed", false);
  }
  if (a->refusal.empty()) {
    auto acct = ctx.db.find_account(a->comp->id, a->login_id);
    if (!acct.ok()) {
      if (acct.error().code() != k_not_found) return store_error(acct.error(), "find_account");
      refuse("unknown_account", true);
    } else {
      std::string gate_key = a->comp->id + "/" + std::to_string(acct->id);
      auto answer = gate.try_acquire(gate_key, security::lock_state_of(*acct));
      if (answer.ticket) {
        auto across = verifications.try_reserve(a->comp->id, acct->id);
        if (across.lease) {
          a->lease = std::move(across.lease);
        } else {
          answer.ticket.reset();
          answer.refusal = across.refusal;
        }
      }
      if (!answer.ticket) {
        refuse(answer.refusal == security::gate_refusal::busy ? "busy" : "locked", false);
      } else {
        ctx.metrics
            .get_counter(
                "aterm_api_password_verifications_total",
                "Password verifications of existing accounts, each reserved by the login gate")
            .inc();
        a->hash = acct->password_hash;
        a->ticket = std::move(answer.ticket);
        a->acct = std::move(acct).value();
      }
    }
  }
  a->password = *password;
  a->old_session = req.cookie(http::k_session_cookie);

  auto verify_and_finish = [this, a] {
    bool ok = security::verify_password(a->password, a->hash);
    a->password.clear();
    if (a->ticket && ok) (void)a->ticket->succeeded();
    if (a->ticket && !ok) (void)a->ticket->failed();
    // After PBKDF2, so the store's write lock is never held while a password is hashed.
    auto res = as_operation("login", [&] { return finish_login(*this, *a, ok); });
    a->lease.reset();
    return res;
  };
  if (ctx.password_hashing == nullptr) return verify_and_finish();
  http::response later;
  later.deferred = [this, job = std::move(verify_and_finish)](http::responder done) {
    auto reply = std::make_shared<http::responder>(std::move(done));
    if (!ctx.password_hashing->try_submit([job, reply] { (*reply)(job()); })) {
      ctx.metrics
          .get_counter("aterm_api_logins_refused_busy_total",
                       "Logins answered 503 because the password hashing queue was full")
          .inc();
      (*reply)(login_busy());
    }
  };
  return later;
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
  // Other programs rely on this field: true until the account replaced a password someone else
  // set (security/password_change_rule.h).
  add_bool(out.get(), "password_change_required", c.acct.password_change_required);
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
