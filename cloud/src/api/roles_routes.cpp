// Roles and the permission catalogue (DESIGN.md section 6): the built-in roles administrator,
// operator and viewer (read-only) and each company's own roles. A caller creates, edits and
// deletes only roles within what it holds, and never the role it holds itself
// (security/delegation_policy.h).
#include <utility>

#include "account_routes.h"
#include "aterm/cloud/limits.h"

namespace aterm::cloud::api {

namespace {

http::response no_role() {
  return http::error_response(404, "not_found", "no such role");
}

http::response role_name_taken(const std::string& name) {
  return http::error_response(409, "role_name_taken", "a role of this name exists",
                              {{"name", name}});
}

http::response role_built_in(const std::string& name) {
  return http::error_response(409, "role_built_in", "built-in roles cannot be changed or deleted",
                              {{"role", name}});
}

struct role_fields {
  std::optional<std::string> name;
  std::optional<std::vector<std::string>> permissions;
};

// name (one line) and permissions (names of the catalogue; the store refuses others).
std::variant<role_fields, http::response> read_role_fields(const cJSON* o) {
  role_fields f;
  for (const cJSON* item = o->child; item != nullptr; item = item->next) {
    std::string_view k = item->string;
    if (k == "name") {
      if (!cJSON_IsString(item)) return wrong_type(k, "string");
      if (!valid_line(item->valuestring, limits::k_max_name)) {
        return invalid_name(k, limits::k_max_name);
      }
      f.name = item->valuestring;
    } else if (k == "permissions") {
      if (!cJSON_IsArray(item)) return wrong_type(k, "array");
      std::vector<std::string> perms;
      for (const cJSON* p = item->child; p != nullptr; p = p->next) {
        if (!cJSON_IsString(p)) return wrong_type(k, "array of strings");
        bool known = false;
        for (auto name : k_permissions) known = known || name == p->valuestring;
        if (!known) {
          const std::string shown = std::string(p->valuestring).substr(0, limits::k_max_name);
          return http::error_response(400, "unknown_permission",
                                      "unknown permission \"" + shown + "\"",
                                      {{"permission", shown}});
        }
        perms.emplace_back(p->valuestring);
      }
      f.permissions = std::move(perms);
    } else {
      return unknown_field(k);
    }
  }
  return f;
}

http::response list_roles(api_service::impl& m, http::request&, const caller& c, op_audit&) {
  auto list = m.ctx.db.list_roles(c.comp.id);
  if (!list.ok()) return m.store_error(list.error(), "list_roles");
  auto out = json_object();
  auto arr = json_array();
  for (const auto& r : *list) append_item(arr.get(), role_json(r));
  add_item(out.get(), "roles", std::move(arr));
  return json_answer(200, out);
}

http::response create_role(api_service::impl& m, http::request& req, const caller& c, op_audit& a) {
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  auto fields = read_role_fields(std::get<common::json_ptr>(body).get());
  if (auto* bad = std::get_if<http::response>(&fields)) return std::move(*bad);
  auto& f = std::get<role_fields>(fields);
  if (!f.name) return field_required("name");
  if (!f.permissions) return field_required("permissions");
  if (auto refused = security::judge_role_create(delegator_of(c), *f.permissions)) {
    return delegation_refused(*refused, a);
  }
  auto r = m.ctx.db.create_role(c.comp.id, *f.name, *f.permissions);
  if (!r.ok()) {
    if (r.error().code() == k_conflict) return role_name_taken(*f.name);
    return m.store_error(r.error(), "create_role");
  }
  a.target = std::to_string(r->id);
  a.detail = "name=" + r->name + " permissions=" + std::to_string(r->permissions.size());
  return json_answer(201, role_json(*r));
}

http::response update_role(api_service::impl& m, http::request& req, const caller& c, op_audit& a) {
  auto id = id_param(req);
  if (!id) return no_role();
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  auto fields = read_role_fields(std::get<common::json_ptr>(body).get());
  if (auto* bad = std::get_if<http::response>(&fields)) return std::move(*bad);
  auto& f = std::get<role_fields>(fields);
  auto current = m.ctx.db.get_role(c.comp.id, *id);
  if (!current.ok()) return m.store_error(current.error(), "get_role");
  if (auto refused = security::judge_role_edit(delegator_of(c), *current, f.permissions)) {
    return delegation_refused(*refused, a);
  }
  if (current->built_in) return role_built_in(current->name);
  auto r = m.ctx.db.update_role(c.comp.id, *id, f.name, f.permissions);
  if (!r.ok()) {
    // Built-in roles were refused above: a conflict here is the name.
    if (r.error().code() == k_conflict) return role_name_taken(f.name.value_or(current->name));
    return m.store_error(r.error(), "update_role");
  }
  a.detail = "name=" + r->name + " permissions=" + std::to_string(r->permissions.size());
  return json_answer(200, role_json(*r));
}

http::response delete_role(api_service::impl& m, http::request& req, const caller& c, op_audit& a) {
  auto id = id_param(req);
  if (!id) return no_role();
  auto current = m.ctx.db.get_role(c.comp.id, *id);
  if (!current.ok()) return m.store_error(current.error(), "get_role");
  if (auto refused = security::judge_role_edit(delegator_of(c), *current, std::nullopt)) {
    return delegation_refused(*refused, a);
  }
  if (current->built_in) return role_built_in(current->name);
  if (auto s = m.ctx.db.delete_role(c.comp.id, *id); !s.ok()) {
    // Built-in roles were refused above: a conflict here is an account holding the role.
    if (s.code() == k_conflict) {
      return http::error_response(409, "role_in_use", "accounts hold this role",
                                  {{"role", current->name}});
    }
    return m.store_error(s, "delete_role");
  }
  return no_content();
}

http::response list_permissions(api_service::impl&, http::request&, const caller&, op_audit&) {
  auto out = json_object();
  auto arr = json_array();
  for (auto p : k_permissions) {
    cJSON_AddItemToArray(arr.get(), cJSON_CreateString(std::string(p).c_str()));
  }
  add_item(out.get(), "permissions", std::move(arr));
  return json_answer(200, out);
}

}  // namespace

common::json_ptr role_json(const role& r) {
  return json_row(
      {{"id", r.id}, {"name", r.name}, {"built_in", r.built_in}, {"permissions", r.permissions}});
}

void register_role_routes(api_service::impl& m, http::router& r, const std::string& base) {
  r.add("GET", base + "/roles", m.guarded("role.list", "account.read", bind_route(m, list_roles)));
  r.add("POST", base + "/roles",
        m.guarded("role.create", "role.manage", bind_route(m, create_role)));
  r.add("PATCH", base + "/roles/{id}",
        m.guarded("role.update", "role.manage", bind_route(m, update_role)));
  r.add("DELETE", base + "/roles/{id}",
        m.guarded("role.delete", "role.manage", bind_route(m, delete_role)));
  r.add("GET", base + "/permissions",
        m.guarded("permission.list", "", bind_route(m, list_permissions), false));
}

}  // namespace aterm::cloud::api
