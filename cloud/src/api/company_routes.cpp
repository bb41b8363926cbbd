// The caller's company settings (DESIGN.md section 6): the IP allowlist and the technician-login
// lifetime. An allowlist that would shut out the very request setting it is refused, so an
// administrator cannot lock the company out by a typo.
#include <utility>

#include "account_routes.h"
#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/ip_allowlist.h"
#include "aterm/cloud/security/limits.h"

namespace aterm::cloud::api {

namespace {

http::response get_company(api_service::impl&, http::request&, const caller& c, op_audit&) {
  return json_answer(200, company_json(c.comp));
}

// The allowlist rule's refusal with its detail: the 1-based line of the first bad entry, or the
// bound that a too long list passed.
http::response allowlist_refused(const common::status& s, const std::vector<std::string>& entries) {
  if (s.code() == "too_many_cidrs") {
    return http::error_response(
        400, "too_many_cidrs", s.message(),
        {{"max_entries", static_cast<std::int64_t>(security::limits::k_max_cidrs)}});
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (security::cidr::parse(entries[i]).ok()) continue;
    return http::error_response(400, "bad_cidr", s.message(),
                                {{"line", static_cast<std::int64_t>(i + 1)},
                                 {"entry", entries[i].substr(0, limits::k_max_name)}});
  }
  return http::error_response(400, "bad_cidr", s.message());
}

http::response update_company(api_service::impl& m, http::request& req, const caller& c,
                              op_audit& a) {
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  company_settings settings = c.comp.settings;
  std::string detail;
  for (const cJSON* item = std::get<common::json_ptr>(body)->child; item; item = item->next) {
    std::string_view k = item->string;
    if (k == "ip_allowlist") {
      if (!cJSON_IsArray(item)) return wrong_type(k, "array");
      std::vector<std::string> entries;
      for (const cJSON* e = item->child; e != nullptr; e = e->next) {
        if (!cJSON_IsString(e)) return wrong_type(k, "array of strings");
        entries.emplace_back(e->valuestring);
      }
      auto list = security::ip_allowlist::parse(entries);
      if (!list.ok()) return allowlist_refused(list.error(), entries);
      auto self = security::ip_address::parse(c.client_ip);
      if (!self || !list->allows(*self)) {
        return http::error_response(409, "allowlist_excludes_caller",
                                    "the allowlist must include the address of this request");
      }
      settings.ip_allowlist = list->to_strings();
      detail += "ip_allowlist=" + std::to_string(settings.ip_allowlist.size()) + " ";
    } else if (k == "technician_login_ttl_minutes") {
      auto v = common::json_int(std::get<common::json_ptr>(body).get(), item->string);
      if (!v || *v < 0 || *v > limits::k_max_technician_login_ttl_minutes) {
        return out_of_range(k, 0, limits::k_max_technician_login_ttl_minutes);
      }
      settings.technician_login_ttl_minutes = *v;
      detail += "technician_login_ttl_minutes=" + std::to_string(*v) + " ";
    } else {
      return unknown_field(k);
    }
  }
  if (auto s = m.ctx.db.update_company_settings(c.comp.id, settings); !s.ok()) {
    return m.store_error(s, "update_company_settings");
  }
  a.target = c.comp.id;
  a.detail = detail;
  auto fresh = m.ctx.db.get_company(c.comp.id);
  if (!fresh.ok()) return m.store_error(fresh.error(), "get_company");
  return json_answer(200, company_json(*fresh));
}

}  // namespace

common::json_ptr company_json(const company& c) {
  return json_row({{"id", c.id},
                   {"name", c.name},
                   {"created_at_s", c.created_at_s},
                   {"ip_allowlist", c.settings.ip_allowlist},
                   {"technician_login_ttl_minutes", c.settings.technician_login_ttl_minutes},
                   {"contract_end_s", c.settings.contract_end_s}});
}

void register_company_routes(api_service::impl& m, http::router& r, const std::string& base) {
  r.add("GET", base + "/company",
        m.guarded("company.read", "company.settings", bind_route(m, get_company)));
  r.add("PATCH", base + "/company",
        m.guarded("company.update", "company.settings", bind_route(m, update_company)));
}

}  // namespace aterm::cloud::api
