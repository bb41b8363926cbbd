// JSON output of domain values. Times are unix seconds (_s) or milliseconds (_ms), UTC.
#include <string>

#include "api_internal.h"

namespace aterm::cloud::api {

common::json_ptr json_object() {
  return common::json_ptr(cJSON_CreateObject());
}
common::json_ptr json_array() {
  return common::json_ptr(cJSON_CreateArray());
}

void add_string(cJSON* o, const char* key, std::string_view v) {
  cJSON_AddItemToObject(o, key, cJSON_CreateString(std::string(v).c_str()));
}

void add_int(cJSON* o, const char* key, std::int64_t v) {
  cJSON_AddItemToObject(o, key, cJSON_CreateNumber(static_cast<double>(v)));
}

void add_optional_int(cJSON* o, const char* key, const std::optional<std::int64_t>& v) {
  if (v) {
    add_int(o, key, *v);
  } else {
    cJSON_AddItemToObject(o, key, cJSON_CreateNull());
  }
}

void add_bool(cJSON* o, const char* key, bool v) {
  cJSON_AddItemToObject(o, key, cJSON_CreateBool(v ? 1 : 0));
}

void add_json_text(cJSON* o, const char* key, std::string_view text) {
  if (!text.empty()) {
    common::json_limits l;
    l.max_bytes = 1024 * 1024;
    auto parsed = common::parse_json(text, l);
    if (parsed.ok()) {
      cJSON_AddItemToObject(o, key, std::move(parsed).value().release());
      return;
    }
  }
  cJSON_AddItemToObject(o, key, cJSON_CreateNull());
}

void add_item(cJSON* o, const char* key, common::json_ptr child) {
  cJSON_AddItemToObject(o, key, child.release());
}

void append_item(cJSON* array, common::json_ptr child) {
  cJSON_AddItemToArray(array, child.release());
}

common::json_ptr to_json(const device& d) {
  auto o = json_object();
  add_string(o.get(), "id", d.id);
  add_optional_int(o.get(), "destination_id", d.destination_id);
  add_string(o.get(), "destination", d.destination_name);
  add_string(o.get(), "presence", to_string(d.presence));
  add_bool(o.get(), "online", d.presence == presence_state::online);
  add_string(o.get(), "agent_version", d.agent_version);
  add_optional_int(o.get(), "last_seen_ms", d.last_seen_ms);
  add_json_text(o.get(), "state", d.state_json);
  add_optional_int(o.get(), "state_received_ms", d.state_received_ms);
  add_optional_int(o.get(), "registered_at_s", d.registered_at_s);
  add_optional_int(o.get(), "first_seen_ms", d.first_seen_ms);
  return o;
}

namespace {

// The args an API reader may see. technician_login.install carries the credential's salt,
// iterations and hash for the router (DESIGN.md section 4); the API answers only what the
// technician-login list shows, so a device.read holder cannot attack the password offline.
void add_command_args(cJSON* o, const command_record& c) {
  if (c.op != "technician_login.install") {
    add_json_text(o, "args", c.args_json);
    return;
  }
  common::json_limits l;
  l.max_bytes = 1024 * 1024;
  auto parsed = common::parse_json(c.args_json, l);
  auto shown = json_object();
  if (parsed.ok()) {
    for (const char* key : {"login_id", "expires_at", "ttl_s"}) {
      if (const cJSON* v = cJSON_GetObjectItemCaseSensitive(parsed->get(), key); v != nullptr) {
        cJSON_AddItemToObject(shown.get(), key, cJSON_Duplicate(v, 1));
      }
    }
  }
  add_item(o, "args", std::move(shown));
}

}  // namespace

common::json_ptr to_json(const command_record& c) {
  auto o = json_object();
  add_string(o.get(), "id", c.id);
  add_string(o.get(), "device_id", c.device_id);
  add_string(o.get(), "op", c.op);
  add_command_args(o.get(), c);
  add_string(o.get(), "status", to_string(c.status));
  if (!c.result_status.empty()) {
    add_string(o.get(), "result_status", c.result_status);
  } else {
    cJSON_AddItemToObject(o.get(), "result_status", cJSON_CreateNull());
  }
  add_json_text(o.get(), "result", c.result_json);
  add_string(o.get(), "error", c.error);
  add_int(o.get(), "attempts", c.attempts);
  add_int(o.get(), "created_at_s", c.created_at_s);
  add_int(o.get(), "deadline_s", c.deadline_s);
  add_optional_int(o.get(), "sent_at_s", c.sent_at_s);
  add_optional_int(o.get(), "finished_at_s", c.finished_at_s);
  add_string(o.get(), "created_by", c.created_by);
  return o;
}

common::json_ptr to_json(const destination& d) {
  auto o = json_object();
  add_int(o.get(), "id", d.id);
  add_string(o.get(), "name", d.name);
  add_json_text(o.get(), "settings", d.settings_json);
  add_int(o.get(), "device_count", d.device_count);
  add_int(o.get(), "created_at_s", d.created_at_s);
  return o;
}

common::json_ptr to_json(const technician_login& t) {
  auto o = json_object();
  add_string(o.get(), "login_id", t.login_id);
  add_string(o.get(), "device_id", t.device_id);
  add_string(o.get(), "status", to_string(t.status));
  add_int(o.get(), "issued_at_s", t.issued_at_s);
  add_int(o.get(), "expires_at_s", t.expires_at_s);
  add_int(o.get(), "failed_count", t.failed_count);
  add_string(o.get(), "install_command_id", t.install_command_id);
  add_string(o.get(), "created_by", t.created_by);
  return o;
}

common::json_ptr account_json(const account& a) {
  auto o = json_object();
  add_int(o.get(), "id", a.id);
  add_string(o.get(), "company_id", a.company_id);
  add_string(o.get(), "login_id", a.login_id);
  add_string(o.get(), "email", a.email);
  add_string(o.get(), "role", a.role_name);
  add_bool(o.get(), "administrator", a.is_administrator());
  add_optional_int(o.get(), "last_login_at_s", a.last_login_at_s);
  return o;
}

std::variant<common::json_ptr, http::response> object_body(const http::request& req) {
  auto parsed = req.json_body();
  if (!parsed.ok()) return http::error_response(400, "bad_json", parsed.error().message());
  if (!cJSON_IsObject(parsed->get())) {
    return http::error_response(400, "bad_json", "the body must be a JSON object");
  }
  return std::move(parsed).value();
}

http::response json_answer(unsigned status, const common::json_ptr& body) {
  return http::json_response(status, body.get());
}

}  // namespace aterm::cloud::api
