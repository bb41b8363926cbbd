// JSON output of domain values. Times are unix seconds (_s) or milliseconds (_ms), UTC.
#include <string>

#include "api_internal.h"
#include "aterm/cloud/fleet.h"
#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/config_profile.h"

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

namespace {

cJSON* parsed_or_null(std::string_view text) {
  if (!text.empty()) {
    common::json_limits l;
    l.max_bytes = 1024 * 1024;
    auto parsed = common::parse_json(text, l);
    if (parsed.ok()) return std::move(parsed).value().release();
  }
  return cJSON_CreateNull();
}

}  // namespace

json_field::json_field(const char* key, std::string_view v)
    : json_field(key, cJSON_CreateString(std::string(v).c_str())) {}

json_field::json_field(const char* key, std::int64_t v)
    : json_field(key, cJSON_CreateNumber(static_cast<double>(v))) {}

json_field::json_field(const char* key, const std::optional<std::int64_t>& v)
    : json_field(key, v ? cJSON_CreateNumber(static_cast<double>(*v)) : cJSON_CreateNull()) {}

json_field::json_field(const char* key, json_text v) : json_field(key, parsed_or_null(v.text)) {}

json_field::json_field(const char* key, common::json_ptr v) : json_field(key, v.release()) {}

json_field::json_field(const char* key, const std::vector<std::string>& v)
    : json_field(key, cJSON_CreateArray()) {
  for (const auto& e : v) cJSON_AddItemToArray(node_.get(), cJSON_CreateString(e.c_str()));
}

json_field json_field::text_or_null(const char* key, std::string_view v) {
  return v.empty() ? json_field(key, cJSON_CreateNull()) : json_field(key, v);
}

common::json_ptr json_row(std::initializer_list<json_field> fields) {
  auto o = json_object();
  for (const auto& f : fields) cJSON_AddItemToObject(o.get(), f.key_, f.node_.release());
  return o;
}

void add_item(cJSON* o, const char* key, common::json_ptr child) {
  cJSON_AddItemToObject(o, key, child.release());
}

void append_item(cJSON* array, common::json_ptr child) {
  cJSON_AddItemToArray(array, child.release());
}

void write_device_fields(common::json_writer& w, const device& d) {
  const auto profile = security::profile_state(d.profile);
  w.key("id").string(d.id);
  w.key("destination_id").number(d.destination_id);
  w.key("destination").string(d.destination_name);
  w.key("presence").string(to_string(d.presence));
  w.key("online").boolean(d.presence == presence_state::online);
  w.key("agent_version").string(d.agent_version);
  w.key("last_seen_ms").number(d.last_seen_ms);
  // The bridge stores a snapshot's payload only once protocol::decode accepted it.
  if (d.state_json.empty()) {
    w.key("state").null();
  } else {
    w.key("state").raw(d.state_json);
  }
  w.key("state_received_ms").number(d.state_received_ms);
  w.key("registered_at_s").number(d.registered_at_s);
  w.key("first_seen_ms").number(d.first_seen_ms);
  w.key("profile").begin_object().key("status").string(security::to_string(profile.sync));
  if (profile.reason.empty()) {
    w.key("reason").null();
  } else {
    w.key("reason").string(profile.reason);
  }
  w.end_object();
}

common::json_ptr to_json(const device& d) {
  common::json_writer w;
  w.begin_object();
  write_device_fields(w, d);
  w.end_object();
  return common::json_ptr(cJSON_CreateRaw(w.take().c_str()));
}

namespace {

// The args an API reader may see. technician_login.install carries the credential's salt,
// iterations and hash for the router (DESIGN.md section 4); the API answers only what the
// technician-login list shows, so a device.read holder cannot attack the password offline.
// technician_login.secret carries the router's per-device secret, from which every offline
// credential of the router follows: none of it is shown.
common::json_ptr command_args(const command_record& c) {
  if (c.op == "technician_login.secret") return json_object();
  if (c.op != "technician_login.install") return common::json_ptr(parsed_or_null(c.args_json));
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
  return shown;
}

}  // namespace

common::json_ptr to_json(const command_record& c) {
  return json_row({{"id", c.id},
                   {"device_id", c.device_id},
                   {"op", c.op},
                   {"args", command_args(c)},
                   {"status", to_string(c.status)},
                   json_field::text_or_null("result_status", c.result_status),
                   {"result", json_text{c.result_json}},
                   {"error", c.error},
                   {"attempts", c.attempts},
                   {"created_at_s", c.created_at_s},
                   {"deadline_s", c.deadline_s},
                   {"sent_at_s", c.sent_at_s},
                   {"finished_at_s", c.finished_at_s},
                   {"created_by", c.created_by}});
}

common::json_ptr to_json(const destination& d) {
  return json_row({{"id", d.id},
                   {"name", d.name},
                   {"settings", json_text{d.settings_json}},
                   {"device_count", d.device_count},
                   {"created_at_s", d.created_at_s}});
}

common::json_ptr to_json(const technician_login& t) {
  return json_row({{"login_id", t.login_id},
                   {"device_id", t.device_id},
                   {"status", to_string(t.status)},
                   {"issued_at_s", t.issued_at_s},
                   {"expires_at_s", t.expires_at_s},
                   {"failed_count", t.failed_count},
                   {"install_command_id", t.install_command_id},
                   {"created_by", t.created_by},
                   {"technician_name", t.technician_name}});
}

common::json_ptr account_json(const account& a) {
  return json_row({{"id", a.id},
                   {"company_id", a.company_id},
                   {"login_id", a.login_id},
                   {"email", a.email},
                   {"role", a.role_name},
                   {"administrator", a.is_administrator()},
                   {"last_login_at_s", a.last_login_at_s}});
}

std::variant<common::json_ptr, http::response> object_body(const http::request& req) {
  auto parsed = req.json_body();
  if (!parsed.ok()) return http::error_response(400, "bad_json", parsed.error().message());
  if (!cJSON_IsObject(parsed->get())) {
    return http::error_response(400, "bad_json", "the body must be a JSON object");
  }
  return std::move(parsed).value();
}

http::response unknown_field(std::string_view field) {
  // The name is the client's text: cut, so a refusal never echoes a large body back.
  std::string shown(field.substr(0, limits::k_max_name));
  return http::error_response(400, "unknown_field", "unknown field \"" + shown + "\"",
                              {{"field", shown}});
}

http::response wrong_type(std::string_view field, std::string_view type) {
  return http::error_response(400, "wrong_type",
                              std::string(field) + " must be a " + std::string(type),
                              {{"field", std::string(field)}, {"type", std::string(type)}});
}

http::response field_required(std::string_view field) {
  return http::error_response(400, "field_required", std::string(field) + " is required",
                              {{"field", std::string(field)}});
}

http::response out_of_range(std::string_view field, std::int64_t min, std::int64_t max) {
  return http::error_response(400, "out_of_range",
                              std::string(field) + " must be an integer " + std::to_string(min) +
                                  ".." + std::to_string(max),
                              {{"field", std::string(field)}, {"min", min}, {"max", max}});
}

http::response too_long(std::string_view field, std::size_t max_length) {
  return http::error_response(
      400, "too_long", std::string(field) + " is too long",
      {{"field", std::string(field)}, {"max_length", static_cast<std::int64_t>(max_length)}});
}

http::response invalid_value(std::string_view field, std::string_view message) {
  return http::error_response(400, "invalid_value", message, {{"field", std::string(field)}});
}

http::response invalid_name(std::string_view field, std::size_t max_length) {
  return http::error_response(
      400, "invalid_name",
      std::string(field) + " must be 1.." + std::to_string(max_length) +
          " characters without control characters",
      {{"field", std::string(field)}, {"max_length", static_cast<std::int64_t>(max_length)}});
}

http::response invalid_time(std::string_view field) {
  return http::error_response(400, "invalid_time",
                              std::string(field) + " must be an ISO 8601 time with Z or an offset",
                              {{"field", std::string(field)}});
}

http::response invalid_email(std::string_view field) {
  return http::error_response(400, "invalid_email",
                              std::string(field) + " must be an address such as name@example.com",
                              {{"field", std::string(field)}});
}

http::response invalid_device_id(std::string_view field) {
  return http::error_response(400, "invalid_device_id",
                              std::string(field) + " is not a valid device id",
                              {{"field", std::string(field)}});
}

http::response bad_count(std::string_view field, std::size_t count, std::size_t max) {
  return http::error_response(400, "bad_count",
                              std::string(field) + " holds 1.." + std::to_string(max) +
                                  " entries, not " + std::to_string(count),
                              {{"field", std::string(field)},
                               {"min", std::int64_t{1}},
                               {"max", static_cast<std::int64_t>(max)}});
}

std::variant<std::vector<std::string>, http::response> read_tags(const cJSON* arr) {
  if (!cJSON_IsArray(arr)) return http::error_response(400, "bad_tags", "tags must be an array");
  std::vector<std::string> tags;
  for (const cJSON* t = arr->child; t != nullptr; t = t->next) {
    if (!cJSON_IsString(t)) return http::error_response(400, "bad_tags", "every tag is a string");
    tags.emplace_back(t->valuestring);
  }
  if (auto s = check_tags(tags); !s.ok()) return http::error_response(400, "bad_tags", s.message());
  return tags;
}

http::response json_answer(unsigned status, const common::json_ptr& body) {
  return http::json_response(status, body.get());
}

http::response json_answer(unsigned status, common::json_writer& w) {
  http::response res;
  res.status = status;
  res.body = w.take();
  return res;
}

}  // namespace aterm::cloud::api
