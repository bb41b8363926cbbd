// The agent's one thread of state (issue 3): a task queue, timers and watched file descriptors
// run by a single thread. The MQTT links' threads and the local socket thread only post() here;
// every router_agent, its stores and its backend are touched only by tasks of this loop. One loop
// serves one router (`run`) or a whole simulated fleet (`simulate`), so a fleet's state has one
// owner. Signals arrive as a watched signalfd, so no thread waits for them either.
// post(), try_post(), schedule(), cancel() and stop() are thread-safe; watch() and run() belong
// to the loop's thread (watch() may also be called before run()).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace aterm::agent {

class event_loop {
 public:
  using task = std::function<void()>;
  using timer_id = std::uint64_t;

  // `max_pending`: posts beyond this many queued tasks are refused (try_post returns false).
  explicit event_loop(std::size_t max_pending = 100000);
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  void post(task t);
  // Refuses when the queue is full (a message flood); the caller counts the drop.
  bool try_post(task t);
  timer_id schedule(std::chrono::milliseconds delay, task t);
  void cancel(timer_id id);
  // Calls `on_readable` on the loop thread whenever `fd` is readable. The caller keeps the fd
  // open for the loop's life.
  void watch(int fd, task on_readable);
  // Stops watching `fd` (safe from inside its own callback).
  void unwatch(int fd);

  // Runs tasks, due timers and readable fds until stop(). Tasks posted after stop() are
  // discarded.
  void run();
  void stop();
  std::size_t pending() const;

 private:
  void wake();

  mutable std::mutex mu_;
  std::deque<task> queue_;
  // Due time, then id (ids grow, so equal times run in scheduling order).
  std::map<std::pair<std::chrono::steady_clock::time_point, timer_id>, task> timers_;
  std::map<timer_id, std::chrono::steady_clock::time_point> timer_due_;
  std::vector<std::pair<int, std::shared_ptr<task>>> watched_;
  timer_id next_id_ = 1;
  bool stopped_ = false;
  std::size_t max_pending_;
  int wake_fd_;  // eventfd
};

}  // namespace aterm::agent
