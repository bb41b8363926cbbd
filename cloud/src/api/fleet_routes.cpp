// The fleet's routes: the device list's filters (parse_device_filter), the inventory export
// (GET /devices?format=csv), device removal (DELETE /devices/{id}) and the fleet summary
// (GET /fleet/summary, with the company's running jobs).
#include <charconv>

#include "api_internal.h"
#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/csv.h"
#include "aterm/common/clock.h"
#include "aterm/common/protocol.h"

namespace aterm::cloud::api {

namespace {

// The longest WAN address prefix: a full IPv6 address with an embedded IPv4 one.
constexpr std::size_t k_max_wan_prefix = 45;

// A model or firmware name as the state reports it: printable, at most a name's length.
bool valid_label(std::string_view s) {
  if (s.empty() || s.size() > limits::k_max_name) return false;
  for (char c : s) {
    const auto ch = static_cast<unsigned char>(c);
    if (ch < 0x20 || ch == 0x7f) return false;
  }
  return true;
}

bool valid_wan_prefix(std::string_view s) {
  if (s.empty() || s.size() > k_max_wan_prefix) return false;
  for (char ch : s) {
    const bool hex =
        (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
    if (!hex && ch != '.' && ch != ':') return false;
  }
  return true;
}

std::string jst_ms(const std::optional<std::int64_t>& ms) {
  return ms ? common::format_jst(common::from_unix_ms(*ms)) : std::string();
}

}  // namespace

std::variant<device_query, http::response> parse_device_filter(const filter_lookup& value) {
  device_query q;
  q.q = value("q").value_or("");
  if (q.q.size() > limits::k_max_name) return too_long("q", limits::k_max_name);
  if (auto online = value("online"); online && !online->empty()) {
    if (*online == "true" || *online == "1" || *online == "online") {
      q.presence = presence_state::online;
    } else if (*online == "false" || *online == "0" || *online == "offline") {
      q.presence = presence_state::offline;
    } else if (*online == "unknown") {
      q.presence = presence_state::unknown;
    } else {
      return invalid_value("online", "online must be true, false or unknown");
    }
  }
  for (auto [name, field] : {std::pair{"model", &q.model}, std::pair{"firmware", &q.firmware}}) {
    if (auto v = value(name); v && !v->empty()) {
      if (!valid_label(*v)) return invalid_name(name, limits::k_max_name);
      *field = *v;
    }
  }
  if (auto v = value("destination"); v && !v->empty()) {
    std::int64_t id = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), id);
    if (ec != std::errc() || p != v->data() + v->size() || id < 1) {
      return invalid_value("destination", "destination must be a destination id");
    }
    q.destination_id = id;
  }
  for (auto [name, field] : {std::pair{"last_seen_before", &q.last_seen_before_ms},
                             std::pair{"last_seen_after", &q.last_seen_after_ms}}) {
    if (auto v = value(name); v && !v->empty()) {
      auto t = common::parse_iso8601(*v);
      if (!t.ok()) return invalid_time(name);
      *field = common::to_unix_ms(*t);
    }
  }
  if (auto v = value("wan_prefix"); v && !v->empty()) {
    if (!valid_wan_prefix(*v)) {
      return invalid_value("wan_prefix", "wan_prefix must be 1.." +
                                             std::to_string(k_max_wan_prefix) +
                                             " characters of an IP address (0-9 a-f . :)");
    }
    q.wan_prefix = *v;
  }
  if (auto v = value("tag"); v && !v->empty()) {
    if (v->size() > limits::k_max_tag_bytes) return too_long("tag", limits::k_max_tag_bytes);
    q.tag = *v;
  }
  return q;
}

http::response api_service::impl::export_devices(device_query q, const caller& c, op_audit& a) {
  // Every matching device, page after page through the cursor: each page is one short read,
  // so the export never holds the store for the whole fleet.
  http::response res;
  res.status = 200;
  res.content_type = "text/csv; charset=utf-8";
  res.body = std::string(security::k_utf8_bom) +
             security::csv_row({"device_id", "destination", "presence", "model", "firmware",
                                "wan_ip", "agent_version", "last_seen_jst", "registered_jst"});
  q.limit = limits::k_max_page;
  q.cursor.clear();
  std::size_t rows = 0;
  for (;;) {
    auto page = ctx.db.list_devices(c.comp.id, q);
    if (!page.ok()) return store_error(page.error(), "list_devices");
    for (const auto& d : page->devices) {
      res.body += security::csv_row(
          {d.id, d.destination_name, to_string(d.presence), d.model, d.firmware, d.wan_ip,
           d.agent_version, jst_ms(d.last_seen_ms),
           jst_ms(d.registered_at_s ? std::optional(*d.registered_at_s * 1000) : std::nullopt)});
    }
    rows += page->devices.size();
    if (page->next_cursor.empty()) break;
    q.cursor = page->next_cursor;
  }
  res.set_header("Content-Disposition", "attachment; filename=\"devices-" + c.comp.id + ".csv\"");
  a.detail = "format=csv rows=" + std::to_string(rows);
  return res;
}

http::response api_service::impl::remove_device(http::request& req, const caller& c, op_audit&) {
  const auto& id = req.param("id");
  if (!common::protocol::valid_device_id(id)) {
    return http::error_response(404, "not_found", "no such device");
  }
  auto removed = ctx.db.remove_device(c.comp.id, id);
  if (!removed.ok()) return store_error(removed, "remove_device");
  http::response res;
  res.status = 204;
  return res;
}

http::response api_service::impl::fleet_summary_route(http::request&, const caller& c, op_audit&) {
  auto s = ctx.db.summarize_fleet(c.comp.id);
  if (!s.ok()) return store_error(s.error(), "summarize_fleet");
  auto firmware = json_array();
  for (const auto& [version, n] : s->firmware) {
    append_item(firmware.get(), json_row({{"firmware", version}, {"devices", n}}));
  }
  auto running = ctx.db.summarize_running_jobs(c.comp.id, limits::k_max_summary_jobs);
  if (!running.ok()) return store_error(running.error(), "summarize_running_jobs");
  auto jobs = json_array();
  for (const auto& j : running->jobs) append_item(jobs.get(), job_json(j));
  return json_answer(200, json_row({{"devices", s->devices},
                                    {"online", s->online},
                                    {"offline", s->offline},
                                    {"unknown", s->unknown},
                                    {"firmware", std::move(firmware)},
                                    {"running_jobs", running->count},
                                    {"jobs", std::move(jobs)}}));
}

}  // namespace aterm::cloud::api
