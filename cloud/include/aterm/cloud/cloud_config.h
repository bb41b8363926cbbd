// The configuration of aterm-cloud (DESIGN.md section 7): one JSON file, nested or dotted keys,
// every key declared with its type and default; an unknown key or a wrong type is an error
// naming the file and the key. Defaults are the service document's numbers (section 5), so
// tests shorten them through the file. Immutable after loading; any thread may read it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "aterm/cloud/store.h"
#include "aterm/common/config.h"
#include "aterm/common/status.h"

namespace aterm::cloud {

// Every key: db; store.*; http.* (the server's, cloud/http/server.h); mqtt.*; security.* (the
// account rules', cloud/security/settings.h); mail.*; backup.*; retention.*; jobs.*.
common::config_schema cloud_config_schema();

// load_config with cloud_config_schema(); relative file paths in the values stay as written
// (resolved against the working directory).
common::result<common::config> load_cloud_config(const std::string& path);

// Where the store lives and how it is reached: db (a file path or a postgresql:// URI) and
// store.pool_size. The audit key and the device-event settings are the caller's to add.
store_options store_options_from(const common::config& c);

// Periodic work of `serve`.
struct scheduler_settings {
  // Command deadlines checked (expire_overdue) and sessions purged this often. Default: 1 s.
  std::chrono::milliseconds tick{1000};  // jobs.tick_ms
  // The lifecycle sweep runs this often. Default: 1 h.
  std::chrono::seconds sweep_interval{3600};  // jobs.interval_s
  // Fleet jobs release their commands this often (store::release_jobs). Default: 1 s.
  std::chrono::milliseconds fleet_tick{1000};  // fleet_jobs.tick_ms
  // The minute of a fleet job's rollout per_minute. Default: 60 s.
  std::chrono::seconds fleet_minute{60};  // fleet_jobs.minute_s
};
scheduler_settings scheduler_settings_from(const common::config& c);

}  // namespace aterm::cloud
