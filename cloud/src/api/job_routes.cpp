// Fleet jobs (docs/http-api.md, "Fleet jobs"): POST /jobs, GET /jobs, GET /jobs/{id},
// GET /jobs/{id}/devices, POST /jobs/{id}/cancel. A job's op and args are checked by the one
// command catalogue (tags.set, the cloud's own op, by the tag rule); its target is resolved
// inside the caller's company alone; the scheduler releases its commands (store::release_jobs).
// A create and a cancel are one access-log record each, however many routers they touch.
#include <algorithm>
#include <charconv>

#include "api_internal.h"
#include "aterm/cloud/limits.h"
#include "aterm/common/protocol.h"

namespace aterm::cloud::api {

namespace {

// Without a deadline in the request a job stays open an hour for routers to come online.
constexpr std::int64_t k_default_job_deadline_s = 3600;
constexpr std::int64_t k_max_rollout_value = 1000000;

std::optional<std::int64_t> positive_param(const http::request& req, const char* name) {
  const auto& s = req.param(name);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

http::response bad_job(std::string message) {
  return http::error_response(400, "bad_job", message);
}

// A non-negative integer member of `o` no larger than `max`; nullopt when absent.
std::variant<std::optional<std::int64_t>, http::response> int_member(const cJSON* o,
                                                                     const char* key,
                                                                     std::int64_t min,
                                                                     std::int64_t max) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (v == nullptr || cJSON_IsNull(v)) return std::optional<std::int64_t>{};
  if (!cJSON_IsNumber(v) || !common::json_is_integer(v) ||
      v->valuedouble < static_cast<double>(min) || v->valuedouble > static_cast<double>(max)) {
    return bad_job(std::string(key) + " must be an integer " + std::to_string(min) + ".." +
                   std::to_string(max));
  }
  return std::optional<std::int64_t>{static_cast<std::int64_t>(v->valuedouble)};
}

std::optional<http::response> only_members(const cJSON* o,
                                           std::initializer_list<std::string_view> allowed,
                                           std::string_view what) {
  for (const cJSON* item = o->child; item != nullptr; item = item->next) {
    std::string_view k = item->string;
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      return bad_job("unknown field \"" + std::string(k) + "\" in " + std::string(what));
    }
  }
  return std::nullopt;
}

std::variant<job_rollout, http::response> rollout_of(const cJSON* o) {
  job_rollout r;
  if (o == nullptr) return r;
  if (!cJSON_IsObject(o)) return bad_job("rollout must be an object");
  if (auto bad = only_members(
          o, {"per_minute", "max_in_flight", "abort_if_failed_pct", "abort_min_devices"},
          "rollout")) {
    return std::move(*bad);
  }
  struct field {
    const char* key;
    std::int64_t min, max;
  };
  std::optional<std::int64_t> values[4];
  const field fields[4] = {{"per_minute", 0, k_max_rollout_value},
                           {"max_in_flight", 0, k_max_rollout_value},
                           {"abort_if_failed_pct", 1, 100},
                           {"abort_min_devices", 1, k_max_rollout_value}};
  for (std::size_t i = 0; i < 4; ++i) {
    auto v = int_member(o, fields[i].key, fields[i].min, fields[i].max);
    if (auto* bad = std::get_if<http::response>(&v)) return std::move(*bad);
    values[i] = std::get<std::optional<std::int64_t>>(v);
  }
  r.per_minute = values[0].value_or(0);
  r.max_in_flight = values[1].value_or(0);
  r.abort_if_failed_pct = values[2];
  r.abort_min_devices = values[3].value_or(1);
  return r;
}

}  // namespace

common::json_ptr job_json(const fleet_job& j) {
  const auto& r = j.rollout;
  const auto& n = j.counts;
  return json_row({{"id", j.id},
                   {"op", j.op},
                   {"args", json_text{j.args_json}},
                   {"target", json_text{j.target_json}},
                   {"rollout", json_row({{"per_minute", r.per_minute},
                                         {"max_in_flight", r.max_in_flight},
                                         {"abort_if_failed_pct", r.abort_if_failed_pct},
                                         {"abort_min_devices", r.abort_min_devices}})},
                   {"deadline_s", j.deadline_s},
                   {"state", to_string(j.state)},
                   {"reason", j.reason},
                   {"created_by", j.created_by},
                   {"created_at_s", j.created_at_s},
                   {"finished_at_s", j.finished_at_s},
                   {"counts", json_row({{"queued", n.queued},
                                        {"sent", n.sent},
                                        {"succeeded", n.succeeded},
                                        {"failed", n.failed},
                                        {"timed_out", n.timed_out},
                                        {"cancelled", n.cancelled},
                                        {"total", n.total()}})}});
}

namespace {

class job_routes {
 public:
  explicit job_routes(api_service::impl& m) : m_(m) {}

  http::response create(http::request& req, const caller& c, op_audit& a) {
    if (!c.has("device.command")) {
      return http::error_response(403, "forbidden", "permission device.command required");
    }
    auto body = object_body(req);
    if (auto* bad = std::get_if<http::response>(&body)) return std::move(*bad);
    const cJSON* o = std::get<common::json_ptr>(body).get();
    if (auto bad = only_members(o, {"op", "args", "target", "rollout", "deadline"}, "the job")) {
      return std::move(*bad);
    }
    const cJSON* op = cJSON_GetObjectItemCaseSensitive(o, "op");
    if (!cJSON_IsString(op)) return bad_job("op is required");
    const cJSON* args = cJSON_GetObjectItemCaseSensitive(o, "args");
    new_job job;
    if (std::string_view(op->valuestring) == k_tags_set_op) {
      // The cloud's own op: it never reaches a router, so the catalogue does not list it.
      if (!cJSON_IsObject(args)) return bad_job("args must be {\"tags\": [...]}");
      if (auto bad = only_members(args, {"tags"}, "args")) return std::move(*bad);
      const cJSON* tags = cJSON_GetObjectItemCaseSensitive(args, "tags");
      if (!cJSON_IsArray(tags)) return bad_job("args must be {\"tags\": [...]}");
      auto read = read_tags(tags);
      if (auto* bad = std::get_if<http::response>(&read)) return std::move(*bad);
      job.op = std::string(k_tags_set_op);
      job.args_json = common::print_json(args);
    } else {
      auto valid = validate_command(op->valuestring, args);
      if (!valid.ok()) return http::error_response(400, "bad_command", valid.error().message());
      job.op = valid->op;
      job.args_json = valid->args_json;
    }
    auto rollout = rollout_of(cJSON_GetObjectItemCaseSensitive(o, "rollout"));
    if (auto* bad = std::get_if<http::response>(&rollout)) return std::move(*bad);
    job.rollout = std::get<job_rollout>(rollout);
    auto deadline = int_member(o, "deadline", 1, limits::k_max_job_deadline_s);
    if (auto* bad = std::get_if<http::response>(&deadline)) return std::move(*bad);
    job.deadline_s = m_.now_s() + std::get<std::optional<std::int64_t>>(deadline).value_or(
                                      k_default_job_deadline_s);
    job.created_by = c.acct.login_id;

    if (auto bad = target_of(cJSON_GetObjectItemCaseSensitive(o, "target"), c, job)) {
      return std::move(*bad);
    }
    auto created = m_.ctx.db.create_job(c.comp.id, job);
    if (!created.ok()) {
      if (created.error().code() == k_invalid) return bad_job(created.error().message());
      return m_.store_error(created.error(), "create_job");
    }
    a.target = "job:" + std::to_string(created->id);
    // Only the catalogue's op reaches the access log, and how many routers: never their ids.
    a.detail = "op=" + job.op + " devices=" + std::to_string(created->counts.total());
    return json_answer(201, job_json(*created));
  }

  http::response list(http::request& req, const caller& c, op_audit&) {
    std::size_t limit = 50;
    if (auto v = req.query_value("limit"); v && !v->empty()) {
      std::int64_t n = 0;
      auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
      if (ec != std::errc() || p != v->data() + v->size() || n < 1 ||
          n > static_cast<std::int64_t>(limits::k_max_jobs_listed)) {
        return out_of_range("limit", 1, static_cast<std::int64_t>(limits::k_max_jobs_listed));
      }
      limit = static_cast<std::size_t>(n);
    }
    auto jobs = m_.ctx.db.list_jobs(c.comp.id, limit);
    if (!jobs.ok()) return m_.store_error(jobs.error(), "list_jobs");
    auto arr = json_array();
    for (const auto& j : *jobs) append_item(arr.get(), job_json(j));
    auto out = json_object();
    add_item(out.get(), "jobs", std::move(arr));
    return json_answer(200, out);
  }

  http::response get(http::request& req, const caller& c, op_audit&) {
    auto id = positive_param(req, "id");
    if (!id) return http::error_response(404, "not_found", "no such job");
    auto job = m_.ctx.db.get_job(c.comp.id, *id);
    if (!job.ok()) return m_.store_error(job.error(), "get_job");
    return json_answer(200, job_json(*job));
  }

  http::response devices(http::request& req, const caller& c, op_audit&) {
    auto id = positive_param(req, "id");
    if (!id) return http::error_response(404, "not_found", "no such job");
    job_device_query q;
    if (auto s = req.query_value("status"); s && !s->empty()) {
      q.status = parse_job_device_status(*s);
      if (!q.status) {
        return invalid_value(
            "status", "status must be queued, sent, succeeded, failed, timed_out or cancelled");
      }
    }
    if (auto bad = parse_page([&](std::string_view name) { return req.query_value(name); }, q.limit,
                              q.cursor)) {
      return std::move(*bad);
    }
    auto page = m_.ctx.db.list_job_devices(c.comp.id, *id, q);
    if (!page.ok()) return m_.store_error(page.error(), "list_job_devices");
    auto arr = json_array();
    for (const auto& d : page->devices) {
      append_item(arr.get(), json_row({{"device_id", d.device_id},
                                       {"status", to_string(d.status)},
                                       json_field::text_or_null("command_id", d.command_id),
                                       {"released_at_ms", d.released_at_ms},
                                       json_field::text_or_null("error", d.error)}));
    }
    auto out = json_object();
    add_item(out.get(), "devices", std::move(arr));
    if (page->next_cursor.empty()) {
      cJSON_AddItemToObject(out.get(), "next_cursor", cJSON_CreateNull());
    } else {
      add_string(out.get(), "next_cursor", page->next_cursor);
    }
    return json_answer(200, out);
  }

  http::response cancel(http::request& req, const caller& c, op_audit& a) {
    if (!c.has("device.command")) {
      return http::error_response(403, "forbidden", "permission device.command required");
    }
    auto id = positive_param(req, "id");
    if (!id) return http::error_response(404, "not_found", "no such job");
    a.target = "job:" + std::to_string(*id);
    auto job = m_.ctx.db.cancel_job(c.comp.id, *id);
    if (!job.ok()) {
      if (job.error().code() == k_conflict) {
        return http::error_response(409, "job_ended", "the job has already ended");
      }
      return m_.store_error(job.error(), "cancel_job");
    }
    a.detail = "cancelled=" + std::to_string(job->counts.cancelled);
    return json_answer(200, job_json(*job));
  }

 private:
  // Fills job.target and job.target_json from the request's target, inside the caller's
  // company: a query runs the device list's own filter (store::list_devices) page by page.
  std::optional<http::response> target_of(const cJSON* t, const caller& c, new_job& job) {
    if (!cJSON_IsObject(t) || t->child == nullptr || t->child->next != nullptr) {
      return bad_job("target must name one of device_ids, destination, tag, query");
    }
    std::string_view kind = t->child->string;
    const cJSON* v = t->child;
    if (kind == "device_ids") {
      if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0 ||
          static_cast<std::size_t>(cJSON_GetArraySize(v)) > limits::k_max_job_device_ids) {
        return bad_job("device_ids must be an array of 1.." +
                       std::to_string(limits::k_max_job_device_ids) + " ids");
      }
      for (const cJSON* d = v->child; d != nullptr; d = d->next) {
        if (!cJSON_IsString(d) || !common::protocol::valid_device_id(d->valuestring)) {
          return http::error_response(404, "not_found",
                                      "a router of the target is not the company's");
        }
        job.target.device_ids.emplace_back(d->valuestring);
      }
    } else if (kind == "destination") {
      if (!cJSON_IsNumber(v) || !common::json_is_integer(v) || v->valuedouble < 1) {
        return bad_job("destination must be a destination id");
      }
      job.target.destination_id = static_cast<std::int64_t>(v->valuedouble);
    } else if (kind == "tag") {
      if (!cJSON_IsString(v)) return bad_job("tag must be a string");
      job.target.tag = v->valuestring;
    } else if (kind == "query") {
      if (!cJSON_IsObject(v)) return bad_job("query must be an object of device-list filters");
      for (const cJSON* f = v->child; f != nullptr; f = f->next) {
        if (!cJSON_IsString(f)) return bad_job("query holds device-list filters as strings");
      }
      // The names the parser reads: any other name (a misspelt filter, limit, cursor) is
      // refused rather than ignored, which would widen the target.
      std::vector<std::string> filters;
      auto parsed = parse_device_filter([&](std::string_view name) -> std::optional<std::string> {
        filters.emplace_back(name);
        const cJSON* f = cJSON_GetObjectItemCaseSensitive(v, filters.back().c_str());
        if (!cJSON_IsString(f)) return std::nullopt;
        return std::string(f->valuestring);
      });
      if (auto* bad = std::get_if<http::response>(&parsed)) return std::move(*bad);
      for (const cJSON* f = v->child; f != nullptr; f = f->next) {
        if (std::find(filters.begin(), filters.end(), f->string) == filters.end()) {
          return bad_job("query holds device-list filters only");
        }
      }
      auto q = std::get<device_query>(parsed);
      q.limit = limits::k_max_page;
      do {
        auto page = m_.ctx.db.list_devices(c.comp.id, q);
        if (!page.ok()) return m_.store_error(page.error(), "list_devices");
        for (const auto& d : page->devices) job.target.device_ids.push_back(d.id);
        if (job.target.device_ids.size() > limits::k_max_job_devices) {
          return bad_job("the query matches more than " +
                         std::to_string(limits::k_max_job_devices) + " routers");
        }
        q.cursor = page->next_cursor;
      } while (!q.cursor.empty());
      if (job.target.device_ids.empty()) return bad_job("the target matches no router");
    } else {
      return bad_job("target must name one of device_ids, destination, tag, query");
    }
    job.target_json = common::print_json(t);
    return std::nullopt;
  }

  api_service::impl& m_;
};

}  // namespace

void register_job_routes(api_service::impl& m, http::router& r, const std::string& base) {
  auto routes = std::make_shared<job_routes>(m);
  using method = http::response (job_routes::*)(http::request&, const caller&, op_audit&);
  auto bind = [routes](method fn) {
    return [routes, fn](http::request& req, const caller& c, op_audit& a) {
      return ((*routes).*fn)(req, c, a);
    };
  };
  r.add("POST", base + "/jobs", m.guarded("job.create", "job.manage", bind(&job_routes::create)));
  r.add("GET", base + "/jobs", m.guarded("job.list", "device.read", bind(&job_routes::list)));
  r.add("GET", base + "/jobs/{id}", m.guarded("job.read", "device.read", bind(&job_routes::get)));
  r.add("GET", base + "/jobs/{id}/devices",
        m.guarded("job.devices", "device.read", bind(&job_routes::devices)));
  r.add("POST", base + "/jobs/{id}/cancel",
        m.guarded("job.cancel", "job.manage", bind(&job_routes::cancel)));
}

}  // namespace aterm::cloud::api
