#include "aterm/agent/event_loop.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <memory>

namespace aterm::agent {

event_loop::event_loop(std::size_t max_pending)
    : max_pending_(max_pending), wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (wake_fd_ < 0) std::abort();  // no way to run the agent at all
}

event_loop::~event_loop() {
  ::close(wake_fd_);
}

void event_loop::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void event_loop::post(task t) {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    queue_.push_back(std::move(t));
  }
  wake();
}

bool event_loop::try_post(task t) {
  {
    std::lock_guard lock(mu_);
    if (stopped_ || queue_.size() >= max_pending_) return false;
    queue_.push_back(std::move(t));
  }
  wake();
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
  wake();
  return id;
}

void event_loop::cancel(timer_id id) {
  std::lock_guard lock(mu_);
  auto it = timer_due_.find(id);
  if (it == timer_due_.end()) return;
  timers_.erase(std::make_pair(it->second, id));
  timer_due_.erase(it);
}

void event_loop::watch(int fd, task on_readable) {
  watched_.emplace_back(fd, std::make_shared<task>(std::move(on_readable)));
}

void event_loop::unwatch(int fd) {
  std::erase_if(watched_, [fd](const auto& w) { return w.first == fd; });
}

std::size_t event_loop::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void event_loop::run() {
  std::vector<pollfd> fds;
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
    int timeout_ms = -1;
    if (!timers_.empty()) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(timers_.begin()->first.first - now);
      timeout_ms = static_cast<int>(std::min<std::int64_t>(left.count(), 24 * 3600 * 1000));
    }
    lock.unlock();
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    for (const auto& w : watched_) fds.push_back({w.first, POLLIN, 0});
    const int r = ::poll(fds.data(), fds.size(), timeout_ms);
    if (r > 0) {
      if (fds[0].revents & POLLIN) {
        std::uint64_t drained = 0;
        [[maybe_unused]] auto n = ::read(wake_fd_, &drained, sizeof drained);
      }
      // Callbacks may watch or unwatch: call through copies of what was polled.
      std::vector<std::shared_ptr<task>> ready;
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        for (const auto& w : watched_)
          if (w.first == fds[i].fd) ready.push_back(w.second);
      }
      for (const auto& cb : ready) {
        const bool still = std::any_of(watched_.begin(), watched_.end(),
                                       [&](const auto& w) { return w.second == cb; });
        if (still) (*cb)();
      }
    }
    lock.lock();
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
  wake();
}

}  // namespace aterm::agent
