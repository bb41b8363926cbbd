// The agent's one thread of state (issue 3): a task queue and timers run by a single thread.
// Paho callbacks, the local socket thread and signal handling only post() here; every
// router_agent, its stores and its backend are touched only by tasks of this loop. One loop
// serves one router (`run`) or a whole simulated fleet (`simulate`), so a fleet needs no thread
// per router. post(), schedule() and cancel() are thread-safe; run() is called by one thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace aterm::agent {

class event_loop {
 public:
  using task = std::function<void()>;
  using timer_id = std::uint64_t;

  // `max_pending`: posts beyond this many queued tasks are refused (try_post returns false).
  explicit event_loop(std::size_t max_pending = 100000) : max_pending_(max_pending) {}

  void post(task t);
  // Refuses when the queue is full (a message flood); the caller counts the drop.
  bool try_post(task t);
  timer_id schedule(std::chrono::milliseconds delay, task t);
  void cancel(timer_id id);

  // Runs tasks and due timers until stop(). Tasks posted after stop() are discarded.
  void run();
  void stop();
  bool in_loop_thread() const { return std::this_thread::get_id() == owner_; }
  std::size_t pending() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<task> queue_;
  // Due time, then id (ids grow, so equal times run in scheduling order).
  std::map<std::pair<std::chrono::steady_clock::time_point, timer_id>, task> timers_;
  std::map<timer_id, std::chrono::steady_clock::time_point> timer_due_;
  timer_id next_id_ = 1;
  bool stopped_ = false;
  std::size_t max_pending_;
  std::thread::id owner_;
};

}  // namespace aterm::agent
