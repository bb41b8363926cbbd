#include "aterm/bridge/dispatcher.h"

#include <algorithm>
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
    for (auto& d : devices) add_due_locked(std::move(d));
  }
  cv_.notify_one();
}

void dispatcher::post_command(const std::string& device_id) {
  // Claimed like a device that came online (claim_due: one write transaction on the device's
  // commands), not by a sweep of every open command: the store still decides whether the
  // device is online, across instances.
  {
    std::lock_guard lk(mu_);
    add_due_locked(device_id);
  }
  cv_.notify_one();
}

void dispatcher::add_due_locked(std::string device) {
  if (overflow_) return;
  if (online_.size() >= limits::k_max_pending_devices) {
    overflow_ = true;
    online_.clear();
    return;
  }
  online_.insert(std::move(device));
}

void dispatcher::post_reconnected(std::optional<std::int64_t> unsubscribed_since) {
  {
    std::lock_guard lk(mu_);
    reconnected_ = true;
    if (unsubscribed_since) unsubscribed_since_ = unsubscribed_since;
  }
  cv_.notify_one();
}

void dispatcher::post_state_unknown(std::vector<std::string> devices) {
  {
    std::lock_guard lk(mu_);
    for (auto& d : devices) {
      // Past the limit the rest are dropped: their next message posts them again.
      if (state_unknown_.size() >= limits::k_max_pending_devices) break;
      state_unknown_.insert(std::move(d));
    }
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
  cv_.wait_for(lk, max, [&] {
    return woken_ || reconnected_ || overflow_ || !online_.empty() || !state_unknown_.empty();
  });
  woken_ = false;
}

void dispatcher::step() {
  std::unordered_set<std::string> online;
  std::unordered_set<std::string> state_unknown;
  bool reconnected = false;
  bool overflow = false;
  std::optional<std::int64_t> unsubscribed_since;
  {
    std::lock_guard lk(mu_);
    online.swap(online_);
    state_unknown.swap(state_unknown_);
    unsubscribed_since.swap(unsubscribed_since_);
    reconnected = reconnected_;
    overflow = overflow_;
    reconnected_ = overflow_ = false;
  }
  if (unsubscribed_since) {
    stale_before_ms_ = *unsubscribed_since;
    state_known_.clear();
    state_asked_.clear();
  }
  const bool connected = publisher_.connected();
  const std::int64_t now_s = clock_.now_s();
  if (connected && reconnected) {
    // What this instance claimed may not have reached the broker before the link went down.
    auto request = claim(false);
    request.own = true;
    auto due = store_.claim_for_online(request, limits::k_max_republish_after_reconnect);
    if (due) {
      publish_claims(std::move(due).value());
    } else {
      metrics_.add(metrics_.dispatch_errors);
      common::log(log_level::error, k_component, "claim_for_online failed",
                  {{"error", due.error().to_string()}});
    }
  }
  if (connected && overflow) {
    publish_claimed(false);
  } else if (connected && !online.empty()) {
    const auto request = claim(false);
    std::vector<outbound_command> all;
    bool more = false;
    for (const auto& device : online) {
      auto due = store_.claim_due(device, request, limits::k_max_due_per_device);
      if (!due) {
        metrics_.add(metrics_.dispatch_errors);
        common::log(log_level::error, k_component, "claim_due failed",
                    {{"device", device}, {"error", due.error().to_string()}});
        continue;
      }
      more = more || due->size() >= limits::k_max_due_per_device;
      for (auto& c : due.value()) all.push_back(std::move(c));
    }
    publish_claims(std::move(all));
    // A device with more than a page due (a burst of API commands) has the rest taken page by
    // page now instead of at the next poll.
    if (more) publish_claimed(false);
  }
  refresh_missing_state(std::move(state_unknown), connected);

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
    if (connected) publish_claimed(true);
  }
}

claim_request dispatcher::claim(bool stale) const {
  claim_request r;
  r.instance = settings_.instance;
  r.now_ms = clock_.now_ms();
  if (stale) {
    r.stale_before_ms =
        r.now_ms -
        std::chrono::duration_cast<std::chrono::milliseconds>(settings_.result_timeout).count();
  }
  return r;
}

void dispatcher::publish_claimed(bool stale) {
  // A claim takes its commands out of the next page's candidates, so the pages do not repeat;
  // a page that was not fully accepted ends the round (the next poll retries it).
  while (true) {
    auto claimed = store_.claim_for_online(claim(stale), limits::k_max_queued_per_poll);
    if (!claimed) {
      metrics_.add(metrics_.dispatch_errors);
      common::log(log_level::error, k_component, "claim_for_online failed",
                  {{"error", claimed.error().to_string()}});
      return;
    }
    const std::size_t n = claimed->size();
    if (n == 0) return;
    if (publish_claims(std::move(claimed).value()) < n || n < limits::k_max_queued_per_poll) {
      return;
    }
  }
}

void dispatcher::refresh_missing_state(std::unordered_set<std::string> devices, bool connected) {
  const auto now = clock_.mono();
  if (state_asked_.size() >= limits::k_max_state_known_devices) {
    std::erase_if(state_asked_,
                  [&](const auto& e) { return now - e.second >= settings_.state_refresh_recheck; });
    if (state_asked_.size() >= limits::k_max_state_known_devices) state_asked_.clear();
  }
  for (const auto& d : devices) {
    if (state_known_.contains(d) || state_pending_.contains(d)) continue;
    auto it = state_asked_.find(d);
    if (it != state_asked_.end() && now - it->second < settings_.state_refresh_recheck) continue;
    // Past the limit the rest wait for their next message.
    if (state_pending_.size() >= limits::k_max_pending_devices) break;
    state_pending_.emplace(d, now);
  }
  if (!connected || state_pending_.empty()) return;
  std::vector<std::string> ask;
  for (auto it = state_pending_.begin(); it != state_pending_.end();) {
    if (now - it->second < settings_.state_refresh_grace) {
      ++it;
      continue;
    }
    ask.push_back(it->first);
    it = state_pending_.erase(it);
  }
  const std::int64_t now_s = clock_.now_s();
  bool queued_any = false;
  for (std::size_t from = 0; from < ask.size(); from += limits::k_max_refresh_per_call) {
    const std::span<const std::string> page(
        ask.data() + from, std::min(limits::k_max_refresh_per_call, ask.size() - from));
    auto out = store_.refresh_missing_state(page, now_s + settings_.state_refresh_deadline.count(),
                                            now_s - settings_.state_refresh_retry.count(),
                                            stale_before_ms_);
    if (!out) {
      // Not marked asked: the device's next message asks again.
      metrics_.add(metrics_.dispatch_errors);
      common::log(log_level::error, k_component, "refresh_missing_state failed",
                  {{"devices", static_cast<std::uint64_t>(page.size())},
                   {"error", out.error().to_string()}});
      continue;
    }
    for (const auto& d : page) state_asked_[d] = now;
    for (auto& d : out->have_state) {
      state_asked_.erase(d);
      if (state_known_.size() >= limits::k_max_state_known_devices) state_known_.clear();
      state_known_.insert(std::move(d));
    }
    if (out->queued.empty()) continue;
    metrics_.add(metrics_.state_refreshes, static_cast<std::uint64_t>(out->queued.size()));
    common::log(log_level::info, k_component, "state.refresh queued for devices without state",
                {{"commands", static_cast<std::uint64_t>(out->queued.size())},
                 {"first_device", out->queued.front().device_id}});
    queued_any = true;
  }
  // Claimed like any queued command, so another instance's poll cannot publish them as well.
  if (queued_any) publish_claimed(false);
}

std::size_t dispatcher::publish_claims(std::vector<outbound_command> commands) {
  if (commands.empty()) return 0;
  auto accepted = publisher_.publish(commands);
  if (accepted.size() < commands.size()) {
    metrics_.add(metrics_.publish_failures,
                 static_cast<std::uint64_t>(commands.size() - accepted.size()));
    std::unordered_set<std::string> ok(accepted.begin(), accepted.end());
    std::vector<std::string> refused;
    for (const auto& c : commands) {
      if (!ok.contains(c.id)) refused.push_back(c.id);
    }
    if (auto st = store_.release_claims(refused, settings_.instance); !st.ok()) {
      // The claims stay: the commands go out again once their result is overdue.
      metrics_.add(metrics_.dispatch_errors);
      common::log(
          log_level::error, k_component, "release_claims failed",
          {{"commands", static_cast<std::uint64_t>(refused.size())}, {"error", st.to_string()}});
    }
  }
  metrics_.add(metrics_.commands_published, static_cast<std::uint64_t>(accepted.size()));
  return accepted.size();
}

}  // namespace aterm::bridge
