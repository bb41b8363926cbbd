// Fleet jobs and tags on the store's database (job_store.h). A job is a row of fleet_jobs and
// one row per router in fleet_job_devices (state pending, released, succeeded, cancelled or
// timed_out); a released row names the command the tick committed to the outbox, and its status
// is the command's. The tick runs in one write transaction, which excludes every other write
// on the database (sql.h), so two instances never release one router twice and a killed daemon
// either committed a release (the outbox publishes it) or did not (the next tick does).
#include "job_store.h"

#include <algorithm>
#include <set>

#include "aterm/cloud/limits.h"
#include "aterm/common/json.h"
#include "rows.h"
#include "sql/sql.h"

namespace aterm::cloud {

namespace store_sql {

namespace {

status fail(std::string_view code, std::string message) {
  return status::error(std::string(code), std::move(message));
}

// A router's status in its job, from its row and its command (docs/http-api.md, "Fleet jobs").
// A released row whose command is gone (the router left and came back) counts as cancelled.
// The counters of fleet_job_counts follow the same rule (the schema's triggers, schema 16).
const std::string k_status_expr =
    "CASE WHEN j.state = 'pending' THEN 'queued' "
    "WHEN j.state <> 'released' THEN j.state "
    "WHEN c.status IS NULL THEN 'cancelled' "
    "WHEN c.status IN ('queued', 'sent') THEN 'sent' "
    "WHEN c.status = 'expired' THEN 'timed_out' "
    "ELSE c.status END";
const std::string k_job_device_from =
    "FROM fleet_job_devices j LEFT JOIN commands c ON c.id = j.command_id ";

const std::string k_job_cols =
    "SELECT id, company_id, op, args_json, target_json, per_minute, max_in_flight, abort_pct, "
    "abort_min, deadline_s, state, reason, created_by, created_at_s, finished_at_s "
    "FROM fleet_jobs ";

fleet_job read_job(const query& q) {
  fleet_job j;
  j.id = q.i64(0);
  j.company_id = q.text(1);
  j.op = q.text(2);
  j.args_json = q.text(3);
  j.target_json = q.text(4);
  j.rollout.per_minute = q.i64(5);
  j.rollout.max_in_flight = q.i64(6);
  j.rollout.abort_if_failed_pct = q.opt_i64(7);
  j.rollout.abort_min_devices = q.i64(8);
  j.deadline_s = q.i64(9);
  j.state = parse_job_state(q.text(10)).value_or(job_state::completed);
  j.reason = q.text(11);
  j.created_by = q.text(12);
  j.created_at_s = q.i64(13);
  j.finished_at_s = q.opt_i64(14);
  return j;
}

// The tags of a tags.set job's args ({"tags": [...]}), checked by the tag rule.
result<std::vector<std::string>> tags_of_args(const std::string& args_json) {
  auto parsed = common::parse_json(args_json);
  if (!parsed.ok()) return fail(k_invalid, "args must be {\"tags\": [...]}");
  const cJSON* arr = cJSON_GetObjectItemCaseSensitive(parsed->get(), "tags");
  if (!cJSON_IsArray(arr)) return fail(k_invalid, "args must be {\"tags\": [...]}");
  std::vector<std::string> tags;
  for (const cJSON* t = arr->child; t != nullptr; t = t->next) {
    if (!cJSON_IsString(t)) return fail(k_invalid, "every tag is a string");
    tags.emplace_back(t->valuestring);
  }
  if (auto s = check_tags(tags); !s.ok()) return s;
  std::sort(tags.begin(), tags.end());
  return tags;
}

}  // namespace

job_store::job_store(std::shared_ptr<sql::connection_pool> pool, const common::clock& clock)
    : job_tx_(std::move(pool), "store"), job_clock_(clock) {}

// ---- tags ----

void job_store::replace_tags_locked(const std::string& company_id, const std::string& device_id,
                                    const std::vector<std::string>& tags) {
  job_db_->prepare("DELETE FROM device_tags WHERE device_id = ?").bind(device_id).exec();
  for (const auto& t : tags) {
    job_db_->prepare("INSERT INTO device_tags(company_id, device_id, tag) VALUES(?, ?, ?)")
        .bind(company_id)
        .bind(device_id)
        .bind(t)
        .exec();
  }
}

result<std::vector<std::string>> job_store::set_device_tags(const std::string& company_id,
                                                            const std::string& device_id,
                                                            std::vector<std::string> tags) {
  if (auto s = check_tags(tags); !s.ok()) return s;
  std::sort(tags.begin(), tags.end());
  using answer = std::vector<std::string>;
  return job_tx_.write<answer>("set_device_tags", [&]() -> result<answer> {
    auto q = job_db_->prepare("SELECT 1 FROM devices WHERE id = ? AND company_id = ?");
    q.bind(device_id).bind(company_id);
    if (!q.step()) return fail(k_not_found, "no such device");
    replace_tags_locked(company_id, device_id, tags);
    return tags;
  });
}

result<std::map<std::string, std::vector<std::string>>> job_store::device_tags(
    const std::string& company_id, std::span<const std::string> device_ids) {
  using answer = std::map<std::string, std::vector<std::string>>;
  return job_tx_.read<answer>("device_tags", [&]() -> result<answer> {
    answer out;
    if (device_ids.empty()) return out;
    // One statement for any number of ids, each id a seek in the primary key (device_id, tag):
    // a text per count (chunks of 1..100 "?") filled the connection's statement cache
    // (limits::k_max_cached_statements), and on PostgreSQL each chunk was planned again.
    // "|| ''" keeps the planner off device_tags_company_tag, which would walk every tag of the
    // company for each id (SQLite takes it to read the tags already ordered).
    std::string ids;
    std::string sql =
        "SELECT device_id, tag FROM device_tags WHERE company_id || '' = ? AND device_id ";
    if (job_db_->kind() == sql::dialect::postgres) {
      // An array literal, each element quoted.
      ids = "{";
      for (const auto& id : device_ids) {
        if (ids.size() > 1) ids += ',';
        ids += '"';
        for (char c : id) {
          if (c == '"' || c == '\\') ids += '\\';
          ids += c;
        }
        ids += '"';
      }
      ids += '}';
      sql += "= ANY(CAST(? AS text[]))";
    } else {
      common::json_ptr array(cJSON_CreateArray());
      for (const auto& id : device_ids) {
        cJSON_AddItemToArray(array.get(), cJSON_CreateString(id.c_str()));
      }
      ids = common::print_json(array.get());
      sql += "IN (SELECT value FROM json_each(?))";
    }
    auto q = job_db_->prepare(sql + " ORDER BY device_id, tag");
    q.bind(company_id).bind(ids);
    while (q.step()) out[q.text(0)].push_back(q.text(1));
    return out;
  });
}

// ---- jobs ----

job_counts job_store::counts_locked(std::int64_t job_id) {
  // Kept by the schema's triggers in every transaction that changes a row or its command
  // (migrations, schema 16): a few rows per job, whatever its size.
  job_counts n;
  auto q = job_db_->prepare("SELECT status, n FROM fleet_job_counts WHERE job_id = ?");
  q.bind(job_id);
  while (q.step()) {
    auto status = parse_job_device_status(q.text(0)).value_or(job_device_status::failed);
    std::int64_t count = q.i64(1);
    switch (status) {
      case job_device_status::queued:
        n.queued += count;
        break;
      case job_device_status::sent:
        n.sent += count;
        break;
      case job_device_status::succeeded:
        n.succeeded += count;
        break;
      case job_device_status::failed:
        n.failed += count;
        break;
      case job_device_status::timed_out:
        n.timed_out += count;
        break;
      case job_device_status::cancelled:
        n.cancelled += count;
        break;
    }
  }
  return n;
}

result<fleet_job> job_store::job_locked(const std::string& company_id, std::int64_t job_id) {
  auto q = job_db_->prepare(k_job_cols + "WHERE id = ? AND company_id = ?");
  q.bind(job_id).bind(company_id);
  if (!q.step()) return fail(k_not_found, "no such job");
  auto job = read_job(q);
  job.counts = counts_locked(job.id);
  return job;
}

result<fleet_job> job_store::create_job(const std::string& company_id, const new_job& job) {
  const bool tags_job = job.op == k_tags_set_op;
  std::vector<std::string> tags;
  if (tags_job) {
    auto t = tags_of_args(job.args_json);
    if (!t.ok()) return t.error();
    tags = std::move(t).value();
  }
  const auto& target = job.target;
  const int kinds =
      (target.device_ids.empty() ? 0 : 1) + (target.destination_id ? 1 : 0) + (target.tag ? 1 : 0);
  if (kinds != 1) return fail(k_invalid, "the target names one of device_ids, destination, tag");
  if (job.op.empty()) return fail(k_invalid, "op is required");
  return job_tx_.write<fleet_job>("create_job", [&]() -> result<fleet_job> {
    const std::int64_t now_s = job_clock_.now_s();
    auto ins = job_db_->prepare(
        "INSERT INTO fleet_jobs(company_id, op, args_json, target_json, per_minute, "
        "max_in_flight, abort_pct, abort_min, deadline_s, state, created_by, created_at_s) "
        "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?) RETURNING id");
    ins.bind(company_id)
        .bind(job.op)
        .bind(job.args_json)
        .bind(job.target_json)
        .bind(job.rollout.per_minute)
        .bind(job.rollout.max_in_flight)
        .bind(job.rollout.abort_if_failed_pct)
        .bind(job.rollout.abort_min_devices)
        .bind(job.deadline_s)
        .bind(job.created_by)
        .bind(now_s);
    if (!ins.step()) return fail(k_store, "create_job: no id");
    const std::int64_t id = ins.i64(0);
    std::int64_t added = 0;
    if (!target.device_ids.empty()) {
      std::set<std::string> unique(target.device_ids.begin(), target.device_ids.end());
      for (const auto& d : unique) {
        // Only a router of this company joins: another company's id is refused like a
        // missing one, naming none.
        int n = job_db_
                    ->prepare(
                        "INSERT INTO fleet_job_devices(job_id, device_id, company_id, state) "
                        "SELECT ?, id, company_id, 'pending' FROM devices "
                        "WHERE id = ? AND company_id = ?")
                    .bind(id)
                    .bind(d)
                    .bind(company_id)
                    .exec();
        if (n == 0) return fail(k_not_found, "a router of the target is not the company's");
        added += n;
      }
    } else if (target.destination_id) {
      auto d = job_db_->prepare("SELECT 1 FROM destinations WHERE id = ? AND company_id = ?");
      d.bind(*target.destination_id).bind(company_id);
      if (!d.step()) return fail(k_not_found, "no such destination");
      added = job_db_
                  ->prepare(
                      "INSERT INTO fleet_job_devices(job_id, device_id, company_id, state) "
                      "SELECT ?, id, company_id, 'pending' FROM devices "
                      "WHERE company_id = ? AND destination_id = ?")
                  .bind(id)
                  .bind(company_id)
                  .bind(*target.destination_id)
                  .exec();
    } else {
      added = job_db_
                  ->prepare(
                      "INSERT INTO fleet_job_devices(job_id, device_id, company_id, state) "
                      "SELECT ?, g.device_id, g.company_id, 'pending' FROM device_tags g "
                      "JOIN devices d ON d.id = g.device_id AND d.company_id = g.company_id "
                      "WHERE g.company_id = ? AND g.tag = ?")
                  .bind(id)
                  .bind(company_id)
                  .bind(*target.tag)
                  .exec();
    }
    if (added == 0) return fail(k_invalid, "the target matches no router");
    if (tags_job) {
      std::vector<std::string> devices;
      auto q = job_db_->prepare("SELECT device_id FROM fleet_job_devices WHERE job_id = ?");
      q.bind(id);
      while (q.step()) devices.push_back(q.text(0));
      for (const auto& d : devices) replace_tags_locked(company_id, d, tags);
      job_db_->prepare("UPDATE fleet_job_devices SET state = 'succeeded' WHERE job_id = ?")
          .bind(id)
          .exec();
      finish_locked(id, job_state::completed, "", now_s);
    }
    return job_locked(company_id, id);
  });
}

result<std::vector<fleet_job>> job_store::list_jobs(const std::string& company_id,
                                                    std::size_t limit) {
  limit = std::clamp<std::size_t>(limit, 1, limits::k_max_jobs_listed);
  using answer = std::vector<fleet_job>;
  return job_tx_.read<answer>("list_jobs", [&]() -> result<answer> {
    answer out;
    auto q = job_db_->prepare(k_job_cols + "WHERE company_id = ? ORDER BY id DESC LIMIT ?");
    q.bind(company_id).bind(limit);
    while (q.step()) out.push_back(read_job(q));
    for (auto& j : out) j.counts = counts_locked(j.id);
    return out;
  });
}

result<fleet_job> job_store::get_job(const std::string& company_id, std::int64_t job_id) {
  return job_tx_.read<fleet_job>("get_job", [&] { return job_locked(company_id, job_id); });
}

result<running_jobs> job_store::summarize_running_jobs(const std::string& company_id,
                                                       std::size_t limit) {
  limit = std::clamp<std::size_t>(limit, 1, limits::k_max_summary_jobs);
  return job_tx_.read<running_jobs>("summarize_running_jobs", [&]() -> result<running_jobs> {
    running_jobs out;
    // fleet_jobs_company (company_id, id): a company's jobs, newest first; few are running.
    auto n = job_db_->prepare(
        "SELECT count(*) FROM fleet_jobs WHERE company_id = ? AND state = 'running'");
    n.bind(company_id);
    if (n.step()) out.count = n.i64(0);
    while (n.step()) {
    }
    auto q = job_db_->prepare(
        k_job_cols + "WHERE company_id = ? AND state = 'running' ORDER BY id DESC LIMIT ?");
    q.bind(company_id).bind(limit);
    while (q.step()) out.jobs.push_back(read_job(q));
    for (auto& j : out.jobs) j.counts = counts_locked(j.id);
    return out;
  });
}

result<job_device_page> job_store::list_job_devices(const std::string& company_id,
                                                    std::int64_t job_id,
                                                    const job_device_query& query) {
  std::size_t limit = std::clamp<std::size_t>(query.limit, 1, limits::k_max_page);
  return job_tx_.read<job_device_page>("list_job_devices", [&]() -> result<job_device_page> {
    auto job = job_db_->prepare("SELECT 1 FROM fleet_jobs WHERE id = ? AND company_id = ?");
    job.bind(job_id).bind(company_id);
    if (!job.step()) return fail(k_not_found, "no such job");
    std::string sql = "SELECT j.device_id, " + k_status_expr +
                      ", j.command_id, j.released_at_ms, c.error " + k_job_device_from +
                      "WHERE j.job_id = ? AND j.device_id > ? ";
    if (query.status) sql += "AND " + k_status_expr + " = ? ";
    sql += "ORDER BY j.device_id LIMIT ?";
    auto q = job_db_->prepare(sql);
    q.bind(job_id).bind(query.cursor);
    if (query.status) q.bind(to_string(*query.status));
    q.bind(limit + 1);
    job_device_page page;
    while (q.step()) {
      job_device d;
      d.device_id = q.text(0);
      d.status = parse_job_device_status(q.text(1)).value_or(job_device_status::failed);
      d.command_id = q.is_null(2) ? std::string() : q.text(2);
      d.released_at_ms = q.opt_i64(3);
      d.error = q.is_null(4) ? std::string() : q.text(4);
      page.devices.push_back(std::move(d));
    }
    if (page.devices.size() > limit) {
      page.devices.pop_back();
      page.next_cursor = page.devices.back().device_id;
    }
    return page;
  });
}

void job_store::cancel_unsent_locked(std::int64_t job_id, std::int64_t now_s,
                                     const std::string& why) {
  // A queued command is one no instance claimed: the outbox never publishes it now.
  job_db_
      ->prepare(
          "UPDATE fleet_job_devices SET state = 'cancelled' WHERE job_id = ? AND "
          "state = 'released' AND command_id IN (SELECT id FROM commands WHERE status = 'queued')")
      .bind(job_id)
      .exec();
  job_db_
      ->prepare(
          "UPDATE commands SET status = 'expired', error = ?, finished_at_s = ? WHERE "
          "status = 'queued' AND id IN (SELECT command_id FROM fleet_job_devices WHERE "
          "job_id = ? AND state = 'cancelled' AND command_id IS NOT NULL)")
      .bind(why)
      .bind(now_s)
      .bind(job_id)
      .exec();
  job_db_
      ->prepare(
          "UPDATE fleet_job_devices SET state = 'cancelled' WHERE job_id = ? AND state = 'pending'")
      .bind(job_id)
      .exec();
}

void job_store::finish_locked(std::int64_t job_id, job_state state, const std::string& reason,
                              std::int64_t now_s) {
  job_db_->prepare("UPDATE fleet_jobs SET state = ?, reason = ?, finished_at_s = ? WHERE id = ?")
      .bind(to_string(state))
      .bind(reason)
      .bind(now_s)
      .bind(job_id)
      .exec();
}

result<fleet_job> job_store::cancel_job(const std::string& company_id, std::int64_t job_id) {
  return job_tx_.write<fleet_job>("cancel_job", [&]() -> result<fleet_job> {
    auto job = job_locked(company_id, job_id);
    if (!job.ok()) return job.error();
    if (job->state != job_state::running) return fail(k_conflict, "the job has ended");
    const std::int64_t now_s = job_clock_.now_s();
    cancel_unsent_locked(job_id, now_s, "job cancelled");
    finish_locked(job_id, job_state::cancelled, "cancelled", now_s);
    return job_locked(company_id, job_id);
  });
}

bool job_store::tick_job_locked(const fleet_job& job, std::int64_t now_ms, std::int64_t minute_ms,
                                std::int64_t& budget, job_tick& out) {
  const std::int64_t now_s = now_ms / 1000;
  auto n = counts_locked(job.id);
  const std::int64_t finished = n.succeeded + n.failed + n.timed_out;
  const std::int64_t bad = n.failed + n.timed_out;
  if (const auto& pct = job.rollout.abort_if_failed_pct;
      pct && finished > 0 && finished >= job.rollout.abort_min_devices &&
      bad * 100 >= *pct * finished) {
    cancel_unsent_locked(job.id, now_s, "job aborted");
    finish_locked(job.id, job_state::aborted,
                  "failed " + std::to_string(bad) + " of " + std::to_string(finished) + " (" +
                      std::to_string(bad * 100 / finished) + "%)",
                  now_s);
    return true;
  }
  if (now_s >= job.deadline_s) {
    job_db_
        ->prepare(
            "UPDATE fleet_job_devices SET state = 'timed_out' WHERE job_id = ? AND "
            "state = 'pending'")
        .bind(job.id)
        .exec();
    n.timed_out += n.queued;
    n.queued = 0;
  }
  std::int64_t allowance = std::min(budget, n.queued);
  if (job.rollout.per_minute > 0) {
    auto q = job_db_->prepare(
        "SELECT count(*) FROM fleet_job_devices WHERE job_id = ? AND released_at_ms > ?");
    q.bind(job.id).bind(now_ms - minute_ms);
    q.step();
    allowance = std::min(allowance, job.rollout.per_minute - q.i64(0));
  }
  if (job.rollout.max_in_flight > 0) {
    allowance = std::min(allowance, job.rollout.max_in_flight - n.sent);
  }
  if (allowance > 0) {
    std::vector<std::string> devices;
    {
      // Only routers still of the job's company, and online: an offline one waits for its
      // connection while the job is open.
      auto q = job_db_->prepare(
          "SELECT j.device_id FROM fleet_job_devices j JOIN devices d ON d.id = j.device_id "
          "WHERE j.job_id = ? AND j.state = 'pending' AND d.company_id = ? AND "
          "d.presence = 'online' ORDER BY j.device_id LIMIT ?");
      q.bind(job.id).bind(job.company_id).bind(allowance);
      while (q.step()) devices.push_back(q.text(0));
    }
    for (const auto& d : devices) {
      new_command cmd{d, job.op, job.args_json, job.deadline_s, job.created_by};
      auto command_id = insert_queued_command(*job_db_, job.company_id, cmd, now_s);
      job_db_
          ->prepare(
              "UPDATE fleet_job_devices SET state = 'released', command_id = ?, "
              "released_at_ms = ? WHERE job_id = ? AND device_id = ?")
          .bind(command_id)
          .bind(now_ms)
          .bind(job.id)
          .bind(d)
          .exec();
    }
    const auto released = static_cast<std::int64_t>(devices.size());
    budget -= released;
    out.released += released;
    n.queued -= released;
    n.sent += released;
  }
  if (n.queued == 0 && n.sent == 0) {
    finish_locked(job.id, job_state::completed, "", now_s);
    return true;
  }
  return false;
}

result<job_tick> job_store::release_jobs(std::int64_t now_ms, std::int64_t minute_ms) {
  return job_tx_.write<job_tick>("release_jobs", [&]() -> result<job_tick> {
    job_tick out;
    std::vector<fleet_job> running;
    {
      auto q = job_db_->prepare(k_job_cols + "WHERE state = 'running' ORDER BY id");
      while (q.step()) running.push_back(read_job(q));
    }
    auto budget = static_cast<std::int64_t>(limits::k_max_job_release_per_tick);
    for (const auto& job : running) {
      if (tick_job_locked(job, now_ms, minute_ms, budget, out)) out.finished.push_back(job.id);
    }
    return out;
  });
}

}  // namespace store_sql
}  // namespace aterm::cloud
