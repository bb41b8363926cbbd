// GET /audit?from=&to=&account=&action=&after_seq=&limit=&format=csv (DESIGN.md sections 5 and 6):
// the caller's company's access log, ordered by seq, times in JST (+09:00). The CSV export goes
// through security::audit_csv_row (formula cells neutralised, control characters escaped) and
// starts with a UTF-8 byte-order mark, without which Japanese Excel reads it as Shift_JIS. A page
// holds at most limits::k_max_audit_page records; next_after_seq (JSON) or the X-Next-After-Seq
// header (CSV) continues it. order=newest lists newest first, continued by before_seq
// (next_before_seq, X-Next-Before-Seq), as the dashboard shows it.
#include <charconv>
#include <utility>

#include "account_routes.h"
#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/csv.h"

namespace aterm::cloud::api {

namespace {

std::optional<std::int64_t> non_negative(const std::string& s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

common::json_ptr record_json(const audit_record& r) {
  return json_row({{"seq", r.seq},
                   {"time", common::format_jst(common::from_unix_ms(r.ts_ms))},
                   {"ts_ms", r.ts_ms},
                   {"actor", r.actor},
                   {"action", r.action},
                   {"target", r.target},
                   {"result", r.result},
                   {"detail", r.detail},
                   {"source_ip", r.source_ip}});
}

http::response read_audit(api_service::impl& m, http::request& req, const caller& c, op_audit& a) {
  audit_query q;
  q.limit = limits::k_max_audit_page;
  for (const char* key : {"from", "to"}) {
    if (auto v = req.query_value(key)) {
      auto t = common::parse_iso8601(*v);
      if (!t.ok()) return invalid_time(key);
      (std::string_view(key) == "from" ? q.from_ms : q.to_ms) = common::to_unix_ms(*t);
    }
  }
  if (auto v = req.query_value("account")) q.actor = *v;
  if (auto v = req.query_value("action")) q.action = *v;
  if (auto v = req.query_value("after_seq")) {
    auto n = non_negative(*v);
    if (!n) return invalid_value("after_seq", "after_seq must be a non-negative integer");
    q.after_seq = *n;
  }
  if (auto v = req.query_value("before_seq")) {
    auto n = non_negative(*v);
    if (!n) return invalid_value("before_seq", "before_seq must be a non-negative integer");
    q.before_seq = *n;
  }
  if (auto v = req.query_value("order")) {
    if (*v != "oldest" && *v != "newest") {
      return invalid_value("order", "order must be oldest or newest");
    }
    q.newest_first = *v == "newest";
  }
  if (auto v = req.query_value("limit")) {
    auto n = non_negative(*v);
    // Larger limits are cut to the page size, so only the lower bound is refused.
    if (!n || *n == 0) return invalid_value("limit", "limit must be a positive integer");
    q.limit = std::min(static_cast<std::size_t>(*n), limits::k_max_audit_page);
  }
  std::string format = req.query_value("format").value_or("json");
  if (format != "json" && format != "csv") {
    return invalid_value("format", "format must be json or csv");
  }

  auto records = m.ctx.db.list_audit(c.comp.id, q);
  if (!records.ok()) return m.store_error(records.error(), "list_audit");
  std::optional<std::int64_t> next;
  if (records->size() >= q.limit && !records->empty()) next = records->back().seq;
  a.detail = "records=" + std::to_string(records->size()) + " format=" + format;
  const char* next_field = q.newest_first ? "next_before_seq" : "next_after_seq";
  const char* next_header = q.newest_first ? "X-Next-Before-Seq" : "X-Next-After-Seq";

  if (format == "csv") {
    http::response res;
    res.status = 200;
    res.content_type = "text/csv; charset=utf-8";
    res.body = std::string(security::k_utf8_bom) + security::audit_csv_header();
    for (const auto& r : *records) res.body += security::audit_csv_row(r);
    res.set_header("Content-Disposition", "attachment; filename=\"audit-" + c.comp.id + ".csv\"");
    if (next) res.set_header(next_header, std::to_string(*next));
    return res;
  }
  auto out = json_object();
  auto arr = json_array();
  for (const auto& r : *records) append_item(arr.get(), record_json(r));
  add_item(out.get(), "records", std::move(arr));
  add_optional_int(out.get(), next_field, next);
  return json_answer(200, out);
}

}  // namespace

void register_audit_routes(api_service::impl& m, http::router& r, const std::string& base) {
  r.add("GET", base + "/audit", m.guarded("audit.read", "audit.read", bind_route(m, read_audit)));
}

}  // namespace aterm::cloud::api
