#include "ingest_queue.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "aterm/common/log.h"
#include "aterm/common/protocol.h"

namespace aterm::bridge {

namespace {

std::size_t size_of(const raw_message& m) {
  return m.topic.size() + m.payload.size();
}

}  // namespace

ingest_queue::ingest_queue(ingest_queue_limits limits, bridge_metrics& metrics,
                           common::clock& clock)
    : limits_(limits), metrics_(metrics), clock_(clock) {
  newest_.reserve(std::min<std::size_t>(limits_.state_messages, 16'384));
}

ingest_queue::topic_parts ingest_queue::classify(std::string_view topic) {
  namespace protocol = common::protocol;
  if (!topic.starts_with(protocol::k_topic_root)) return {};
  const std::string_view rest = topic.substr(protocol::k_topic_root.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return {};
  return {protocol::k_topic_root.size(), slash,
          rest.substr(slash + 1) == protocol::to_string(protocol::topic_kind::state)};
}

void ingest_queue::push(raw_message m) {
  const topic_parts parts = classify(m.topic);
  std::optional<std::uint64_t> shed_to_log;
  {
    std::unique_lock lk(mu_);
    if (closed_) {
      metrics_.add(metrics_.queue_drops);
      return;
    }
    if (m.link_lost) {
      const bool was_empty = depth() == 0;
      move_all_states_to_urgent();
      urgent_.push_back(std::move(m));
      publish_depth();
      if (was_empty) ready_.notify_one();
      return;
    }
    if (parts.state) {
      shed_to_log = push_state(m, parts);
    } else {
      push_urgent(lk, m, parts);
    }
  }
  if (shed_to_log) {
    // Never the payload or device: one line says the bridge is overloaded, /metrics says how much.
    common::log(common::log_level::warn, "bridge",
                "ingest queue full: state snapshots shed (newer ones follow)",
                {{"shed", *shed_to_log},
                 {"interval_s", static_cast<std::int64_t>(limits::k_shed_log_interval.count())}});
  }
}

std::optional<std::uint64_t> ingest_queue::push_state(raw_message& m, const topic_parts& parts) {
  metrics_.add(metrics_.received);
  const auto it = newest_.find(device_of(m.topic, parts));
  const bool full = state_lane_full();
  // Every entry names a queued snapshot: pop and move_states_to_urgent erase it with its slot.
  assert(it == newest_.end() || it->second >= front_seq_);
  if (it != newest_.end() && (full || live_states_ >= limits_.coalesce_from)) {
    raw_message& queued = states_[it->second - front_seq_].m;
    const std::size_t old_size = queued.payload.size();
    const std::size_t new_size = m.payload.size();
    if (new_size <= old_size || state_bytes_ - old_size + new_size <= limits_.state_bytes) {
      state_bytes_ = state_bytes_ - old_size + new_size;
      queued.payload = std::move(m.payload);
      queued.received_ms = m.received_ms;
      queued.received_mono = m.received_mono;
      metrics_.add(metrics_.states_coalesced);
      return std::nullopt;
    }
  }
  if (full) return shed();
  const bool was_empty = depth() == 0;
  const std::uint64_t prev = it != newest_.end() ? it->second : k_no_slot;
  state_bytes_ += size_of(m);
  states_.push_back(state_slot{std::move(m), prev});
  ++live_states_;
  const std::uint64_t seq = front_seq_ + states_.size() - 1;
  // The key must view the newest slot's topic: older slots leave the queue first.
  const std::string_view key = device_of(states_.back().m.topic, parts);
  if (it != newest_.end()) {
    auto node = newest_.extract(it);
    node.key() = key;
    node.mapped() = seq;
    newest_.insert(std::move(node));
  } else {
    newest_.emplace(key, seq);
  }
  publish_depth();
  if (was_empty) ready_.notify_one();
  return std::nullopt;
}

std::optional<std::uint64_t> ingest_queue::shed() {
  metrics_.add(metrics_.states_shed);
  ++shed_unlogged_;
  const auto now = clock_.mono();
  if (shed_logged_ && now - last_shed_log_ < limits::k_shed_log_interval) return std::nullopt;
  shed_logged_ = true;
  last_shed_log_ = now;
  return std::exchange(shed_unlogged_, 0);
}

void ingest_queue::push_urgent(std::unique_lock<std::mutex>& lk, raw_message& m,
                               const topic_parts& parts) {
  if (urgent_lane_full() && !released_) {
    metrics_.add(metrics_.queue_waits);
    ++waiting_;
    room_.wait(lk, [&] { return !urgent_lane_full() || released_ || closed_; });
    --waiting_;
    if (closed_) {
      metrics_.add(metrics_.queue_drops);
      return;
    }
  }
  metrics_.add(metrics_.received);
  const bool was_empty = depth() == 0;
  if (parts.device_size > 0) move_states_to_urgent(device_of(m.topic, parts));
  urgent_bytes_ += size_of(m);
  urgent_.push_back(std::move(m));
  publish_depth();
  if (was_empty) ready_.notify_one();
}

void ingest_queue::move_states_to_urgent(std::string_view device) {
  const auto it = newest_.find(device);
  if (it == newest_.end()) return;
  chain_.clear();
  for (std::uint64_t seq = it->second; seq != k_no_slot && seq >= front_seq_;
       seq = states_[seq - front_seq_].prev) {
    chain_.push_back(seq);
  }
  newest_.erase(it);  // before its key's topic moves
  for (auto seq = chain_.rbegin(); seq != chain_.rend(); ++seq) {
    raw_message& queued = states_[*seq - front_seq_].m;
    const std::size_t bytes = size_of(queued);
    state_bytes_ -= bytes;
    urgent_bytes_ += bytes;
    --live_states_;
    urgent_.push_back(std::move(queued));
    queued.topic.clear();  // the tombstone mark
    queued.payload.clear();
  }
}

void ingest_queue::move_all_states_to_urgent() {
  for (auto& slot : states_) {
    if (slot.m.topic.empty()) continue;  // a tombstone
    urgent_bytes_ += size_of(slot.m);
    urgent_.push_back(std::move(slot.m));
  }
  front_seq_ += states_.size();
  states_.clear();
  newest_.clear();
  live_states_ = 0;
  state_bytes_ = 0;
}

bool ingest_queue::pop(std::deque<raw_message>& out, std::chrono::nanoseconds max,
                       std::size_t max_states) {
  std::unique_lock lk(mu_);
  ready_.wait_for(lk, max, [&] { return depth() > 0 || stop_; });
  if (out.empty()) {
    out.swap(urgent_);
  } else {
    for (auto& m : urgent_) out.push_back(std::move(m));
    urgent_.clear();
  }
  urgent_bytes_ = 0;
  const std::size_t limit = stop_ ? k_all : max_states;
  std::size_t taken = 0;
  while (!states_.empty()) {
    raw_message& front = states_.front().m;
    if (!front.topic.empty()) {
      if (taken == limit) break;
      const auto it = newest_.find(device_of(front.topic, classify(front.topic)));
      if (it != newest_.end() && it->second == front_seq_) newest_.erase(it);
      state_bytes_ -= size_of(front);
      --live_states_;
      ++taken;
      out.push_back(std::move(front));
    }
    states_.pop_front();
    ++front_seq_;
  }
  publish_depth();
  if (waiting_ > 0) room_.notify_all();
  return stop_;
}

void ingest_queue::release_producers() {
  std::lock_guard lk(mu_);
  released_ = true;
  room_.notify_all();
}

void ingest_queue::close() {
  std::lock_guard lk(mu_);
  closed_ = true;
  room_.notify_all();
}

void ingest_queue::request_stop() {
  std::lock_guard lk(mu_);
  stop_ = true;
  ready_.notify_one();
}

}  // namespace aterm::bridge
