// What `serve` runs of the jobs: the lifecycle sweep (lifecycle.h) every jobs.interval_s, and
// the technician-login deletion (audited), the mail outbox worker (mail.h) and the webhook outbox
// worker (alerts/webhook.h) every jobs.tick_ms, and the alert evaluator every alerts.interval_ms.
// All run on the scheduler's thread, on the jobs' lifecycle port opened here on the store's
// connection pool.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "aterm/common/clock.h"
#include "aterm/common/config.h"
#include "aterm/common/status.h"

namespace aterm::cloud {
class store;  // store.h
}  // namespace aterm::cloud

namespace aterm::cloud::jobs {

struct periodic_task {
  std::string name;
  // How often; zero: the lifecycle interval (jobs.interval_s) of the scheduler.
  std::chrono::milliseconds period{0};
  std::function<void()> fn;
};

// The tasks for `serve`, on the daemon's store `db` (which must outlive them). Error when the
// configuration is bad or the port cannot be opened.
common::result<std::vector<periodic_task>> daemon_tasks(const common::config& config, store& db,
                                                        const common::clock& clock);

}  // namespace aterm::cloud::jobs
