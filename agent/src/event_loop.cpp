#include "aterm/agent/event_loop.h"

namespace aterm::agent {

void event_loop::post(task t) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    queue_.push_back(std::move(t));
  }
  cv_.notify_one();
}

bool event_loop::try_post(task t) {
  {
    std::lock_guard lock(mu_);
    if (stopped_ || queue_.size() >= max_pending_) return false;
    queue_.push_back(std::move(t));
  }
  cv_.notify_one();
  return true;
}

event_loop::timer_id event_loop::schedule(std::chrono::milliseconds delay, task t) {
  const auto due = std::chrono::steady_clock::now() + delay;
  timer_id id;
  {
    std::lock_guard lock(mu_);
    id = next_id_++;
    timers_.emplace(std::make_pair(due, id), std::move(t));
    timer_due_.emplace(id, due);
  }
  cv_.notify_one();
  return id;
}

void event_loop::cancel(timer_id id) {
  std::lock_guard lock(mu_);
  auto it = timer_due_.find(id);
  if (it == timer_due_.end()) return;
  timers_.erase(std::make_pair(it->second, id));
  timer_due_.erase(it);
}

std::size_t event_loop::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void event_loop::run() {
  owner_ = std::this_thread::get_id();
  std::unique_lock lock(mu_);
  while (!stopped_) {
    const auto now = std::chrono::steady_clock::now();
    if (!timers_.empty() && timers_.begin()->first.first <= now) {
      auto node = timers_.extract(timers_.begin());
      timer_due_.erase(node.key().second);
      lock.unlock();
      node.mapped()();
      lock.lock();
      continue;
    }
    if (!queue_.empty()) {
      task t = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      t();
      lock.lock();
      continue;
    }
    if (timers_.empty())
      cv_.wait(lock);
    else
      cv_.wait_until(lock, timers_.begin()->first.first);
  }
  queue_.clear();
  timers_.clear();
  timer_due_.clear();
}

void event_loop::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

}  // namespace aterm::agent
