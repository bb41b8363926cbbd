// Alert rules, alarms and notification channels of the caller's company (docs/http-api.md,
// "Alerts"). Reading alarms needs device.read, acknowledging one device.command; rules and
// channels are company settings (company.settings). A webhook's secret is answered once, when
// it is created, and never written to the access log.
#include <utility>

#include "account_routes.h"
#include "aterm/cloud/alerts/alert_evaluator.h"
#include "aterm/cloud/alerts/alert_port.h"
#include "aterm/cloud/alerts/limits.h"
#include "aterm/cloud/alerts/webhook.h"
#include "aterm/cloud/security/key_file.h"

namespace aterm::cloud::api {

namespace {

namespace al = alerts;

// The port on the service's store; every call joins the route's operation (one pool).
std::unique_ptr<al::alert_port> port_of(api_service::impl& m) {
  auto p = al::open_alert_store(m.ctx.db);
  return p.ok() ? std::move(p).value() : nullptr;
}

http::response no_port() {
  return http::error_response(500, "internal", "internal error");
}

common::json_ptr rule_json(const al::alert_rule& r) {
  return json_row({{"kind", to_string(r.kind)},
                   {"enabled", r.enabled},
                   {"threshold", r.threshold},
                   {"window_s", r.window_s}});
}

common::json_ptr alarm_row(const al::alarm_record& a) {
  return json_row({{"id", a.id},
                   {"kind", a.kind},
                   {"device_id", a.device_id},
                   {"state", to_string(a.state())},
                   {"detail", a.detail},
                   {"created_at_s", a.created_at_s},
                   {"acknowledged_at_s", a.acknowledged_at_s},
                   {"acknowledged_by", a.acknowledged_by},
                   {"comment", a.comment},
                   {"cleared_at_s", a.cleared_at_s}});
}

common::json_ptr channel_json(const al::channel& c) {
  auto o = json_row({{"id", c.id},
                     {"kind", to_string(c.kind)},
                     {"url", c.url},
                     {"created_at_s", c.created_at_s},
                     {"failing_since_s", c.failing_since_s},
                     {"disabled", c.disabled_at_s.has_value()},
                     {"disabled_at_s", c.disabled_at_s}});
  auto ids = json_array();
  for (auto id : c.account_ids) {
    cJSON_AddItemToArray(ids.get(), cJSON_CreateNumber(static_cast<double>(id)));
  }
  add_item(o.get(), "account_ids", std::move(ids));
  return o;
}

std::int64_t offline_after_s(const api_service::impl& m) {
  return m.ctx.settings.alert_offline_after_s;
}

http::response get_rules(api_service::impl& m, http::request&, const caller& c, op_audit&) {
  auto port = port_of(m);
  if (!port) return no_port();
  auto stored = port->stored_rules(c.comp.id);
  if (!stored.ok()) return m.store_error(stored.error(), "stored_rules");
  auto out = json_object();
  auto arr = json_array();
  for (const auto& r : al::with_defaults(*stored, offline_after_s(m))) {
    append_item(arr.get(), rule_json(r));
  }
  add_item(out.get(), "rules", std::move(arr));
  return json_answer(200, out);
}

// PUT {"rules":[{kind, enabled, threshold, window_s}, ...]}: the kinds given replace theirs.
http::response put_rules(api_service::impl& m, http::request& req, const caller& c, op_audit& a) {
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  const cJSON* list =
      cJSON_GetObjectItemCaseSensitive(std::get<common::json_ptr>(body).get(), "rules");
  if (list == nullptr) return field_required("rules");
  if (!cJSON_IsArray(list)) return wrong_type("rules", "array");
  auto port = port_of(m);
  if (!port) return no_port();
  auto stored = port->stored_rules(c.comp.id);
  if (!stored.ok()) return m.store_error(stored.error(), "stored_rules");
  auto current = al::with_defaults(*stored, offline_after_s(m));
  std::vector<al::alert_rule> changed;
  std::string detail;
  for (const cJSON* item = list->child; item != nullptr; item = item->next) {
    if (!cJSON_IsObject(item)) return wrong_type("rules", "array of objects");
    auto kind_name = common::json_string(item, "kind");
    auto kind = kind_name ? al::parse_rule_kind(*kind_name) : std::nullopt;
    if (!kind) return invalid_value("kind", "kind must be a rule kind of GET /alert-rules");
    al::alert_rule r;
    for (const auto& cur : current) {
      if (cur.kind == *kind) r = cur;
    }
    for (const cJSON* f = item->child; f != nullptr; f = f->next) {
      std::string_view k = f->string;
      if (k == "kind") continue;
      if (k == "enabled") {
        if (!cJSON_IsBool(f)) return wrong_type(k, "boolean");
        r.enabled = cJSON_IsTrue(f) != 0;
      } else if (k == "threshold" || k == "window_s") {
        auto v = common::json_int(item, f->string);
        if (!v) return wrong_type(k, "integer");
        (k == "threshold" ? r.threshold : r.window_s) = *v;
      } else {
        return unknown_field(k);
      }
    }
    // check_rule refuses with al::k_bad_rule only.
    if (auto s = al::check_rule(r); !s.ok()) {
      return http::error_response(400, "bad_rule", s.message());
    }
    detail += std::string(to_string(r.kind)) + (r.enabled ? "=on " : "=off ");
    changed.push_back(r);
  }
  if (auto s = port->save_rules(c.comp.id, changed); !s.ok()) {
    return m.store_error(s, "save_rules");
  }
  a.target = c.comp.id;
  a.detail = detail;
  return get_rules(m, req, c, a);
}

// GET /alarms?state=open|acknowledged|cleared&kind=&device=&limit=
http::response list_alarms(api_service::impl& m, http::request& req, const caller& c, op_audit&) {
  al::alarm_filter f;
  if (auto s = req.query_value("state"); s && !s->empty()) {
    f.state = al::parse_alarm_state(*s);
    if (!f.state) return invalid_value("state", "state must be open, acknowledged or cleared");
  }
  f.kind = req.query_value("kind").value_or("");
  f.device_id = req.query_value("device").value_or("");
  if (auto v = req.query_value("limit"); v && !v->empty()) {
    char* end = nullptr;
    long long n = std::strtoll(v->c_str(), &end, 10);
    if (end == v->c_str() || *end != '\0' || n < 1 ||
        n > static_cast<long long>(al::limits::k_max_alarm_page)) {
      return out_of_range("limit", 1, static_cast<std::int64_t>(al::limits::k_max_alarm_page));
    }
    f.limit = static_cast<std::size_t>(n);
  }
  auto port = port_of(m);
  if (!port) return no_port();
  auto list = port->list_alarms(c.comp.id, f);
  if (!list.ok()) return m.store_error(list.error(), "list_alarms");
  auto open = port->count_open_alarms(c.comp.id);
  if (!open.ok()) return m.store_error(open.error(), "count_open_alarms");
  auto out = json_object();
  auto arr = json_array();
  for (const auto& a : *list) append_item(arr.get(), alarm_row(a));
  add_item(out.get(), "alarms", std::move(arr));
  add_int(out.get(), "open_count", *open);
  return json_answer(200, out);
}

// POST /alarms/{id}/acknowledge {"comment": "..."}
http::response acknowledge(api_service::impl& m, http::request& req, const caller& c, op_audit& a) {
  auto id = id_param(req);
  if (!id) return http::error_response(404, "not_found", "no such alarm");
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  const cJSON* o = std::get<common::json_ptr>(body).get();
  std::string comment;
  for (const cJSON* f = o->child; f != nullptr; f = f->next) {
    if (std::string_view(f->string) != "comment") return unknown_field(f->string);
    if (!cJSON_IsString(f)) return wrong_type("comment", "string");
    comment = f->valuestring;
  }
  if (!comment.empty() && !valid_line(comment, al::limits::k_max_comment)) {
    return invalid_name("comment", al::limits::k_max_comment);
  }
  auto port = port_of(m);
  if (!port) return no_port();
  auto r = port->acknowledge_alarm(c.comp.id, *id, c.acct.login_id, comment, m.now_s());
  if (!r.ok()) return m.store_error(r.error(), "acknowledge_alarm");
  a.detail = r->kind + (r->device_id.empty() ? "" : " " + r->device_id);
  return json_answer(200, alarm_row(*r));
}

http::response list_channels(api_service::impl& m, http::request&, const caller& c, op_audit&) {
  auto port = port_of(m);
  if (!port) return no_port();
  auto list = port->list_channels(c.comp.id);
  if (!list.ok()) return m.store_error(list.error(), "list_channels");
  auto out = json_object();
  auto arr = json_array();
  for (const auto& ch : *list) append_item(arr.get(), channel_json(ch));
  add_item(out.get(), "channels", std::move(arr));
  return json_answer(200, out);
}

common::result<secret_key> webhook_key(const api_service::impl& m) {
  if (m.ctx.settings.webhook_key_file.empty()) {
    return common::status::error("no_webhook_key", "alerts.webhook_key_file is not set");
  }
  auto ring = security::load_or_create_keyring(m.ctx.settings.webhook_key_file);
  if (!ring.ok()) return ring.error();
  return ring->back();
}

// POST {"kind":"email","account_ids":[...]} or {"kind":"webhook","url":"https://..."}.
http::response create_channel(api_service::impl& m, http::request& req, const caller& c,
                              op_audit& a) {
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  const cJSON* o = std::get<common::json_ptr>(body).get();
  al::channel ch;
  ch.company_id = c.comp.id;
  auto kind_name = common::json_string(o, "kind");
  auto kind = kind_name ? al::parse_channel_kind(*kind_name) : std::nullopt;
  if (!kind_name) return field_required("kind");
  if (!kind) return invalid_value("kind", "kind must be email or webhook");
  ch.kind = *kind;
  for (const cJSON* f = o->child; f != nullptr; f = f->next) {
    std::string_view k = f->string;
    if (k == "kind") continue;
    if (k == "account_ids" && ch.kind == al::channel_kind::email) {
      if (!cJSON_IsArray(f)) return wrong_type(k, "array");
      for (const cJSON* e = f->child; e != nullptr; e = e->next) {
        if (!common::json_is_integer(e) || e->valuedouble < 1) {
          return wrong_type(k, "array of account ids");
        }
        ch.account_ids.push_back(static_cast<std::int64_t>(e->valuedouble));
      }
    } else if (k == "url" && ch.kind == al::channel_kind::webhook) {
      if (!cJSON_IsString(f)) return wrong_type(k, "string");
      ch.url = f->valuestring;
    } else {
      return unknown_field(k);
    }
  }
  std::optional<secret_key> key;
  if (ch.kind == al::channel_kind::email) {
    if (ch.account_ids.empty() || ch.account_ids.size() > al::limits::k_max_channel_accounts) {
      return bad_count("account_ids", ch.account_ids.size(), al::limits::k_max_channel_accounts);
    }
  } else {
    // check_webhook_url refuses with al::k_bad_webhook_url only.
    if (auto s = al::check_webhook_url(ch.url); !s.ok()) {
      return http::error_response(400, "bad_webhook_url", s.message());
    }
    auto k = webhook_key(m);
    if (!k.ok()) return m.store_error(k.error(), "webhook_key");
    key = *k;
    ch.salt = al::new_webhook_salt();
  }
  auto port = port_of(m);
  if (!port) return no_port();
  auto made = port->create_channel(ch, m.now_s());
  if (!made.ok()) return m.store_error(made.error(), "create_channel");
  a.target = std::to_string(made->id);
  a.detail = std::string(to_string(made->kind));
  auto out = channel_json(*made);
  if (key) add_string(out.get(), "secret", al::webhook_secret(*key, made->salt));
  return json_answer(201, out);
}

http::response delete_channel(api_service::impl& m, http::request& req, const caller& c,
                              op_audit&) {
  auto id = id_param(req);
  if (!id) return http::error_response(404, "not_found", "no such channel");
  auto port = port_of(m);
  if (!port) return no_port();
  if (auto s = port->delete_channel(c.comp.id, *id); !s.ok()) {
    return m.store_error(s, "delete_channel");
  }
  return no_content();
}

http::response test_channel(api_service::impl& m, http::request& req, const caller& c, op_audit&) {
  auto id = id_param(req);
  if (!id) return http::error_response(404, "not_found", "no such channel");
  auto port = port_of(m);
  if (!port) return no_port();
  if (auto s = port->queue_webhook_event(c.comp.id, *id, al::test_event_json(c.comp.id, m.now_s()),
                                         m.now_s());
      !s.ok()) {
    return m.store_error(s, "queue_webhook_event");
  }
  auto out = json_object();
  add_bool(out.get(), "queued", true);
  return json_answer(202, out);
}

}  // namespace

void register_alert_routes(api_service::impl& m, http::router& r, const std::string& base) {
  r.add("GET", base + "/alert-rules",
        m.guarded("alert_rule.list", "device.read", bind_route(m, get_rules)));
  r.add("PUT", base + "/alert-rules",
        m.guarded("alert_rule.update", "company.settings", bind_route(m, put_rules)));
  r.add("GET", base + "/alarms",
        m.guarded("alarm.list", "device.read", bind_route(m, list_alarms)));
  r.add("POST", base + "/alarms/{id}/acknowledge",
        m.guarded("alarm.acknowledge", "device.command", bind_route(m, acknowledge)));
  r.add("GET", base + "/notification-channels",
        m.guarded("channel.list", "company.settings", bind_route(m, list_channels)));
  r.add("POST", base + "/notification-channels",
        m.guarded("channel.create", "company.settings", bind_route(m, create_channel)));
  r.add("DELETE", base + "/notification-channels/{id}",
        m.guarded("channel.delete", "company.settings", bind_route(m, delete_channel)));
  r.add("POST", base + "/notification-channels/{id}/test",
        m.guarded("channel.test", "company.settings", bind_route(m, test_channel)));
}

}  // namespace aterm::cloud::api
