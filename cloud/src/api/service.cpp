// The service state, the checks every guarded route runs, the access log and the route table.
#include <algorithm>
#include <utility>
#include <vector>

#include "api_internal.h"
#include "aterm/cloud/alerts/alert_evaluator.h"
#include "aterm/cloud/alerts/webhook.h"
#include "aterm/cloud/security/built_in_roles.h"
#include "aterm/cloud/security/ip_allowlist.h"
#include "aterm/cloud/security/password_change_rule.h"
#include "aterm/common/log.h"

namespace aterm::cloud::api {

http::response bad_request(std::string_view message) {
  return http::error_response(400, "bad_request", message);
}

namespace {

bool state_changing(std::string_view method) {
  return method == "POST" || method == "PATCH" || method == "DELETE" || method == "PUT";
}

// The failed access-log append of the operation this thread runs (guarded), if any: an
// operation and its records commit together or not at all.
thread_local common::status* t_operation_audit = nullptr;

// The bridge's notices of new commands of the operation this thread runs, if any: sent once it
// has committed. A notice sent earlier lets the dispatcher look for the command before it
// exists for other transactions, find nothing, and leave it to the next poll (up to
// mqtt.dispatch_poll_ms later).
thread_local std::vector<std::string>* t_operation_notices = nullptr;

// The route's principal id, for the access log.
std::string default_target(const http::request& req) {
  for (const char* p : {"login_id", "cmd_id", "id"}) {
    if (auto it = req.params.find(p); it != req.params.end()) return it->second;
  }
  return {};
}

}  // namespace

bool api_service::impl::count_wrong_password(const account& a,
                                             security::verification_lease& lease) {
  bool locked_now = false;
  auto updated = ctx.db.record_login_failure(
      a.company_id, a.id, now_s(),
      [&](const account_lock_state& stored) {
        auto outcome = lockout.after_failure(stored);
        locked_now = outcome.locked_now;
        return outcome.state;
      },
      lease.id());
  if (!updated.ok()) return false;
  lease.ended();
  return locked_now;
}

std::vector<std::string> api_service::impl::permissions_for(const account& a) {
  auto r = ctx.db.find_role(a.company_id, a.role_name);
  if (r.ok()) return r->permissions;
  return security::built_in_permissions(a.role_name);
}

bool caller::has(std::string_view permission) const {
  return std::find(permissions.begin(), permissions.end(), permission) != permissions.end();
}

api_settings api_settings_from(const common::config& c) {
  api_settings s;
  s.security = security::security_settings_from(c);
  if (c.has("mail.alarm_to")) s.alarm_mail_to = c.get_string("mail.alarm_to");
  if (c.has("alerts.offline_after_s"))
    s.alert_offline_after_s = c.get_int("alerts.offline_after_s");
  if (c.has("db") && c.has("alerts.webhook_key_file"))
    s.webhook_key_file = alerts::webhook_key_path(c);
  return s;
}

api_service::impl::impl(api_context c)
    : ctx(std::move(c)),
      lockout(ctx.settings.security.lockout, ctx.clock),
      gate(lockout),
      verifications(lockout, ctx.db),
      throttle(ctx.settings.security.throttle, ctx.db, ctx.clock),
      burst(ctx.settings.security.burst, ctx.db, ctx.clock),
      sessions(ctx.settings.security.session, ctx.clock) {}

void api_service::impl::audit(const std::string& company_id, const std::string& actor,
                              const std::string& action, const std::string& target,
                              const std::string& result, const std::string& detail,
                              const std::string& source_ip) {
  audit_entry e{company_id, actor, action, target, result, detail, source_ip};
  auto r = ctx.db.append_audit(e);
  if (!r.ok()) {
    common::log(common::log_level::error, "api", "access log append failed",
                {{"action", action}, {"error", r.error().to_string()}});
    if (t_operation_audit != nullptr && t_operation_audit->ok()) *t_operation_audit = r.error();
  }
}

http::response api_service::impl::store_error(const common::status& s, std::string_view what) {
  if (s.code() == k_not_found) return http::error_response(404, "not_found", s.message());
  if (s.code() == k_conflict) return http::error_response(409, "conflict", s.message());
  if (s.code() == k_invalid) return http::error_response(400, "invalid", s.message());
  common::log(common::log_level::error, "api", "store call failed",
              {{"call", what}, {"error", s.to_string()}});
  return http::error_response(500, "internal", "internal error");
}

void api_service::impl::notify(const std::string& device_id) {
  if (t_operation_notices != nullptr) {
    t_operation_notices->push_back(device_id);
    return;
  }
  if (ctx.notify_command) ctx.notify_command(device_id);
}

void api_service::impl::raise_alarms(const std::vector<security::alarm_event>& alarms) {
  for (const auto& a : alarms) {
    std::string company =
        a.scope == security::alarm_scope::platform ? std::string(k_platform_company) : a.company_id;
    std::string detail = std::to_string(a.failures) + " failed logins since " +
                         common::format_utc(a.window_start) + " (" +
                         std::string(security::to_string(a.scope)) + ")";
    common::log(common::log_level::warn, "api", "login failure burst",
                {{"company", company}, {"failures", a.failures}});
    ctx.metrics.get_counter("aterm_api_alarms_total", "Attack alarms raised").inc();
    // The same path as the routers' alarms: stored, and queued to the company's channels (the
    // platform's for a platform-wide burst).
    alerts::alarm_record record;
    record.company_id = company;
    record.kind = "login_failure_burst";
    record.detail = detail;
    auto port = alerts::open_alert_store(ctx.db);
    auto r = port.ok()
                 ? (*port)->raise_alarm(record, now_s(),
                                        [](const alerts::alarm_record& a, std::string_view event) {
                                          return alerts::notice_for(a, event, a.created_at_s);
                                        })
                 : common::result<std::optional<alerts::alarm_record>>(port.error());
    if (!r.ok()) {
      common::log(common::log_level::error, "api", "alarm not stored",
                  {{"error", r.error().to_string()}});
    }
    if (!ctx.settings.alarm_mail_to.empty()) {
      mail_message m;
      m.to = ctx.settings.alarm_mail_to;
      m.subject = "[aterm] login failure burst: " + company;
      m.body = "Login failure burst for " + company + ": " + detail + ".\n";
      m.created_at_s = now_s();
      m.next_attempt_s = m.created_at_s;
      if (auto r = ctx.db.enqueue_mail(m); !r.ok()) {
        common::log(common::log_level::error, "api", "alarm mail not queued",
                    {{"error", r.error().to_string()}});
      }
    }
  }
}

std::variant<caller, http::response> api_service::impl::authenticate(
    http::request& req, const std::string& action, const std::string& permission) {
  auto deny_counter = [&](std::string_view reason) {
    ctx.metrics
        .get_counter("aterm_api_denied_total", "API requests refused by a check, by reason",
                     {{"reason", std::string(reason)}})
        .inc();
  };
  auto token = req.cookie(http::k_session_cookie);
  if (!token || token->empty()) {
    deny_counter("no_session");
    return http::error_response(401, "unauthenticated", "sign in first");
  }
  auto token_hash = security::hash_session_token(*token);
  auto found = ctx.db.find_session(token_hash);
  if (!found.ok()) {
    if (found.error().code() != k_not_found) return store_error(found.error(), "find_session");
    deny_counter("no_session");
    auto res = http::error_response(401, "unauthenticated", "sign in first");
    res.set_header("Set-Cookie", http::expired_session_cookie());
    return res;
  }
  caller c;
  c.sess = std::move(found).value();
  c.client_ip = req.client_address;
  c.kind = security::classify_request(req.method, req.header(security::k_background_header));

  auto verdict = sessions.judge({c.sess.created_at_s, c.sess.last_seen_at_s});
  if (verdict != security::session_verdict::valid) {
    (void)ctx.db.delete_session(token_hash);
    deny_counter("session_expired");
    audit(c.sess.company_id, "account:" + std::to_string(c.sess.account_id), "session.expired", "",
          "success", std::string(security::to_string(verdict)), c.client_ip);
    auto res = http::error_response(401, "session_expired", "the session has ended; sign in again");
    res.set_header("Set-Cookie", http::expired_session_cookie());
    return res;
  }

  auto acct = ctx.db.get_account(c.sess.company_id, c.sess.account_id);
  if (!acct.ok() || lockout.is_locked(security::lock_state_of(*acct))) {
    (void)ctx.db.delete_session(token_hash);
    deny_counter("account_unavailable");
    return http::error_response(401, "unauthenticated", "sign in first");
  }
  c.acct = std::move(acct).value();
  auto comp = ctx.db.get_company(c.sess.company_id);
  if (!comp.ok()) return store_error(comp.error(), "get_company");
  c.comp = std::move(comp).value();

  auto deny = [&](unsigned status, std::string_view code, std::string_view message,
                  std::string_view reason) -> http::response {
    deny_counter(reason);
    audit(c.comp.id, c.acct.login_id, action, default_target(req), "denied", std::string(reason),
          c.client_ip);
    return http::error_response(status, code, message);
  };

  if (!c.comp.settings.ip_allowlist.empty()) {
    auto list = security::ip_allowlist::parse(c.comp.settings.ip_allowlist);
    auto ip = security::ip_address::parse(c.client_ip);
    // A stored list that no longer parses refuses everyone rather than no one.
    if (!list.ok() || !ip || !list->allows(*ip)) {
      return deny(403, "ip_not_allowed", "requests from this address are not allowed",
                  "ip_not_allowed");
    }
  }
  if (state_changing(req.method)) {
    const auto* presented = req.header(http::k_csrf_header);
    if (presented == nullptr || !security::csrf_matches(c.sess.csrf_token, *presented)) {
      return deny(403, "csrf_failed", "missing or wrong X-CSRF-Token", "csrf_failed");
    }
  }
  if (!security::allowed_before_password_change(
          {req.method, req.path, c.acct.id, c.acct.password_change_required})) {
    return deny(403, security::k_password_change_required,
                "the password must be replaced first: POST /api/v1/accounts/{own id}/password",
                security::k_password_change_required);
  }
  c.permissions = permissions_for(c.acct);
  if (!permission.empty() && !c.has(permission)) {
    return deny(403, "forbidden", "permission " + permission + " required", "forbidden");
  }
  if (sessions.should_touch({c.sess.created_at_s, c.sess.last_seen_at_s}, c.kind)) {
    (void)ctx.db.touch_session(token_hash, now_s());
  }
  return c;
}

http::handler api_service::impl::guarded(std::string action, std::string permission,
                                         guarded_handler h, bool audit_success) {
  return [this, action = std::move(action), permission = std::move(permission), h = std::move(h),
          audit_success](http::request& req) -> http::response {
    auto auth = authenticate(req, action, permission);
    if (auto* refused = std::get_if<http::response>(&auth)) return std::move(*refused);
    const auto& c = std::get<caller>(auth);
    op_audit a;
    http::response res;
    auto run = [&] {
      a = op_audit{};
      a.target = default_target(req);
      res = h(req, c, a);
      // A page's own polling is no operation of the user's; its refusals are still recorded.
      const bool operation = audit_success && c.kind == security::request_kind::activity;
      if (operation || res.status >= 400) {
        if (a.detail.empty() && res.status >= 400) {
          // The error code of the answer, e.g. "404 not_found".
          auto body = common::parse_json(res.body);
          auto code = body.ok() ? common::json_string(body->get(), "error") : std::nullopt;
          a.detail = std::to_string(res.status) + (code ? " " + *code : "");
        }
        audit(c.comp.id, c.acct.login_id, action, a.target,
              res.status < 400 ? "success" : "failure", a.detail, c.client_ip);
      }
    };
    if (!state_changing(req.method)) {
      run();
      return res;
    }
    return as_operation(action, [&] {
      run();
      return std::move(res);
    });
  };
}

http::response api_service::impl::as_operation(std::string_view action,
                                               const std::function<http::response()>& body) {
  // A change and its access-log records commit together: one store operation, rolled back
  // whole when a record is refused. The store runs the body once (it never retries an
  // operation, whose route also answers, logs and counts outside the database).
  http::response res;
  common::status refused;
  std::vector<std::string> notices;
  auto done = ctx.db.run_operation([&]() -> common::status {
    refused = common::status{};
    notices.clear();
    t_operation_audit = &refused;
    t_operation_notices = &notices;
    res = body();
    t_operation_audit = nullptr;
    t_operation_notices = nullptr;
    return refused;
  });
  t_operation_audit = nullptr;
  t_operation_notices = nullptr;
  if (!done.ok()) {
    common::log(common::log_level::error, "api", "operation undone",
                {{"action", action}, {"error", done.to_string()}});
    return http::error_response(500, "internal", "internal error");
  }
  for (const auto& device_id : notices) notify(device_id);
  return res;
}

api_service::api_service(api_context ctx) : impl_(std::make_unique<impl>(std::move(ctx))) {}
api_service::~api_service() = default;

void api_service::register_routes(http::router& r) {
  auto* m = impl_.get();
  const std::string base = "/api/v1";
  auto bind = [m](http::response (impl::*fn)(http::request&, const caller&, op_audit&)) {
    return
        [m, fn](http::request& req, const caller& c, op_audit& a) { return (m->*fn)(req, c, a); };
  };

  r.add("POST", base + "/session", [m](http::request& req) { return m->login(req); });
  r.add("GET", base + "/session",
        m->guarded(
            "session.read", "",
            [m](http::request&, const caller& c, op_audit&) { return m->whoami(c); }, false));
  r.add("DELETE", base + "/session",
        m->guarded("logout", "", [m](http::request& req, const caller& c, op_audit&) {
          return m->logout(req, c);
        }));

  r.add("GET", base + "/devices",
        m->guarded("device.list", "device.read", bind(&impl::list_devices)));
  r.add("GET", base + "/devices/{id}",
        m->guarded("device.read", "device.read", bind(&impl::get_device)));
  r.add("GET", base + "/devices/{id}/history",
        m->guarded("device.history", "device.read", bind(&impl::device_history)));
  r.add("PATCH", base + "/devices/{id}",
        m->guarded("device.move", "device.register", bind(&impl::move_device)));
  r.add("PUT", base + "/devices/{id}/tags",
        m->guarded("device.tags", "device.register", bind(&impl::set_device_tags)));
  r.add("DELETE", base + "/devices/{id}",
        m->guarded("device.remove", "device.register", bind(&impl::remove_device)));
  r.add("GET", base + "/fleet/summary",
        m->guarded("fleet.summary", "device.read", bind(&impl::fleet_summary_route), false));
  r.add("POST", base + "/devices/{id}/commands",
        m->guarded("command.create", "device.command", bind(&impl::create_command)));
  // Before /commands/{cmd_id}: the first matching route answers.
  r.add("GET", base + "/commands/catalogue",
        m->guarded(
            "command.catalogue", "device.command",
            [](http::request&, const caller&, op_audit&) {
              return json_answer(200, command_catalogue_json());
            },
            false));
  r.add("GET", base + "/commands/{cmd_id}",
        m->guarded("command.read", "device.read", bind(&impl::get_command)));

  r.add("POST", base + "/devices/{id}/technician-logins",
        m->guarded("technician_login.create", "device.technician_login",
                   bind(&impl::create_technician_login)));
  r.add("GET", base + "/devices/{id}/technician-logins",
        m->guarded("technician_login.list", "device.technician_login",
                   bind(&impl::list_technician_logins)));
  r.add("DELETE", base + "/devices/{id}/technician-logins/{login_id}",
        m->guarded("technician_login.revoke", "device.technician_login",
                   bind(&impl::revoke_technician_login)));

  r.add("GET", base + "/destinations",
        m->guarded("destination.list", "device.read", bind(&impl::list_destinations)));
  r.add("POST", base + "/destinations",
        m->guarded("destination.create", "destination.manage", bind(&impl::create_destination)));
  r.add("GET", base + "/destinations/{id}",
        m->guarded("destination.read", "device.read", bind(&impl::get_destination)));
  r.add("PATCH", base + "/destinations/{id}",
        m->guarded("destination.update", "destination.manage", bind(&impl::update_destination)));
  r.add("DELETE", base + "/destinations/{id}",
        m->guarded("destination.delete", "destination.manage", bind(&impl::delete_destination)));
  r.add("POST", base + "/destinations/{id}/devices",
        m->guarded("device.register", "device.register", bind(&impl::register_devices)));
  register_job_routes(*m, r, base);
  register_account_admin_routes(*m, r, base);
  register_notice_routes(*m, r, base);
  register_alert_routes(*m, r, base);
}

std::unique_ptr<api_service> register_api_routes(http::router& r, api_context ctx) {
  auto s = std::make_unique<api_service>(std::move(ctx));
  s->register_routes(r);
  return s;
}

}  // namespace aterm::cloud::api
