// Destinations (仕向け) and device registration under them.
#include <charconv>

#include "api_internal.h"
#include "aterm/cloud/limits.h"
#include "aterm/common/protocol.h"

namespace aterm::cloud::api {

namespace {

// Settings are free-form for now; bound them well under the body limit.
constexpr std::size_t k_max_settings_bytes = 16 * 1024;

std::optional<std::int64_t> destination_id(const http::request& req) {
  const auto& s = req.param("id");
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

http::response no_destination() {
  return http::error_response(404, "not_found", "no such destination");
}

// A shown-in-one-line name: 1..k_max_name bytes, no control characters.
bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > limits::k_max_name || !common::valid_utf8(n)) return false;
  for (unsigned char ch : n) {
    if (ch < 0x20 || ch == 0x7f) return false;
  }
  return true;
}

// name (string) and settings (object) of a create or update body.
struct destination_fields {
  std::optional<std::string> name;
  std::optional<std::string> settings_json;
};

std::variant<destination_fields, http::response> read_fields(const cJSON* o) {
  destination_fields f;
  for (const cJSON* item = o->child; item != nullptr; item = item->next) {
    std::string_view k = item->string;
    if (k == "name") {
      if (!cJSON_IsString(item) || !valid_name(item->valuestring)) {
        return http::error_response(400, "bad_request", "name must be 1..128 printable characters");
      }
      f.name = item->valuestring;
    } else if (k == "settings") {
      if (!cJSON_IsObject(item)) {
        return http::error_response(400, "bad_request", "settings must be an object");
      }
      f.settings_json = common::print_json(item);
      if (f.settings_json->size() > k_max_settings_bytes) {
        return http::error_response(400, "bad_request", "settings too large");
      }
    } else {
      return http::error_response(400, "bad_request", "unknown field \"" + std::string(k) + "\"");
    }
  }
  return f;
}

}  // namespace

http::response api_service::impl::list_destinations(http::request&, const caller& c, op_audit&) {
  auto list = ctx.db.list_destinations(c.comp.id);
  if (!list.ok()) return store_error(list.error(), "list_destinations");
  auto out = json_object();
  auto arr = json_array();
  for (const auto& d : *list) append_item(arr.get(), to_json(d));
  add_item(out.get(), "destinations", std::move(arr));
  return json_answer(200, out);
}

http::response api_service::impl::create_destination(http::request& req, const caller& c,
                                                     op_audit& a) {
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  auto fields = read_fields(std::get<common::json_ptr>(body).get());
  if (auto* bad = std::get_if<http::response>(&fields)) return std::move(*bad);
  auto& f = std::get<destination_fields>(fields);
  if (!f.name) return http::error_response(400, "bad_request", "name is required");
  auto d = ctx.db.create_destination(c.comp.id, *f.name, f.settings_json.value_or("{}"));
  if (!d.ok()) return store_error(d.error(), "create_destination");
  a.target = std::to_string(d->id);
  a.detail = "name=" + d->name;
  return json_answer(201, to_json(*d));
}

http::response api_service::impl::get_destination(http::request& req, const caller& c, op_audit&) {
  auto id = destination_id(req);
  if (!id) return no_destination();
  auto d = ctx.db.get_destination(c.comp.id, *id);
  if (!d.ok()) return store_error(d.error(), "get_destination");
  return json_answer(200, to_json(*d));
}

http::response api_service::impl::update_destination(http::request& req, const caller& c,
                                                     op_audit& a) {
  auto id = destination_id(req);
  if (!id) return no_destination();
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  auto fields = read_fields(std::get<common::json_ptr>(body).get());
  if (auto* bad = std::get_if<http::response>(&fields)) return std::move(*bad);
  auto& f = std::get<destination_fields>(fields);
  auto d = ctx.db.update_destination(c.comp.id, *id, f.name, f.settings_json);
  if (!d.ok()) return store_error(d.error(), "update_destination");
  if (f.name) a.detail = "name=" + *f.name;
  return json_answer(200, to_json(*d));
}

http::response api_service::impl::delete_destination(http::request& req, const caller& c,
                                                     op_audit&) {
  auto id = destination_id(req);
  if (!id) return no_destination();
  if (auto s = ctx.db.delete_destination(c.comp.id, *id); !s.ok()) {
    return store_error(s, "delete_destination");
  }
  http::response res;
  res.status = 204;
  return res;
}

http::response api_service::impl::register_devices(http::request& req, const caller& c,
                                                   op_audit& a) {
  auto id = destination_id(req);
  if (!id) return no_destination();
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  const cJSON* o = std::get<common::json_ptr>(body).get();
  std::vector<std::string> ids;
  const cJSON* one = cJSON_GetObjectItemCaseSensitive(o, "device_id");
  const cJSON* many = cJSON_GetObjectItemCaseSensitive(o, "device_ids");
  if (cJSON_IsString(one)) ids.emplace_back(one->valuestring);
  if (cJSON_IsArray(many)) {
    for (const cJSON* d = many->child; d != nullptr; d = d->next) {
      if (!cJSON_IsString(d))
        return http::error_response(400, "bad_request", "device ids are strings");
      ids.emplace_back(d->valuestring);
    }
  }
  if (ids.empty() || ids.size() > limits::k_max_page) {
    return http::error_response(
        400, "bad_request",
        "device_id or device_ids (1.." + std::to_string(limits::k_max_page) + ") is required");
  }
  for (const auto& d : ids) {
    if (!common::protocol::valid_device_id(d)) {
      return http::error_response(400, "bad_request",
                                  "\"" + d.substr(0, 80) + "\" is not a valid device id");
    }
  }
  // One transaction: either every device is registered or none is, and the error names the
  // device that was refused.
  auto registered = ctx.db.register_devices(c.comp.id, ids, *id);
  if (!registered.ok()) {
    a.detail = "devices=" + std::to_string(ids.size()) + " none registered";
    if (registered.error().code() == k_conflict) a.detail += ": " + registered.error().message();
    return store_error(registered.error(), "register_devices");
  }
  auto out = json_object();
  auto arr = json_array();
  for (const auto& d : *registered) append_item(arr.get(), to_json(d));
  a.detail = "devices=" + std::to_string(registered->size());
  if (ids.size() == 1) a.detail += " " + ids.front();
  add_item(out.get(), "devices", std::move(arr));
  return json_answer(200, out);
}

}  // namespace aterm::cloud::api
