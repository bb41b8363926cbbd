// The threads that verify login passwords (PBKDF2, up to 0.7 s each), apart from the HTTPS
// workers that run every other route: a login flood then waits for these threads instead of
// queueing in front of every authenticated read. The queue is bounded, so a flood holds at most
// `threads + queue` logins in memory; try_submit() refuses the rest at once and the caller
// answers without hashing. The threads run at a lower scheduling priority than the rest of the
// daemon, so on a machine with few cores the routes keep their share while the pool is busy.
//
// Thread-safety: try_submit() may be called from any thread. Jobs run on the pool's threads.
// The destructor refuses new jobs, destroys the queued ones without running them (their
// destructors release what they hold) and joins.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "aterm/common/config.h"

namespace aterm::cloud::security {

struct hashing_pool_settings {
  std::size_t threads = 2;  // security.password_hash_threads. Default: 2.
  std::size_t queue = 64;   // security.password_hash_queue. Default: 64 waiting logins.
  // Added to the threads' nice value (Linux: per thread). Default: 10.
  int nice = 10;
};

// The security.password_hash_* keys with their defaults and bounds.
common::config_schema hashing_pool_config_schema();
// REQUIRES: `c` was loaded with a schema that contains hashing_pool_config_schema().
hashing_pool_settings hashing_pool_settings_from(const common::config& c);

class password_hashing_pool {
 public:
  using job = std::function<void()>;

  explicit password_hashing_pool(hashing_pool_settings settings);
  ~password_hashing_pool();
  password_hashing_pool(const password_hashing_pool&) = delete;
  password_hashing_pool& operator=(const password_hashing_pool&) = delete;

  // Queues `j`; false (and `j` destroyed unrun) when `queue` jobs already wait.
  [[nodiscard]] bool try_submit(job j);
  // Jobs waiting for a thread now (for metrics).
  std::size_t waiting() const;

 private:
  void run();

  hashing_pool_settings settings_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<job> queue_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::size_t idle_ = 0;   // threads waiting for a job; guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace aterm::cloud::security
