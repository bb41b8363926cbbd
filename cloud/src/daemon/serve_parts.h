// The parts of `serve` that other pieces fill in, kept apart so serve.cpp stays the wiring:
// the /api/v1 routes and the lifecycle sweeps of the jobs.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aterm/cloud/http/metrics.h"
#include "aterm/cloud/http/router.h"
#include "aterm/cloud/store.h"
#include "aterm/common/clock.h"
#include "aterm/common/config.h"

namespace aterm::cloud {

// Whatever the routes need to outlive them (their context). Destroyed after the server stops.
struct api_handle {
  virtual ~api_handle() = default;
};

// Registers the /api/v1 routes on `r`. `notify_command(device_id)` tells the bridge that a
// command was committed. Returns the routes' state; the router refers into it. nullptr (logged)
// when the configured device.claim_key_file cannot be read.
std::unique_ptr<api_handle> attach_api(http::router& r, const common::config& config, store& db,
                                       common::clock& clock, http::metrics_registry& metrics,
                                       std::function<void(const std::string&)> notify_command);

struct sweep {
  std::string name;
  std::function<void()> fn;
  // How often; zero: every jobs.interval_s.
  std::chrono::milliseconds period{0};
};
// The lifecycle sweeps the scheduler runs every jobs.interval_s (and the mail outbox worker,
// every jobs.tick_ms).
std::vector<sweep> lifecycle_sweeps(const common::config& config, store& db,
                                    const common::clock& clock);

}  // namespace aterm::cloud
