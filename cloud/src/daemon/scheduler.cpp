#include "scheduler.h"

#include <algorithm>
#include <exception>

#include "aterm/common/log.h"

namespace aterm::cloud {

void scheduler::every(std::string name, std::chrono::milliseconds period, task t, run_scope scope) {
  entries_.push_back({std::move(name), period, std::move(t), scope, {}});
}

bool scheduler::runs_here(const entry& e) {
  if (e.scope == run_scope::each_instance || !take_lease_) return true;
  // Two periods: the holder's next run (one period after this one ended) always finds its own
  // lease, so no other instance slips in between two runs of a live holder.
  return take_lease_("job:" + e.name, 2 * e.period);
}

void scheduler::start() {
  auto now = clock_.mono();
  for (auto& e : entries_) e.next = now + e.period;
  thread_ = std::thread([this] { loop(); });
}

void scheduler::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void scheduler::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = clock_.mono();
    auto next = now + std::chrono::hours(24);
    for (auto& e : entries_) {
      if (e.next <= now) {
        lock.unlock();
        try {
          if (runs_here(e)) e.fn();
        } catch (const std::exception& ex) {
          // A task's bug must not end the periodic work of the others.
          common::log(common::log_level::error, "scheduler", "task failed",
                      {{"task", e.name}, {"error", ex.what()}});
        }
        lock.lock();
        if (stopping_) return;
        now = clock_.mono();
        e.next = now + e.period;
      }
      next = std::min(next, e.next);
    }
    // The wait is on the steady clock: the manual clocks of tests move mono() together with
    // now(), but sleeping is real time, so never wait longer than the shortest period.
    cv_.wait_for(lock, std::max(next - now, common::mono_time::duration::zero()));
  }
}

}  // namespace aterm::cloud
