// GET /devices, GET /devices/{id}, GET /devices/{id}/history, PUT /devices/{id}/tags,
// POST /devices/{id}/commands, GET /commands/{cmd_id}.
#include <algorithm>
#include <charconv>
#include <map>
#include <string>
#include <vector>

#include "api_internal.h"
#include "aterm/cloud/limits.h"
#include "aterm/common/protocol.h"

namespace aterm::cloud::api {

namespace {

// The longest command life a request may ask for: a day covers a router that is offline over
// night; longer and the command is no longer what the operator meant.
constexpr std::int64_t k_max_command_timeout_s = 86400;
// Cursors are our own opaque strings (a device id); anything longer is not one of ours.
constexpr std::size_t k_max_cursor = 256;
// Commands shown with one device.
constexpr std::size_t k_device_recent_commands = 20;

std::optional<std::int64_t> parse_int(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<http::response> parse_page(const filter_lookup& value, std::size_t& limit,
                                         std::string& cursor) {
  if (auto v = value("limit"); v && !v->empty()) {
    auto n = parse_int(*v);
    if (!n || *n < 1 || *n > static_cast<std::int64_t>(limits::k_max_page)) {
      return out_of_range("limit", 1, static_cast<std::int64_t>(limits::k_max_page));
    }
    limit = static_cast<std::size_t>(*n);
  }
  cursor = value("cursor").value_or("");
  if (cursor.size() > k_max_cursor) {
    return invalid_value("cursor", "cursor must be a next_cursor this list answered");
  }
  return std::nullopt;
}

namespace {

void write_tags(common::json_writer& w,
                const std::map<std::string, std::vector<std::string>>& tags_by_device,
                const std::string& device_id) {
  w.key("tags").begin_array();
  if (auto found = tags_by_device.find(device_id); found != tags_by_device.end()) {
    for (const auto& t : found->second) w.string(t);
  }
  w.end_array();
}

}  // namespace

common::status api_service::impl::write_devices(const std::string& company_id,
                                                const std::vector<device>& devices,
                                                common::json_writer& w) {
  std::vector<std::string> ids;
  ids.reserve(devices.size());
  for (const auto& d : devices) ids.push_back(d.id);
  auto tags = ctx.db.device_tags(company_id, ids);
  if (!tags.ok()) return tags.error();
  w.begin_array();
  for (const auto& d : devices) {
    w.begin_object();
    write_device_fields(w, d);
    write_tags(w, *tags, d.id);
    w.end_object();
  }
  w.end_array();
  return {};
}

http::response api_service::impl::list_devices(http::request& req, const caller& c, op_audit& a) {
  const filter_lookup value = [&](std::string_view name) { return req.query_value(name); };
  auto filter = parse_device_filter(value);
  if (auto* bad = std::get_if<http::response>(&filter)) return std::move(*bad);
  auto& q = std::get<device_query>(filter);
  const auto format = req.query_value("format").value_or("json");
  if (format == "csv") return export_devices(std::move(q), c, a);
  if (format != "json") return invalid_value("format", "format must be json or csv");
  if (auto bad = parse_page(value, q.limit, q.cursor)) return std::move(*bad);
  auto page = ctx.db.list_devices(c.comp.id, q);
  if (!page.ok()) return store_error(page.error(), "list_devices");
  common::json_writer w;
  w.begin_object().key("devices");
  if (auto s = write_devices(c.comp.id, page->devices, w); !s.ok()) {
    return store_error(s, "device_tags");
  }
  if (page->next_cursor.empty()) {
    w.key("next_cursor").null();
  } else {
    w.key("next_cursor").string(page->next_cursor);
  }
  w.end_object();
  return json_answer(200, w);
}

http::response api_service::impl::get_device(http::request& req, const caller& c, op_audit&) {
  const auto& id = req.param("id");
  if (!common::protocol::valid_device_id(id)) {
    return http::error_response(404, "not_found", "no such device");
  }
  auto d = ctx.db.get_device(c.comp.id, id);
  if (!d.ok()) return store_error(d.error(), "get_device");
  const std::string ids[] = {id};
  auto tags = ctx.db.device_tags(c.comp.id, ids);
  if (!tags.ok()) return store_error(tags.error(), "device_tags");
  auto recent = ctx.db.list_commands(c.comp.id, id, k_device_recent_commands);
  if (!recent.ok()) return store_error(recent.error(), "list_commands");
  auto arr = json_array();
  for (const auto& cmd : *recent) append_item(arr.get(), to_json(cmd));
  common::json_writer w;
  w.begin_object();
  write_device_fields(w, *d);
  write_tags(w, *tags, id);
  w.key("recent_commands").raw(common::print_json(arr.get()));
  w.end_object();
  return json_answer(200, w);
}

http::response api_service::impl::device_history(http::request& req, const caller& c, op_audit&) {
  const auto& id = req.param("id");
  std::size_t limit = limits::k_state_history_per_device;
  if (auto v = req.query_value("limit"); v && !v->empty()) {
    auto n = parse_int(*v);
    if (!n || *n < 1 || *n > static_cast<std::int64_t>(limits::k_state_history_per_device)) {
      return out_of_range("limit", 1,
                          static_cast<std::int64_t>(limits::k_state_history_per_device));
    }
    limit = static_cast<std::size_t>(*n);
  }
  if (!common::protocol::valid_device_id(id)) {
    return http::error_response(404, "not_found", "no such device");
  }
  auto rows = ctx.db.state_history(c.comp.id, id, limit);
  if (!rows.ok()) return store_error(rows.error(), "state_history");
  // The store answers newest first; a chart draws oldest first.
  std::reverse(rows->begin(), rows->end());
  auto arr = json_array();
  for (const auto& row : *rows) {
    // Validated on ingest; a row that no longer parses as an object is left out, not answered
    // as null, so every point of the chart has a state.
    auto state = common::parse_json(row.state_json);
    if (!state.ok() || !cJSON_IsObject(state->get())) continue;
    auto point = json_object();
    add_int(point.get(), "ts_ms", row.received_ms);
    add_item(point.get(), "state", std::move(state).value());
    append_item(arr.get(), std::move(point));
  }
  auto out = json_object();
  add_item(out.get(), "history", std::move(arr));
  return json_answer(200, out);
}

http::response api_service::impl::create_command(http::request& req, const caller& c, op_audit& a) {
  const auto& id = req.param("id");
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  const cJSON* o = std::get<common::json_ptr>(body).get();
  const cJSON* op = cJSON_GetObjectItemCaseSensitive(o, "op");
  if (op == nullptr) return field_required("op");
  if (!cJSON_IsString(op)) return wrong_type("op", "string");
  for (const cJSON* item = o->child; item != nullptr; item = item->next) {
    std::string_view k = item->string;
    if (k != "op" && k != "args" && k != "timeout_s") return unknown_field(k);
  }
  auto valid = validate_command(op->valuestring, cJSON_GetObjectItemCaseSensitive(o, "args"));
  if (!valid.ok()) {
    // The reason is the catalogue's; an unknown op is the client's text, possibly large, and is
    // not echoed.
    const auto& reason = valid.error().code();
    if (reason == "unknown_op") {
      return http::error_response(400, "bad_command", valid.error().message(),
                                  {{"reason", reason}});
    }
    return http::error_response(400, "bad_command", valid.error().message(),
                                {{"reason", reason}, {"op", std::string(op->valuestring)}});
  }
  // Only an op of the catalogue reaches the access log: the request's text is not ours to keep.
  a.detail = "op=" + valid->op;
  if (valid->audit_warning) a.detail += " warning=destructive";
  std::int64_t timeout = ctx.settings.default_command_timeout_s;
  if (const cJSON* t = cJSON_GetObjectItemCaseSensitive(o, "timeout_s"); t != nullptr) {
    if (!cJSON_IsNumber(t) || !common::json_is_integer(t) || t->valuedouble < 1 ||
        t->valuedouble > static_cast<double>(k_max_command_timeout_s)) {
      return out_of_range("timeout_s", 1, k_max_command_timeout_s);
    }
    timeout = static_cast<std::int64_t>(t->valuedouble);
  }
  if (!common::protocol::valid_device_id(id)) {
    return http::error_response(404, "not_found", "no such device");
  }
  new_command cmd;
  cmd.device_id = id;
  cmd.op = valid->op;
  cmd.args_json = valid->args_json;
  cmd.deadline_s = now_s() + timeout;
  cmd.created_by = c.acct.login_id;
  auto created = ctx.db.create_command(c.comp.id, cmd);
  if (!created.ok()) return store_error(created.error(), "create_command");
  a.detail += " command=" + created->id;
  notify(id);
  return json_answer(202, to_json(*created));
}

http::response api_service::impl::set_device_tags(http::request& req, const caller& c,
                                                  op_audit& a) {
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  const cJSON* o = std::get<common::json_ptr>(body).get();
  for (const cJSON* item = o->child; item != nullptr; item = item->next) {
    if (std::string_view(item->string) != "tags") {
      return http::error_response(400, "unknown_field",
                                  "unknown field \"" + std::string(item->string) + "\"");
    }
  }
  auto read = read_tags(cJSON_GetObjectItemCaseSensitive(o, "tags"));
  if (auto* bad = std::get_if<http::response>(&read)) return std::move(*bad);
  auto tags = std::get<std::vector<std::string>>(std::move(read));
  const auto& id = req.param("id");
  if (!common::protocol::valid_device_id(id)) {
    return http::error_response(404, "not_found", "no such device");
  }
  auto set = ctx.db.set_device_tags(c.comp.id, id, std::move(tags));
  if (!set.ok()) return store_error(set.error(), "set_device_tags");
  a.detail = "tags=" + std::to_string(set->size());
  auto out = json_object();
  auto list = json_array();
  for (const auto& t : *set)
    append_item(list.get(), common::json_ptr(cJSON_CreateString(t.c_str())));
  add_item(out.get(), "tags", std::move(list));
  return json_answer(200, out);
}

http::response api_service::impl::get_command(http::request& req, const caller& c, op_audit&) {
  const auto& id = req.param("cmd_id");
  if (!common::protocol::valid_command_id(id)) {
    return http::error_response(404, "not_found", "no such command");
  }
  auto cmd = ctx.db.get_command(c.comp.id, id);
  if (!cmd.ok()) return store_error(cmd.error(), "get_command");
  return json_answer(200, to_json(*cmd));
}

}  // namespace aterm::cloud::api
