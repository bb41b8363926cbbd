// The periodic work of `serve`: one thread that wakes every `tick` and runs the short tasks
// (session purge, metrics, technician-login deletion), and every `sweep_interval` the registered
// lifecycle sweeps. Tasks run one at a time on the scheduler's thread; a failing task is logged
// and the next tick runs it again. start()/stop() belong to the owner's thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aterm/common/clock.h"

namespace aterm::cloud {

class scheduler {
 public:
  using task = std::function<void()>;

  explicit scheduler(const common::clock& clock) : clock_(clock) {}
  ~scheduler() { stop(); }
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // Runs `t` every `period` (the first run one period after start). REQUIRES: not started.
  void every(std::string name, std::chrono::milliseconds period, task t);
  void start();
  // Wakes the thread, lets the running task finish and joins. Idempotent.
  void stop();

 private:
  struct entry {
    std::string name;
    std::chrono::milliseconds period;
    task fn;
    common::mono_time next;
  };
  void loop();

  const common::clock& clock_;
  std::vector<entry> entries_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace aterm::cloud
