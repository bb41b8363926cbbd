#include "aterm/cloud/security/password_hashing_pool.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "aterm/common/log.h"

namespace aterm::cloud::security {

namespace {

// Bounds of the settings: a few threads are enough for any core count the product runs on, and
// a queue past a few thousand only holds logins longer than a client waits for them.
constexpr std::int64_t k_max_threads = 64;
constexpr std::int64_t k_max_queue = 100'000;

}  // namespace

common::config_schema hashing_pool_config_schema() {
  using common::config_type;
  hashing_pool_settings d;
  return {
      {"security.password_hash_threads", config_type::integer, static_cast<std::int64_t>(d.threads),
       false, 1, k_max_threads},
      {"security.password_hash_queue", config_type::integer, static_cast<std::int64_t>(d.queue),
       false, 0, k_max_queue},
  };
}

hashing_pool_settings hashing_pool_settings_from(const common::config& c) {
  hashing_pool_settings s;
  s.threads = static_cast<std::size_t>(c.get_int("security.password_hash_threads"));
  s.queue = static_cast<std::size_t>(c.get_int("security.password_hash_queue"));
  return s;
}

password_hashing_pool::password_hashing_pool(hashing_pool_settings settings) : settings_(settings) {
  for (std::size_t i = 0; i < std::max<std::size_t>(1, settings_.threads); ++i) {
    threads_.emplace_back([this] { run(); });
  }
}

password_hashing_pool::~password_hashing_pool() {
  std::deque<job> dropped;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  dropped.clear();
  for (auto& t : threads_) t.join();
}

bool password_hashing_pool::try_submit(job j) {
  {
    std::lock_guard lock(mu_);
    // A job waits only while every thread is busy: `queue` bounds the waiting ones.
    if (stopping_ || queue_.size() >= settings_.queue + idle_) return false;
    queue_.push_back(std::move(j));
  }
  cv_.notify_one();
  return true;
}

std::size_t password_hashing_pool::waiting() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void password_hashing_pool::run() {
  // Linux applies a nice value per thread (the thread id is a process id for setpriority);
  // elsewhere this fails harmlessly and the pool runs at normal priority.
  if (settings_.nice != 0) {
    int current = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), current + settings_.nice);
  }
  for (;;) {
    job j;
    {
      std::unique_lock lock(mu_);
      ++idle_;
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (stopping_) return;
      j = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      j();
    } catch (const std::exception& e) {
      common::log(common::log_level::error, "security", "password hashing job failed",
                  {{"what", e.what()}});
    }
  }
}

}  // namespace aterm::cloud::security
