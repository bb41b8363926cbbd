#include "aterm/bridge/dispatcher.h"

#include <utility>

#include "aterm/bridge/limits.h"
#include "aterm/common/log.h"

namespace aterm::bridge {

using common::log_level;

namespace {
constexpr std::string_view k_component = "bridge";
}  // namespace

dispatcher::dispatcher(dispatch_settings settings, store_port& store, command_publisher& publisher,
                       common::clock& clock, bridge_metrics& metrics)
    : settings_(settings),
      store_(store),
      publisher_(publisher),
      clock_(clock),
      metrics_(metrics),
      next_poll_(clock.mono()) {}

void dispatcher::post_online(std::vector<std::string> devices) {
  {
    std::lock_guard lk(mu_);
    for (auto& d : devices) {
      if (online_.size() >= limits::k_max_pending_devices) {
        overflow_ = true;
        online_.clear();
        break;
      }
      online_.insert(std::move(d));
    }
  }
  cv_.notify_one();
}

void dispatcher::post_command(const std::string& device_id) {
  (void)device_id;  // the store decides which devices are online, across instances
  {
    std::lock_guard lk(mu_);
    command_ = true;
  }
  cv_.notify_one();
}

void dispatcher::post_reconnected() {
  {
    std::lock_guard lk(mu_);
    reconnected_ = true;
  }
  cv_.notify_one();
}

void dispatcher::wake() {
  {
    std::lock_guard lk(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void dispatcher::wait(std::chrono::milliseconds max) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, max,
               [&] { return woken_ || command_ || reconnected_ || overflow_ || !online_.empty(); });
  woken_ = false;
}

void dispatcher::step() {
  std::unordered_set<std::string> online;
  bool full_pass = false;
  bool command = false;
  {
    std::lock_guard lk(mu_);
    online.swap(online_);
    full_pass = reconnected_ || overflow_;
    command = command_;
    reconnected_ = overflow_ = command_ = false;
  }
  const bool connected = publisher_.connected();
  const std::int64_t now_s = clock_.now_s();
  if (connected && full_pass) {
    auto due = store_.due_for_online(now_s, limits::k_max_republish_after_reconnect);
    if (due) {
      publish_and_mark(std::move(due).value());
    } else {
      metrics_.add(metrics_.dispatch_errors);
      common::log(log_level::error, k_component, "due_for_online failed",
                  {{"error", due.error().to_string()}});
    }
  } else if (connected && !online.empty()) {
    std::vector<outbound_command> all;
    for (const auto& device : online) {
      auto due = store_.due_commands(device, now_s, limits::k_max_due_per_device);
      if (!due) {
        metrics_.add(metrics_.dispatch_errors);
        common::log(log_level::error, k_component, "due_commands failed",
                    {{"device", device}, {"error", due.error().to_string()}});
        continue;
      }
      for (auto& c : due.value()) all.push_back(std::move(c));
    }
    publish_and_mark(std::move(all));
  }
  if (connected && command) publish_queued();

  if (clock_.mono() >= next_poll_) {
    next_poll_ = clock_.mono() + settings_.poll;
    auto expired = store_.expire_overdue(now_s);
    if (expired) {
      metrics_.add(metrics_.commands_expired, static_cast<std::uint64_t>(expired.value()));
    } else {
      metrics_.add(metrics_.dispatch_errors);
      common::log(log_level::error, k_component, "expire_overdue failed",
                  {{"error", expired.error().to_string()}});
    }
    if (connected) publish_queued();
  }
}

void dispatcher::publish_queued() {
  // Each page is marked sent before the next is taken, so the pages do not repeat; a page that
  // was not fully accepted ends the round (the next poll retries it).
  while (true) {
    auto queued = store_.queued_for_online(clock_.now_s(), limits::k_max_queued_per_poll);
    if (!queued) {
      metrics_.add(metrics_.dispatch_errors);
      common::log(log_level::error, k_component, "queued_for_online failed",
                  {{"error", queued.error().to_string()}});
      return;
    }
    const std::size_t n = queued->size();
    if (n == 0) return;
    if (publish_and_mark(std::move(queued).value()) < n || n < limits::k_max_queued_per_poll) {
      return;
    }
  }
}

std::size_t dispatcher::publish_and_mark(std::vector<outbound_command> commands) {
  if (commands.empty()) return 0;
  auto accepted = publisher_.publish(commands);
  if (accepted.size() < commands.size()) {
    metrics_.add(metrics_.publish_failures,
                 static_cast<std::uint64_t>(commands.size() - accepted.size()));
  }
  if (accepted.empty()) return 0;
  auto st = store_.mark_sent(accepted, clock_.now_s());
  if (!st.ok()) {
    // The broker has them; the store still says queued, so they go out again (the agent
    // de-duplicates by id).
    metrics_.add(metrics_.dispatch_errors);
    common::log(
        log_level::error, k_component, "mark_sent failed",
        {{"commands", static_cast<std::uint64_t>(accepted.size())}, {"error", st.to_string()}});
    return 0;
  }
  metrics_.add(metrics_.commands_published, static_cast<std::uint64_t>(accepted.size()));
  return accepted.size();
}

}  // namespace aterm::bridge
