// /admin/... (DESIGN.md sections 5 and 6): site administrators only — accounts of the reserved
// company "platform" — and within it by permission: companies and their contract end
// (company.settings), accounts and lifting any lock, the inactivity lock included
// (account.manage), unassigned devices, assigning them to a company and taking them out of
// one (device.register; docs/device-claim.md), alarms
// (audit.read). Anyone else gets 403, logged like every refusal.
#include <utility>

#include "account_routes.h"
#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/email_address.h"
#include "aterm/cloud/security/login_id.h"
#include "aterm/cloud/security/password_change_rule.h"
#include "aterm/cloud/security/password_policy.h"
#include "aterm/common/crypto.h"
#include "aterm/common/protocol.h"

namespace aterm::cloud::api {

std::optional<http::response> not_site_admin(const caller& c, std::string_view permission,
                                             op_audit& a) {
  if (c.comp.id == k_platform_company && c.has(permission)) return std::nullopt;
  a.detail = "denied: site administrator with " + std::string(permission) + " required";
  return http::error_response(403, "forbidden", "site administrators only",
                              {{"permission", std::string(permission)}});
}

// 409 platform_company: the reserved company "platform" holds site administrators, nothing else.
http::response platform_company(std::string_view message) {
  return http::error_response(409, "platform_company", message,
                              {{"company_id", std::string(k_platform_company)}});
}

namespace {

// contract_end: ISO 8601 text or null (no end).
std::variant<std::optional<std::int64_t>, http::response> contract_end(const cJSON* item) {
  if (cJSON_IsNull(item)) return std::optional<std::int64_t>{};
  if (!cJSON_IsString(item)) return wrong_type(item->string, "string or null");
  auto t = common::parse_iso8601(item->valuestring);
  if (!t.ok()) return invalid_time(item->string);
  return std::optional<std::int64_t>{common::to_unix_s(*t)};
}

common::json_ptr company_out(const company& c) {
  auto o = company_json(c);
  if (c.settings.contract_end_s) {
    add_string(o.get(), "contract_end",
               common::format_jst(common::from_unix_s(*c.settings.contract_end_s)));
  }
  return o;
}

http::response list_companies(api_service::impl& m, http::request&, const caller& c, op_audit& a) {
  if (auto refused = not_site_admin(c, "company.settings", a)) return std::move(*refused);
  auto list = m.ctx.db.list_companies();
  if (!list.ok()) return m.store_error(list.error(), "list_companies");
  auto out = json_object();
  auto arr = json_array();
  for (const auto& co : *list) append_item(arr.get(), company_out(co));
  add_item(out.get(), "companies", std::move(arr));
  return json_answer(200, out);
}

// The site administrator's first page: every company but platform with its routers, their online
// share, open alarms, contract end and locked accounts.
http::response company_overview(api_service::impl& m, http::request&, const caller& c,
                                op_audit& a) {
  if (auto refused = not_site_admin(c, "company.settings", a)) return std::move(*refused);
  auto list = m.ctx.db.company_summaries(m.now_s());
  if (!list.ok()) return m.store_error(list.error(), "company_summaries");
  auto out = json_object();
  auto arr = json_array();
  for (const auto& s : *list) {
    if (s.comp.id == k_platform_company) continue;
    auto o = company_out(s.comp);
    add_int(o.get(), "devices", s.devices);
    add_int(o.get(), "online", s.online);
    add_int(o.get(), "open_alarms", s.open_alarms);
    add_int(o.get(), "locked_accounts", s.locked_accounts);
    append_item(arr.get(), std::move(o));
  }
  add_item(out.get(), "companies", std::move(arr));
  return json_answer(200, out);
}

// {id, name, contract_end?, administrator?: login id, administrator_email?}: the company, and
// with `administrator` (which needs `administrator_email`: every account has an address) its first
// administrator account with a generated password answered once.
http::response create_company(api_service::impl& m, http::request& req, const caller& c,
                              op_audit& a) {
  if (auto refused = not_site_admin(c, "company.settings", a)) return std::move(*refused);
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  std::optional<std::string> id, name, admin_login, admin_email;
  std::optional<std::int64_t> end;
  for (const cJSON* item = std::get<common::json_ptr>(body)->child; item; item = item->next) {
    std::string_view k = item->string;
    if (k == "contract_end") {
      auto v = contract_end(item);
      if (auto* bad = std::get_if<http::response>(&v)) return std::move(*bad);
      end = std::get<std::optional<std::int64_t>>(v);
      continue;
    }
    std::optional<std::string>* slot = k == "id"                    ? &id
                                       : k == "name"                ? &name
                                       : k == "administrator"       ? &admin_login
                                       : k == "administrator_email" ? &admin_email
                                                                    : nullptr;
    if (slot == nullptr) return unknown_field(k);
    if (!cJSON_IsString(item)) return wrong_type(k, "string");
    *slot = item->valuestring;
  }
  if (!id) return field_required("id");
  if (!name) return field_required("name");
  if (!valid_line(*name, limits::k_max_name)) return invalid_name("name", limits::k_max_name);
  if (admin_login) *admin_login = security::trim_login_id(*admin_login);
  if (admin_login && !valid_line(*admin_login, limits::k_max_name)) {
    return http::error_response(400, "invalid_login_id",
                                "administrator must be 1..128 printable characters",
                                {{"field", "administrator"},
                                 {"max_length", static_cast<std::int64_t>(limits::k_max_name)}});
  }
  // Every account has an address: the administrator comes with one.
  if (admin_login && !admin_email) return field_required("administrator_email");
  if (admin_email && !admin_login) return field_required("administrator");
  if (admin_email && !security::valid_email_address(*admin_email)) {
    return invalid_email("administrator_email");
  }
  a.target = *id;
  auto created = m.ctx.db.create_company(*id, *name);
  if (!created.ok()) {
    if (created.error().code() == k_conflict) {
      return http::error_response(409, "company_id_taken", "a company with this id exists",
                                  {{"company_id", *id}});
    }
    // The name passed above: the store refuses the id's form.
    if (created.error().code() == k_invalid) {
      return http::error_response(
          400, "invalid_company_id",
          "id must be 2..64 letters, digits, '-' or '_', starting with a letter or digit",
          {{"max_length", static_cast<std::int64_t>(limits::k_max_company_id)}});
    }
    return m.store_error(created.error(), "create_company");
  }
  if (end) {
    auto settings = created->settings;
    settings.contract_end_s = end;
    if (auto s = m.ctx.db.update_company_settings(*id, settings); !s.ok()) {
      return m.store_error(s, "update_company_settings");
    }
    created->settings = settings;
  }
  auto out = company_out(*created);
  if (admin_login) {
    const auto& policy = m.ctx.settings.security.password;
    std::string password = common::crypto::generate_password(limits::k_generated_password_length);
    auto acct = m.ctx.db.create_account(
        {*id, *admin_login, *admin_email, std::string(k_role_administrator),
         security::make_password_hash(password, policy.iterations, policy.salt_bytes),
         security::change_required_after_set(false)});
    if (!acct.ok()) return m.store_error(acct.error(), "create_account");
    auto admin = account_detail_json(*acct, m.now_s());
    add_string(admin.get(), "password", password);
    add_item(out.get(), "administrator", std::move(admin));
    m.audit(*id, c.acct.login_id, "account.create", *admin_login, "success",
            "role=administrator by site administrator", c.client_ip);
  }
  a.detail = "name=" + *name;
  return json_answer(201, out);
}

http::response get_company(api_service::impl& m, http::request& req, const caller& c, op_audit& a) {
  if (auto refused = not_site_admin(c, "company.settings", a)) return std::move(*refused);
  auto co = m.ctx.db.get_company(req.param("id"));
  if (!co.ok()) return m.store_error(co.error(), "get_company");
  return json_answer(200, company_out(*co));
}

// {contract_end: ISO 8601 | null}.
http::response update_company(api_service::impl& m, http::request& req, const caller& c,
                              op_audit& a) {
  if (auto refused = not_site_admin(c, "company.settings", a)) return std::move(*refused);
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  const cJSON* o = std::get<common::json_ptr>(body).get();
  std::optional<std::optional<std::int64_t>> end;
  for (const cJSON* item = o->child; item != nullptr; item = item->next) {
    if (std::string_view(item->string) != "contract_end") return unknown_field(item->string);
    auto v = contract_end(item);
    if (auto* bad = std::get_if<http::response>(&v)) return std::move(*bad);
    end = std::get<std::optional<std::int64_t>>(v);
  }
  if (!end) return field_required("contract_end");
  const auto& id = req.param("id");
  if (id == k_platform_company) return platform_company("the platform has no contract end");
  auto co = m.ctx.db.get_company(id);
  if (!co.ok()) return m.store_error(co.error(), "get_company");
  auto settings = co->settings;
  settings.contract_end_s = *end;
  if (auto s = m.ctx.db.update_company_settings(id, settings); !s.ok()) {
    return m.store_error(s, "update_company_settings");
  }
  co->settings = settings;
  a.detail = *end ? "contract_end=" + common::format_utc(common::from_unix_s(**end))
                  : std::string("contract_end=none");
  m.audit(id, c.acct.login_id, "company.contract_end", id, "success", a.detail, c.client_ip);
  return json_answer(200, company_out(*co));
}

http::response list_company_accounts(api_service::impl& m, http::request& req, const caller& c,
                                     op_audit& a) {
  if (auto refused = not_site_admin(c, "account.manage", a)) return std::move(*refused);
  const auto& id = req.param("id");
  if (auto co = m.ctx.db.get_company(id); !co.ok()) return m.store_error(co.error(), "get_company");
  auto list = m.ctx.db.list_accounts(id);
  if (!list.ok()) return m.store_error(list.error(), "list_accounts");
  auto out = json_object();
  auto arr = json_array();
  for (const auto& acct : *list) append_item(arr.get(), account_detail_json(acct, m.now_s()));
  add_item(out.get(), "accounts", std::move(arr));
  return json_answer(200, out);
}

// Lifts any lock, the inactivity lock included (only a site administrator may).
http::response unlock_company_account(api_service::impl& m, http::request& req, const caller& c,
                                      op_audit& a) {
  if (auto refused = not_site_admin(c, "account.manage", a)) return std::move(*refused);
  const auto& company_id = req.param("id");
  auto account_id = id_param(req, "account_id");
  if (!account_id) return http::error_response(404, "not_found", "no such account");
  auto acct = m.ctx.db.get_account(company_id, *account_id);
  if (!acct.ok()) return m.store_error(acct.error(), "get_account");
  a.target = company_id + "/" + acct->login_id;
  std::string was(to_string(acct->locked));
  if (auto refused = unlock_account(m, *acct, security::unlocker::site_administrator)) {
    return std::move(*refused);
  }
  a.detail = "lock=" + was;
  m.audit(company_id, c.acct.login_id, "account.unlock", acct->login_id, "success",
          "by site administrator, lock=" + was, c.client_ip);
  auto after = m.ctx.db.get_account(company_id, *account_id);
  if (!after.ok()) return m.store_error(after.error(), "get_account");
  return json_answer(200, account_detail_json(*after, m.now_s()));
}

http::response list_unassigned(api_service::impl& m, http::request&, const caller& c, op_audit& a) {
  if (auto refused = not_site_admin(c, "device.register", a)) return std::move(*refused);
  auto list = m.ctx.db.list_unassigned_devices(limits::k_max_unassigned);
  if (!list.ok()) return m.store_error(list.error(), "list_unassigned_devices");
  auto out = json_object();
  auto arr = json_array();
  for (const auto& d : *list) append_item(arr.get(), to_json(d));
  add_item(out.get(), "devices", std::move(arr));
  return json_answer(200, out);
}

// {company_id, destination}: registers the device under the company's destination (created
// when missing).
http::response assign_device(api_service::impl& m, http::request& req, const caller& c,
                             op_audit& a) {
  if (auto refused = not_site_admin(c, "device.register", a)) return std::move(*refused);
  const auto& device_id = req.param("id");
  if (!common::protocol::valid_device_id(device_id)) return invalid_device_id("id");
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  const cJSON* o = std::get<common::json_ptr>(body).get();
  for (const cJSON* item = o->child; item != nullptr; item = item->next) {
    std::string_view k = item->string;
    if (k != "company_id" && k != "destination") return unknown_field(k);
    if (!cJSON_IsString(item)) return wrong_type(k, "string");
  }
  auto company_id = common::json_string(o, "company_id");
  auto dest = common::json_string(o, "destination");
  if (!company_id) return field_required("company_id");
  if (!dest) return field_required("destination");
  if (!valid_line(*dest, limits::k_max_name))
    return invalid_name("destination", limits::k_max_name);
  if (*company_id == k_platform_company) {
    return platform_company("devices belong to customer companies");
  }
  if (auto co = m.ctx.db.get_company(*company_id); !co.ok()) {
    return m.store_error(co.error(), "get_company");
  }
  auto d = m.ctx.db.ensure_destination(*company_id, *dest);
  if (!d.ok()) return m.store_error(d.error(), "ensure_destination");
  auto registered = m.ctx.db.register_device(*company_id, device_id, d->id);
  if (!registered.ok()) {
    if (registered.error().code() == k_conflict) {
      return http::error_response(409, "device_in_other_company",
                                  "the device is registered to another company; unassign it first",
                                  {{"device_id", device_id}});
    }
    return m.store_error(registered.error(), "register_device");
  }
  a.detail = "company=" + *company_id + " destination=" + d->name;
  m.audit(*company_id, c.acct.login_id, "device.register", device_id, "success",
          "by site administrator, destination=" + d->name, c.client_ip);
  return json_answer(200, to_json(*registered));
}

// The device leaves its company, without that tenancy's data (store::unassign_device); the
// access log of the company it left records it.
http::response unassign_device(api_service::impl& m, http::request& req, const caller& c,
                               op_audit& a) {
  if (auto refused = not_site_admin(c, "device.register", a)) return std::move(*refused);
  const auto& device_id = req.param("id");
  if (!common::protocol::valid_device_id(device_id)) return invalid_device_id("id");
  auto left = m.ctx.db.unassign_device(device_id);
  if (!left.ok()) return m.store_error(left.error(), "unassign_device");
  a.detail = "company=" + *left;
  m.audit(*left, c.acct.login_id, "device.unassign", device_id, "success",
          "by site administrator; state, history, commands and technician logins deleted",
          c.client_ip);
  http::response res;
  res.status = 204;
  return res;
}

http::response list_alarms(api_service::impl& m, http::request&, const caller& c, op_audit& a) {
  if (auto refused = not_site_admin(c, "audit.read", a)) return std::move(*refused);
  auto list = m.ctx.db.list_alarms(limits::k_max_page);
  if (!list.ok()) return m.store_error(list.error(), "list_alarms");
  auto out = json_object();
  auto arr = json_array();
  for (const auto& al : *list) {
    append_item(arr.get(),
                json_row({{"id", al.id},
                          {"company_id", al.company_id},
                          {"kind", al.kind},
                          {"detail", al.detail},
                          {"created_at_s", al.created_at_s},
                          {"time", common::format_jst(common::from_unix_s(al.created_at_s))},
                          {"acknowledged_at_s", al.acknowledged_at_s}}));
  }
  add_item(out.get(), "alarms", std::move(arr));
  return json_answer(200, out);
}

}  // namespace

void register_admin_routes(api_service::impl& m, http::router& r, const std::string& base) {
  const std::string admin = base + "/admin";
  r.add("GET", admin + "/overview",
        m.guarded("admin.overview", "", bind_route(m, company_overview)));
  r.add("GET", admin + "/companies",
        m.guarded("admin.company.list", "", bind_route(m, list_companies)));
  r.add("POST", admin + "/companies",
        m.guarded("admin.company.create", "", bind_route(m, create_company)));
  r.add("GET", admin + "/companies/{id}",
        m.guarded("admin.company.read", "", bind_route(m, get_company)));
  r.add("PATCH", admin + "/companies/{id}",
        m.guarded("admin.company.update", "", bind_route(m, update_company)));
  r.add("GET", admin + "/companies/{id}/accounts",
        m.guarded("admin.account.list", "", bind_route(m, list_company_accounts)));
  r.add("POST", admin + "/companies/{id}/accounts/{account_id}/unlock",
        m.guarded("admin.account.unlock", "", bind_route(m, unlock_company_account)));
  r.add("GET", admin + "/devices/unassigned",
        m.guarded("admin.device.unassigned", "", bind_route(m, list_unassigned)));
  r.add("POST", admin + "/devices/{id}/assign",
        m.guarded("admin.device.assign", "", bind_route(m, assign_device)));
  r.add("POST", admin + "/devices/{id}/unassign",
        m.guarded("admin.device.unassign", "", bind_route(m, unassign_device)));
  r.add("GET", admin + "/alarms", m.guarded("admin.alarm.list", "", bind_route(m, list_alarms)));
}

}  // namespace aterm::cloud::api
