// The periodic work of `serve`: one thread that wakes every `tick` and runs the short tasks
// (session purge, metrics, technician-login deletion), and every `sweep_interval` the registered
// lifecycle sweeps. Tasks run one at a time on the scheduler's thread; a failing task is logged
// and the next tick runs it again. start()/stop() belong to the owner's thread.
//
// Several instances on one database run a task of run_scope::one_instance once between them: a
// run needs the task's lease in the store ("job:<name>", taken through `take_lease`). The lease
// lasts two periods and the instance that holds it extends it at every run, so it keeps running
// the task; another instance takes over once the holder missed two periods (it died or hangs).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "aterm/common/clock.h"

namespace aterm::cloud {

class scheduler {
 public:
  using task = std::function<void()>;
  // Takes (or extends) the lease `name` for this instance for `duration`; true when held.
  using lease_taker =
      std::function<bool(const std::string& name, std::chrono::milliseconds duration)>;

  enum class run_scope {
    each_instance,  // state of this process (its metrics)
    one_instance,   // the database's work: one instance runs it per period
  };

  // Without a lease_taker every task runs here (one instance alone on its database).
  explicit scheduler(const common::clock& clock, lease_taker take_lease = {})
      : clock_(clock), take_lease_(std::move(take_lease)) {}
  ~scheduler() { stop(); }
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  // Runs `t` every `period` (the first run one period after start). REQUIRES: not started.
  void every(std::string name, std::chrono::milliseconds period, task t,
             run_scope scope = run_scope::one_instance);
  void start();
  // Wakes the thread, lets the running task finish and joins. Idempotent.
  void stop();

 private:
  struct entry {
    std::string name;
    std::chrono::milliseconds period;
    task fn;
    run_scope scope;
    common::mono_time next;
  };
  void loop();
  // False when another instance holds the task's lease (it runs the task there).
  bool runs_here(const entry& e);

  const common::clock& clock_;
  lease_taker take_lease_;
  std::vector<entry> entries_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace aterm::cloud
