// The notices of the service document (DESIGN.md section 5; docs/http-api.md): site
// administrators (company platform, permission company.settings) schedule planned maintenance
// windows and post incidents and their updates; each is mailed to every company administrator
// in the same transaction and audited. GET /status answers the current and recent notices to
// anyone, without a session: it is the public status page's data and holds no tenant data.
#include <utility>

#include "account_routes.h"
#include "aterm/cloud/notices/limits.h"
#include "aterm/cloud/notices/notice_rules.h"

namespace aterm::cloud::api {

namespace {

namespace nl = notices::limits;

constexpr std::string_view k_notice_permission = "company.settings";

std::string jst(std::int64_t s) {
  return common::format_jst(common::from_unix_s(s));
}

// Text of a notice: 1..k_max_text_bytes of UTF-8 without control characters but line ends.
bool valid_text(std::string_view s) {
  if (s.empty() || s.size() > nl::k_max_text_bytes || !common::valid_utf8(s)) return false;
  for (const char raw : s) {
    const auto ch = static_cast<unsigned char>(raw);
    if ((ch < 0x20 && ch != '\n') || ch == 0x7f) return false;
  }
  return true;
}

common::json_ptr notice_json(const notice& n) {
  auto text = [](const notice_text& t) { return json_row({{"ja", t.ja}, {"en", t.en}}); };
  if (n.kind == notice_kind::maintenance) {
    return json_row({{"id", n.id},
                     {"kind", to_string(n.kind)},
                     {"starts_at", jst(n.starts_at_s)},
                     {"ends_at", jst(n.ends_at_s)},
                     {"starts_at_s", n.starts_at_s},
                     {"ends_at_s", n.ends_at_s},
                     {"urgent", n.urgent},
                     {"text", text(n.text)},
                     {"announced_at", jst(n.created_at_s)}});
  }
  auto updates = json_array();
  for (const auto& u : n.updates) {
    append_item(updates.get(), json_row({{"at", jst(u.at_s)},
                                         {"at_s", u.at_s},
                                         {"status", to_string(u.status)},
                                         {"text", text(u.text)}}));
  }
  return json_row({{"id", n.id},
                   {"kind", to_string(n.kind)},
                   {"status", to_string(n.status)},
                   {"text", text(n.text)},
                   {"posted_at", jst(n.created_at_s)},
                   {"updated_at", jst(n.updated_at_s)},
                   {"updates", std::move(updates)}});
}

// The members of a notice's body: text_ja and text_en always, the others as the route allows.
struct notice_body {
  notice_text text;
  std::optional<std::int64_t> starts_at_s;
  std::optional<std::int64_t> ends_at_s;
  bool urgent = false;
  std::optional<incident_status> status;
};

std::variant<notice_body, http::response> read_notice_body(const http::request& req,
                                                           bool maintenance) {
  auto body = object_body(req);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  notice_body out;
  bool has_ja = false, has_en = false;
  for (const cJSON* item = std::get<common::json_ptr>(body)->child; item; item = item->next) {
    std::string_view k = item->string;
    if (k == "text_ja" || k == "text_en") {
      if (!cJSON_IsString(item)) return wrong_type(k, "string");
      if (!valid_text(item->valuestring)) {
        return http::error_response(
            400, "invalid_text",
            std::string(k) + " must be 1.." + std::to_string(nl::k_max_text_bytes) +
                " bytes of text without control characters but line breaks",
            {{"field", std::string(k)},
             {"max_bytes", static_cast<std::int64_t>(nl::k_max_text_bytes)}});
      }
      (k == "text_ja" ? out.text.ja : out.text.en) = item->valuestring;
      (k == "text_ja" ? has_ja : has_en) = true;
    } else if (maintenance && (k == "starts_at" || k == "ends_at")) {
      auto t = cJSON_IsString(item) ? common::parse_iso8601(item->valuestring)
                                    : common::result<common::wall_time>(
                                          common::status::error("bad_time", "not a string"));
      if (!t.ok()) return invalid_time(k);
      (k == "starts_at" ? out.starts_at_s : out.ends_at_s) = common::to_unix_s(*t);
    } else if (maintenance && k == "urgent") {
      if (!cJSON_IsBool(item)) return wrong_type(k, "boolean");
      out.urgent = cJSON_IsTrue(item) != 0;
    } else if (!maintenance && k == "status") {
      out.status = cJSON_IsString(item) ? parse_incident_status(item->valuestring) : std::nullopt;
      if (!out.status) {
        return invalid_value("status",
                             "status must be investigating, identified, monitoring or resolved");
      }
    } else {
      return unknown_field(k);
    }
  }
  if (!has_ja) return field_required("text_ja");
  if (!has_en) return field_required("text_en");
  if (maintenance && !out.starts_at_s) return field_required("starts_at");
  if (maintenance && !out.ends_at_s) return field_required("ends_at");
  if (!maintenance && !out.status) return field_required("status");
  return out;
}

http::response posted_answer(unsigned status, const notice_posted& p) {
  auto out = notice_json(p.posted);
  add_int(out.get(), "mails_queued", p.mails_queued);
  return json_answer(status, out);
}

// {starts_at, ends_at, text_ja, text_en, urgent?}: refused (400 maintenance_too_soon) when
// announced later than notices.lead_business_days business days before its start, unless urgent.
http::response schedule_maintenance(api_service::impl& m, http::request& req, const caller& c,
                                    op_audit& a) {
  if (auto refused = not_site_admin(c, k_notice_permission, a)) return std::move(*refused);
  auto body = read_notice_body(req, true);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  auto& b = std::get<notice_body>(body);
  const std::int64_t now = m.now_s();
  if (*b.ends_at_s - *b.starts_at_s > nl::k_max_window_s) {
    return http::error_response(400, "bad_window", "a window lasts at most 7 days");
  }
  const auto& rules = m.ctx.settings.notices;
  auto check = notices::check_window(rules, now, *b.starts_at_s, *b.ends_at_s, b.urgent);
  switch (check.refusal) {
    case notices::window_refusal::none:
      break;
    case notices::window_refusal::bad_window:
      return http::error_response(400, "bad_window", "ends_at must be after starts_at");
    case notices::window_refusal::in_the_past:
      return http::error_response(400, "window_in_past", "the window has already ended");
    case notices::window_refusal::too_soon:
      a.detail = "refused: announced after " + notices::format_day(check.last_day);
      return http::error_response(400, "maintenance_too_soon",
                                  "planned maintenance starting " + jst(*b.starts_at_s) +
                                      " must be announced by " +
                                      notices::format_day(check.last_day) + " (JST), " +
                                      std::to_string(rules.lead_business_days) +
                                      " business days ahead; mark it urgent to announce it later");
  }
  notice n;
  n.kind = notice_kind::maintenance;
  n.text = b.text;
  n.starts_at_s = *b.starts_at_s;
  n.ends_at_s = *b.ends_at_s;
  n.urgent = b.urgent;
  n.created_by = c.acct.login_id;
  n.created_at_s = now;
  auto posted = m.ctx.db.post_notice(n, notices::maintenance_mail);
  if (!posted.ok()) return m.store_error(posted.error(), "post_notice");
  a.target = "notice/" + std::to_string(posted->posted.id);
  a.detail = "maintenance " + jst(n.starts_at_s) + " to " + jst(n.ends_at_s) +
             (n.urgent ? " urgent" : "") + ", mails=" + std::to_string(posted->mails_queued);
  return posted_answer(201, *posted);
}

// {status, text_ja, text_en}.
http::response post_incident(api_service::impl& m, http::request& req, const caller& c,
                             op_audit& a) {
  if (auto refused = not_site_admin(c, k_notice_permission, a)) return std::move(*refused);
  auto body = read_notice_body(req, false);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  auto& b = std::get<notice_body>(body);
  notice n;
  n.kind = notice_kind::incident;
  n.status = *b.status;
  n.text = b.text;
  n.created_by = c.acct.login_id;
  n.created_at_s = m.now_s();
  n.updates.push_back({n.created_at_s, n.status, n.text});
  auto posted = m.ctx.db.post_notice(
      n, [](const notice& stored) { return notices::incident_mail(stored, true); });
  if (!posted.ok()) return m.store_error(posted.error(), "post_notice");
  a.target = "notice/" + std::to_string(posted->posted.id);
  a.detail = "incident " + std::string(to_string(n.status)) +
             ", mails=" + std::to_string(posted->mails_queued);
  return posted_answer(201, *posted);
}

http::response update_incident(api_service::impl& m, http::request& req, const caller& c,
                               op_audit& a) {
  if (auto refused = not_site_admin(c, k_notice_permission, a)) return std::move(*refused);
  auto id = id_param(req);
  if (!id) return http::error_response(404, "not_found", "no such incident");
  auto body = read_notice_body(req, false);
  if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
  auto& b = std::get<notice_body>(body);
  notice_update u{m.now_s(), *b.status, b.text};
  auto posted = m.ctx.db.update_incident(
      *id, u, [](const notice& stored) { return notices::incident_mail(stored, false); });
  if (!posted.ok()) return m.store_error(posted.error(), "update_incident");
  a.target = "notice/" + std::to_string(*id);
  a.detail = "incident " + std::string(to_string(u.status)) +
             ", mails=" + std::to_string(posted->mails_queued);
  return posted_answer(200, *posted);
}

// {maintenance: [...], incidents: [...]}: current and recent notices.
http::response notices_answer(api_service::impl& m) {
  const std::int64_t now = m.now_s();
  auto list = m.ctx.db.list_notices(now - nl::k_status_history_s, nl::k_status_notices);
  if (!list.ok()) return m.store_error(list.error(), "list_notices");
  auto maintenance = json_array();
  auto incidents = json_array();
  for (const auto& n : *list) {
    auto o = notice_json(n);
    if (n.kind == notice_kind::maintenance) {
      add_string(o.get(), "phase",
                 n.ends_at_s <= now     ? "completed"
                 : n.starts_at_s <= now ? "in_progress"
                                        : "scheduled");
    }
    append_item(n.kind == notice_kind::maintenance ? maintenance.get() : incidents.get(),
                std::move(o));
  }
  auto out = json_object();
  add_string(out.get(), "generated_at", jst(now));
  add_item(out.get(), "maintenance", std::move(maintenance));
  add_item(out.get(), "incidents", std::move(incidents));
  return json_answer(200, out);
}

http::response list_notices(api_service::impl& m, http::request&, const caller& c, op_audit& a) {
  if (auto refused = not_site_admin(c, k_notice_permission, a)) return std::move(*refused);
  return notices_answer(m);
}

}  // namespace

void register_notice_routes(api_service::impl& m, http::router& r, const std::string& base) {
  const std::string admin = base + "/admin";
  r.add("GET", admin + "/notices",
        m.guarded("admin.notice.list", "", bind_route(m, list_notices), false));
  r.add("POST", admin + "/maintenance",
        m.guarded("admin.maintenance.schedule", "", bind_route(m, schedule_maintenance)));
  r.add("POST", admin + "/incidents",
        m.guarded("admin.incident.post", "", bind_route(m, post_incident)));
  r.add("POST", admin + "/incidents/{id}/updates",
        m.guarded("admin.incident.update", "", bind_route(m, update_incident)));
  r.add("GET", base + "/status", [&m](http::request&) { return notices_answer(m); });
}

}  // namespace aterm::cloud::api
