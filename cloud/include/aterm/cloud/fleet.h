// Fleet jobs and device tags (docs/http-api.md, "Fleet jobs" and "Tags"): one command for many
// routers of a company, released through the durable command outbox at a rollout rate, and the
// free-form labels a company gives its routers to pick them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/cloud/model.h"
#include "aterm/common/status.h"

namespace aterm::cloud {

// ---- tags ----

// The op of a job that replaces the tags of its routers. It runs in the cloud alone: no router
// ever receives it.
inline constexpr std::string_view k_tags_set_op = "tags.set";

// The tag rule, the same for every path that writes tags (PUT /devices/{id}/tags, the CSV
// upload, tags.set jobs): 1..limits::k_max_tag_bytes of UTF-8 without control characters,
// commas, semicolons (the CSV column's separator) or surrounding spaces, not starting with a
// character a spreadsheet takes for a formula (= + - @), at most limits::k_max_tags_per_device
// per router, no duplicates. A failed status (k_invalid) names the first bad tag's position.
common::status check_tags(const std::vector<std::string>& tags);

// ---- fleet jobs ----

enum class job_state { running, completed, cancelled, aborted };
inline constexpr model_detail::enum_names<job_state, 4> k_job_state_names = {{
    {job_state::running, "running"},
    {job_state::completed, "completed"},
    {job_state::cancelled, "cancelled"},
    {job_state::aborted, "aborted"},
}};
constexpr std::string_view to_string(job_state s) {
  return model_detail::name_of(k_job_state_names, s);
}
constexpr std::optional<job_state> parse_job_state(std::string_view s) {
  return model_detail::value_of(k_job_state_names, s);
}

// Where one router of a job is: queued (not yet released to the outbox: waiting for the rate,
// max_in_flight or the router to come online), sent (its command is in the outbox or on the
// router), or a final status of its command; cancelled by a cancel, an abort or a router that
// left the company.
enum class job_device_status { queued, sent, succeeded, failed, timed_out, cancelled };
inline constexpr model_detail::enum_names<job_device_status, 6> k_job_device_status_names = {{
    {job_device_status::queued, "queued"},
    {job_device_status::sent, "sent"},
    {job_device_status::succeeded, "succeeded"},
    {job_device_status::failed, "failed"},
    {job_device_status::timed_out, "timed_out"},
    {job_device_status::cancelled, "cancelled"},
}};
constexpr std::string_view to_string(job_device_status s) {
  return model_detail::name_of(k_job_device_status_names, s);
}
constexpr std::optional<job_device_status> parse_job_device_status(std::string_view s) {
  return model_detail::value_of(k_job_device_status_names, s);
}

struct job_rollout {
  // Commands released per scheduler minute (fleet_jobs.minute_s); 0: no limit.
  std::int64_t per_minute = 0;
  // Released commands without a final result at most; 0: no limit.
  std::int64_t max_in_flight = 0;
  // The job aborts once this percentage of its finished routers failed or timed out, counted
  // from abort_min_devices finished routers on; nullopt: never.
  std::optional<std::int64_t> abort_if_failed_pct;
  std::int64_t abort_min_devices = 1;
};

// Routers of the job by status.
struct job_counts {
  std::int64_t queued = 0;
  std::int64_t sent = 0;
  std::int64_t succeeded = 0;
  std::int64_t failed = 0;
  std::int64_t timed_out = 0;
  std::int64_t cancelled = 0;
  std::int64_t total() const { return queued + sent + succeeded + failed + timed_out + cancelled; }
};

struct fleet_job {
  std::int64_t id = 0;
  std::string company_id;
  std::string op;
  std::string args_json = "{}";
  std::string target_json = "{}";  // the request's target, as validated
  job_rollout rollout;
  std::int64_t deadline_s = 0;
  job_state state = job_state::running;
  std::string reason;  // why it ended when not completed, e.g. "failed 3 of 4 (75%)"
  std::string created_by;
  std::int64_t created_at_s = 0;
  std::optional<std::int64_t> finished_at_s;
  job_counts counts;  // filled by reads
};

// Which routers of the company a new job takes. Exactly one of the three is set; a query target
// is resolved by the caller with store::list_devices (the device list's own filter) into
// device_ids.
struct job_target {
  std::vector<std::string> device_ids;
  std::optional<std::int64_t> destination_id;
  std::optional<std::string> tag;
};

struct new_job {
  std::string op;
  std::string args_json = "{}";  // validated by the caller (the command catalogue, check_tags)
  std::string target_json = "{}";
  job_target target;
  job_rollout rollout;
  std::int64_t deadline_s = 0;
  std::string created_by;
};

struct job_device {
  std::string device_id;
  job_device_status status = job_device_status::queued;
  std::string command_id;  // "" until released
  std::optional<std::int64_t> released_at_ms;
  std::string error;  // the command's error text, when it has one
};

struct job_device_query {
  std::optional<job_device_status> status;
  std::size_t limit = 50;  // clamped to limits::k_max_page
  std::string cursor;      // next_cursor of the previous page (a device id); "" = first page
};

struct job_device_page {
  std::vector<job_device> devices;  // ordered by device id
  std::string next_cursor;          // "" on the last page
};

// A company's running jobs at a glance (the fleet summary of the dashboard's first page).
struct running_jobs {
  std::int64_t count = 0;       // every running job of the company
  std::vector<fleet_job> jobs;  // the newest of them, with counts
};

// What one scheduler tick did over every running job.
struct job_tick {
  std::int64_t released = 0;           // commands committed to the outbox
  std::vector<std::int64_t> finished;  // jobs that ended (completed or aborted)
};

}  // namespace aterm::cloud
