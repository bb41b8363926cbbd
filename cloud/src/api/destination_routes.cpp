// Destinations (仕向け) and device registration under them (docs/device-claim.md).
#include <charconv>

#include "account_routes.h"
#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/csv.h"
#include "aterm/cloud/security/device_claim.h"
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

constexpr std::string_view k_confirm_moves = "confirm_moves";

http::response no_destination() {
  return http::error_response(404, "not_found", "no such destination");
}

// The one answer of every refused claim.
http::response claim_refused() {
  return http::error_response(404, "not_found", "no such device, or a wrong claim code");
}

// One {id, claim_code, tags?} (or the top-level {device_id, claim_code, tags?}): the tags, as a
// CSV line's tags column, replace the router's tags once it is registered. A missing or
// malformed code is a wrong claim like any other (the same 404), not a 400 that would answer
// differently.
std::variant<security::device_claim, http::response> read_claim(const cJSON* o,
                                                                const char* id_key) {
  for (const cJSON* item = o->child; item != nullptr; item = item->next) {
    std::string_view k = item->string;
    if (k != id_key && k != "claim_code" && k != "tags" &&
        !(std::string_view(id_key) == "device_id" && k == k_confirm_moves)) {
      return unknown_field(k);
    }
  }
  const cJSON* id = cJSON_GetObjectItemCaseSensitive(o, id_key);
  const cJSON* code = cJSON_GetObjectItemCaseSensitive(o, "claim_code");
  if (id == nullptr) return field_required(id_key);
  if (!cJSON_IsString(id)) return wrong_type(id_key, "string");
  if (!common::protocol::valid_device_id(id->valuestring)) return invalid_device_id(id_key);
  if (code != nullptr && !cJSON_IsString(code)) return wrong_type("claim_code", "string");
  security::device_claim claim{id->valuestring, code != nullptr ? code->valuestring : "",
                               std::nullopt};
  if (const cJSON* tags = cJSON_GetObjectItemCaseSensitive(o, "tags"); tags != nullptr) {
    auto read = read_tags(tags);
    if (auto* bad = std::get_if<http::response>(&read)) return std::move(*bad);
    claim.tags = std::get<std::vector<std::string>>(std::move(read));
  }
  return claim;
}

// {"devices":[{"id","claim_code","tags"?}, ...]} (1..k_max_page) or
// {"device_id","claim_code","tags"?}.
std::variant<std::vector<security::device_claim>, http::response> read_claims(const cJSON* o) {
  std::vector<security::device_claim> out;
  const cJSON* many = cJSON_GetObjectItemCaseSensitive(o, "devices");
  if (many == nullptr) {
    auto one = read_claim(o, "device_id");
    if (auto* bad = std::get_if<http::response>(&one)) return std::move(*bad);
    out.push_back(std::move(std::get<security::device_claim>(one)));
    return out;
  }
  for (const cJSON* item = o->child; item != nullptr; item = item->next) {
    if (item != many && std::string_view(item->string) != k_confirm_moves) {
      return unknown_field(item->string);
    }
  }
  if (!cJSON_IsArray(many)) return wrong_type("devices", "array");
  const int n = cJSON_GetArraySize(many);
  if (n < 1 || static_cast<std::size_t>(n) > limits::k_max_page) {
    return bad_count("devices", static_cast<std::size_t>(n), limits::k_max_page);
  }
  for (const cJSON* d = many->child; d != nullptr; d = d->next) {
    if (!cJSON_IsObject(d)) return wrong_type("devices", "array of objects");
    auto one = read_claim(d, "id");
    if (auto* bad = std::get_if<http::response>(&one)) return std::move(*bad);
    out.push_back(std::move(std::get<security::device_claim>(one)));
  }
  return out;
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
      if (!cJSON_IsString(item)) return wrong_type(k, "string");
      if (!valid_line(item->valuestring, limits::k_max_name)) {
        return invalid_name(k, limits::k_max_name);
      }
      f.name = item->valuestring;
    } else if (k == "settings") {
      if (!cJSON_IsObject(item)) return wrong_type(k, "object");
      f.settings_json = common::print_json(item);
      if (f.settings_json->size() > k_max_settings_bytes) {
        return http::error_response(
            400, "settings_too_large",
            "settings must be at most " + std::to_string(k_max_settings_bytes) + " bytes as JSON",
            {{"field", "settings"},
             {"max_bytes", static_cast<std::int64_t>(k_max_settings_bytes)}});
      }
    } else {
      return unknown_field(k);
    }
  }
  return f;
}

// Whether the registration confirms moving devices the company holds in another destination:
// "confirm_moves": true in a JSON body, or ?confirm_moves=true (a text/csv body has no fields).
bool moves_confirmed(const http::request& req) {
  if (auto it = req.query.find(std::string(k_confirm_moves)); it != req.query.end()) {
    return it->second == "true" || it->second == "1";
  }
  const std::string* type = req.header("content-type");
  if (type != nullptr && type->rfind("text/csv", 0) == 0) return false;
  auto body = common::parse_json(req.body);
  if (!body.ok()) return false;
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body->get(), k_confirm_moves.data())) != 0;
}

// The claims of a registration: a text/csv body of device_id,claim_code lines (the dashboard's
// CSV upload) or JSON. Device ids are checked here, codes by the claim rule.
std::variant<std::vector<security::device_claim>, http::response> claims_of(
    const http::request& req) {
  const std::string* type = req.header("content-type");
  if (type != nullptr && type->rfind("text/csv", 0) == 0) {
    std::size_t line = 0;
    auto rows = security::parse_device_claim_csv(req.body, limits::k_max_page, &line);
    if (!rows.ok()) {
      if (line == 0) {
        return http::error_response(
            400, "empty_csv", rows.error().message(),
            {{"max_devices", static_cast<std::int64_t>(limits::k_max_page)}});
      }
      return http::error_response(400, "bad_csv", rows.error().message(),
                                  {{"line", static_cast<std::int64_t>(line)},
                                   {"max_devices", static_cast<std::int64_t>(limits::k_max_page)}});
    }
    for (const auto& r : *rows) {
      if (!common::protocol::valid_device_id(r.device_id)) {
        // The id is the uploader's own text, cut so the answer never echoes a large body.
        const std::string shown = r.device_id.substr(0, limits::k_max_name);
        return http::error_response(400, "invalid_device_id",
                                    "\"" + shown + "\" is not a valid device id",
                                    {{"field", "device_id"}, {"device_id", shown}});
      }
    }
    return std::move(*rows);
  }
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  return read_claims(std::get<common::json_ptr>(body).get());
}

}  // namespace

// PATCH /devices/{id} {"destination_id": N}: one of the company's devices moves to another of
// its destinations.
http::response api_service::impl::move_device(http::request& req, const caller& c, op_audit& a) {
  const auto& device_id = req.param("id");
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  const cJSON* o = std::get<common::json_ptr>(body).get();
  for (const cJSON* item = o->child; item != nullptr; item = item->next) {
    if (std::string_view(item->string) != "destination_id") return unknown_field(item->string);
  }
  auto to = common::json_int(o, "destination_id");
  if (!to || *to <= 0) {
    return http::error_response(400, "destination_required",
                                "destination_id (a destination's id) is required",
                                {{"field", "destination_id"}});
  }
  auto held = ctx.db.get_device(c.comp.id, device_id);
  if (!held.ok()) return store_error(held.error(), "get_device");
  auto target = ctx.db.get_destination(c.comp.id, *to);
  if (!target.ok()) return store_error(target.error(), "get_destination");
  const std::string ids[] = {device_id};
  auto moved = ctx.db.claim_devices(c.comp.id, ids, *to);
  if (!moved.ok()) return store_error(moved.error(), "claim_devices");
  a.detail = "from=" + held->destination_name + " to=" + target->name;
  return json_answer(200, to_json(moved->front()));
}

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
  if (!f.name) return field_required("name");
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

// The company's claim (docs/device-claim.md): {"devices":[{"id","claim_code"}, ...]} or
// {"device_id","claim_code"}. Every refusal of a well-formed claim is the same 404 whatever its
// cause (an unknown id, another company's device, a wrong code), and a batch is all or nothing,
// so an answer tells nothing about devices the caller cannot prove it holds. Wrong claims count
// toward the company's throttle (security/device_claim.h), kept in the store.
http::response api_service::impl::register_devices(http::request& req, const caller& c,
                                                   op_audit& a) {
  auto id = destination_id(req);
  if (!id) return no_destination();
  auto claims = claims_of(req);
  if (auto* bad = std::get_if<http::response>(&claims)) return std::move(*bad);
  const auto& list = std::get<std::vector<security::device_claim>>(claims);
  a.detail = "devices=" + std::to_string(list.size());
  if (list.size() == 1) a.detail += " " + list.front().device_id;
  if (auto d = ctx.db.get_destination(c.comp.id, *id); !d.ok()) {
    return store_error(d.error(), "get_destination");
  }

  const auto& settings = ctx.settings.device_claim;
  const std::int64_t now = now_s();
  auto recent = ctx.db.count_claim_failures(c.comp.id, security::claim_window_start(settings, now));
  if (!recent.ok()) return store_error(recent.error(), "count_claim_failures");
  if (auto wait = security::claim_retry_after(settings, *recent, now)) {
    a.detail += " refused: claim throttled";
    auto res =
        http::error_response(429, "throttled", "too many wrong device claims; try again later");
    res.set_header("Retry-After", std::to_string(wait->count()));
    return res;
  }

  std::vector<std::string> ids;
  ids.reserve(list.size());
  for (const auto& one : list) ids.push_back(one.device_id);
  if (security::proves_possession(settings, list)) {
    // Devices the company already holds in another destination move only when the request says
    // so: the first answer names them and changes nothing. Asked only once the claim is proven,
    // so it tells nothing the caller could not see already.
    if (!moves_confirmed(req)) {
      auto moves = json_array();
      std::size_t count = 0;
      for (const auto& device_id : ids) {
        auto held = ctx.db.get_device(c.comp.id, device_id);
        if (!held.ok()) {
          if (held.error().code() == k_not_found) continue;
          return store_error(held.error(), "get_device");
        }
        if (!held->destination_id || *held->destination_id == *id) continue;
        ++count;
        append_item(moves.get(), json_row({{"id", device_id},
                                           {"from_destination_id", held->destination_id},
                                           {"from_destination", held->destination_name}}));
      }
      if (count > 0) {
        a.detail += " refused: " + std::to_string(count) + " moves not confirmed";
        auto out = json_row({{"error", "confirm_moves"},
                             {"message",
                              "devices already in another destination move only with "
                              "confirm_moves: true; nothing was changed"},
                             {"moves", std::move(moves)},
                             {"to_destination_id", std::int64_t{*id}}});
        return json_answer(409, out);
      }
    }
    auto registered = ctx.db.claim_devices(c.comp.id, ids, *id);
    if (registered.ok()) {
      // The upload's tags column, in the registration's operation: all or nothing with it.
      for (const auto& one : list) {
        if (!one.tags) continue;
        auto tagged = ctx.db.set_device_tags(c.comp.id, one.device_id, *one.tags);
        if (!tagged.ok()) return store_error(tagged.error(), "set_device_tags");
      }
      auto out = json_object();
      auto arr = json_array();
      for (const auto& d : *registered) append_item(arr.get(), to_json(d));
      add_item(out.get(), "devices", std::move(arr));
      return json_answer(200, out);
    }
    if (registered.error().code() != k_not_found) {
      return store_error(registered.error(), "claim_devices");
    }
  }
  a.detail += " none registered";
  if (auto s =
          ctx.db.record_claim_failure(c.comp.id, now, security::claim_window_start(settings, now));
      !s.ok()) {
    return store_error(s, "record_claim_failure");
  }
  return claim_refused();
}

}  // namespace aterm::cloud::api
