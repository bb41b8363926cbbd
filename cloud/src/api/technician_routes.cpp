// One-time technician logins (DESIGN.md section 4): issue, list (no secrets), revoke; the rules
// are security/technician_login_policy.h.

#include "api_internal.h"
#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/email_address.h"
#include "aterm/cloud/security/technician_delivery.h"
#include "aterm/cloud/security/technician_login_policy.h"
#include "aterm/common/log.h"
#include "aterm/common/protocol.h"

namespace aterm::cloud::api {

namespace {

// A duplicate id among 32^8 is rare; a few tries make it vanish.
constexpr int k_login_id_attempts = 4;
// The default of the agent's technician.max_clock_skew_s: a router accepts a credential this
// long before its issue time, so a revoked one stays usable offline this much past its expiry
// in the worst case of a router clock running fast.
constexpr std::int64_t k_router_clock_skew_s = 300;

http::response feature_disabled() {
  return http::error_response(403, "feature_disabled",
                              "technician logins are disabled for this company");
}

}  // namespace

http::response api_service::impl::create_technician_login(http::request& req, const caller& c,
                                                          op_audit& a) {
  const auto& device_id = req.param("id");
  if (!common::protocol::valid_device_id(device_id)) {
    return http::error_response(404, "not_found", "no such device");
  }
  const auto ttl_s = security::technician_login_ttl_s(c.comp.settings);
  if (!ttl_s) return feature_disabled();
  // Check the device first: a foreign or unknown id must not cost a hash.
  if (auto d = ctx.db.get_device(c.comp.id, device_id); !d.ok()) {
    return store_error(d.error(), "get_device");
  }

  security::technician_login_request who{c.comp.id, device_id, c.acct.login_id, ""};
  std::string mail_to;
  if (!req.body.empty()) {
    auto body = object_body(req);
    if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
    const cJSON* o = std::get<common::json_ptr>(body).get();
    const cJSON* name = cJSON_GetObjectItemCaseSensitive(o, "technician_name");
    std::optional<std::string> checked;
    if (name == nullptr || cJSON_IsNull(name)) {
      checked = "";
    } else if (cJSON_IsString(name)) {
      checked = security::technician_name_of(name->valuestring);
    }
    if (!checked) {
      return http::error_response(
          400, "invalid_name",
          "technician_name must be at most " +
              std::to_string(cloud::limits::k_max_technician_name) +
              " characters without control characters",
          {{"field", std::string("technician_name")},
           {"max_length", static_cast<std::int64_t>(cloud::limits::k_max_technician_name)}});
    }
    who.technician_name = std::move(*checked);
    const cJSON* email = cJSON_GetObjectItemCaseSensitive(o, "email");
    if (email != nullptr && !cJSON_IsNull(email)) {
      if (!cJSON_IsString(email) || !security::valid_email_address(email->valuestring)) {
        return http::error_response(400, "invalid_email",
                                    "email must be an e-mail address (local@domain)",
                                    {{"field", std::string("email")}});
      }
      mail_to = email->valuestring;
    }
  }
  if (!mail_to.empty() && ctx.settings.technician_key.empty()) {
    // Without the key outside the database the password could only wait in plain text.
    return http::error_response(409, "technician_mail_unavailable",
                                "mailing a technician login needs security.technician_key_file");
  }
  const auto& key = ctx.settings.technician_key;
  const auto iterations = ctx.settings.technician_login_iterations;
  auto issue = security::issue_technician_login(who, key, iterations, now_s(), *ttl_s);
  for (int attempt = 0; attempt < k_login_id_attempts; ++attempt) {
    if (attempt > 0) security::renew_login_id(issue, key, iterations);
    auto store_login = [&]() -> common::result<technician_login> {
      if (mail_to.empty()) return ctx.db.create_technician_login(issue.login, issue.install);
      // Sealed before it is stored: only the outbox worker opens it, to send it. The login and
      // its mail are stored together or not at all.
      auto mail =
          security::sealed_technician_mail(issue.login, issue.password, issue.ttl_s, mail_to, key);
      if (!mail.ok()) return mail.error();
      mail->created_at_s = now_s();
      mail->next_attempt_s = mail->created_at_s;
      return ctx.db.create_technician_login_with_mail(issue.login, issue.install, *mail);
    };
    auto created = store_login();
    if (!created.ok()) {
      if (created.error().code() == k_conflict) continue;
      return store_error(created.error(), "create_technician_login");
    }
    if (!key.empty()) {
      // The router normally has it since it was first seen; one that has not confirmed it yet
      // gets it with this login's install, when it next connects.
      auto sent = ctx.db.queue_technician_secret(c.comp.id, device_id);
      if (!sent.ok()) return store_error(sent.error(), "queue_technician_secret");
    }
    a.detail = "login_id=" + created->login_id + " command=" + created->install_command_id;
    if (!who.technician_name.empty()) a.detail += " technician=" + who.technician_name;
    notify(device_id);
    auto out = to_json(*created);
    if (!mail_to.empty()) {
      a.detail += " mail=queued";
      add_string(out.get(), "mail_to", mail_to);
      add_bool(out.get(), "mail_queued", true);
    }
    // The plaintext is answered once, here, and never stored or logged.
    add_string(out.get(), "password", issue.password);
    add_int(out.get(), "ttl_s", issue.ttl_s);
    add_bool(out.get(), "offline", !key.empty());
    return json_answer(201, out);
  }
  return http::error_response(409, "login_id_unavailable",
                              "could not allocate a login id; try again");
}

http::response api_service::impl::list_technician_logins(http::request& req, const caller& c,
                                                         op_audit&) {
  const auto& device_id = req.param("id");
  if (!common::protocol::valid_device_id(device_id)) {
    return http::error_response(404, "not_found", "no such device");
  }
  if (auto d = ctx.db.get_device(c.comp.id, device_id); !d.ok()) {
    return store_error(d.error(), "get_device");
  }
  auto list = ctx.db.list_technician_logins(c.comp.id, device_id, now_s());
  if (!list.ok()) return store_error(list.error(), "list_technician_logins");
  auto out = json_object();
  auto arr = json_array();
  for (const auto& t : *list) append_item(arr.get(), to_json(t));
  add_item(out.get(), "technician_logins", std::move(arr));
  add_bool(out.get(), "enabled", security::technician_login_ttl_s(c.comp.settings).has_value());
  return json_answer(200, out);
}

http::response api_service::impl::revoke_technician_login(http::request& req, const caller& c,
                                                          op_audit& a) {
  const auto& device_id = req.param("id");
  const auto& login_id = req.param("login_id");
  a.target = device_id;
  a.detail = "login_id=" + login_id.substr(0, 64);
  auto existing = ctx.db.get_technician_login(c.comp.id, login_id);
  if (!existing.ok()) return store_error(existing.error(), "get_technician_login");
  if (existing->device_id != device_id) {
    return http::error_response(404, "not_found", "no such technician login for this device");
  }
  auto cmd =
      ctx.db.revoke_technician_login(c.comp.id, device_id, login_id,
                                     security::revoke_command(*existing, c.acct.login_id, now_s()));
  if (!cmd.ok()) {
    // Used, expired or revoked meanwhile: the store decides in the transaction that revokes.
    if (cmd.error().code() == k_conflict) {
      return http::error_response(409, "technician_login_not_active",
                                  "the technician login is no longer active",
                                  {{"login_id", login_id}});
    }
    return store_error(cmd.error(), "revoke_technician_login");
  }
  a.detail += " command=" + cmd->id;
  notify(device_id);
  auto out = json_object();
  add_string(out.get(), "login_id", login_id);
  add_string(out.get(), "device_id", device_id);
  add_string(out.get(), "status", "revoked");
  add_string(out.get(), "revoke_command_id", cmd->id);
  if (!ctx.settings.technician_key.empty()) {
    // An offline router cannot learn of the revoke: until then it could still accept it.
    add_int(out.get(), "offline_usable_until",
            security::offline_usable_until_s(*existing, k_router_clock_skew_s));
  }
  return json_answer(200, out);
}

}  // namespace aterm::cloud::api
