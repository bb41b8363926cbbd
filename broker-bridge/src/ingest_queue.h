// The bounded queue between Paho's receive thread (producer) and the ingest thread (consumer),
// and the bridge's overload policy. Under an ingest backlog a command's result used to wait
// behind thousands of state snapshots (Paho's thread blocked in push, the broker queued the rest
// and, past max_queued_messages, dropped QoS 1 messages, results included). Now:
//
//  - State snapshots are replaceable. They wait in the state lane, bounded by
//    `state_messages` slots and `state_bytes`. Once the lane holds `coalesce_from` snapshots
//    (ingest is behind), or is full, a snapshot of a device that still has one queued replaces
//    that one's payload in place (newest wins, states_coalesced). It keeps the older one's
//    position: a device that publishes often is not pushed back behind every other device each
//    time, and its order against its own other messages is kept by the rule below anyway.
//    Below `coalesce_from` every snapshot is kept, so the history misses nothing while ingest
//    keeps up. A snapshot that finds the lane full and cannot replace one is shed: push returns
//    at once (states_shed, one log line per k_shed_log_interval at most, never a payload).
//  - Results, presence, events (every topic that is not a state) are never shed. They wait in
//    the urgent lane, admitted past the state bound up to a separate hard bound
//    (`urgent_messages`, `urgent_bytes`); only beyond it does push wait for room, the
//    last-resort backpressure (queue_waits).
//  - pop hands over the whole urgent lane first, then at most `max_states` snapshots, so a
//    result waits for the batch in progress and its own, never behind a lane of snapshots.
//  - A link_lost mark (raw_message) goes behind everything queued before it: the queued
//    snapshots move to the end of the urgent lane first, then the mark follows. It never waits
//    for room.
//  - Per-device order is kept: a device's message is never delivered before a snapshot of the
//    same device that arrived earlier. When a non-state message arrives while its device has
//    snapshots in the state lane, those move to the end of the urgent lane first (oldest
//    first), then the message follows. So a presence offline after a state still leaves the
//    device offline, and ingest's per-device bookkeeping (online_last, last_presence) sees each
//    device's messages in arrival order. Only the order between different devices changes.
//
// Costs: one map device -> newest queued snapshot (views into the queued topics), looked up per
// push; pop erases the entries of the snapshots it hands over. Tombstones (slots whose snapshot
// moved to the urgent lane) count against `state_messages` until pop passes them.
//
// Thread-safe: push from any thread (Paho's callbacks), pop from one consumer thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aterm/bridge/ingest.h"
#include "aterm/bridge/limits.h"
#include "aterm/bridge/metrics.h"
#include "aterm/common/clock.h"

namespace aterm::bridge {

struct ingest_queue_limits {
  std::size_t state_messages = limits::k_ingest_queue_messages;  // Default: limits.h.
  std::size_t state_bytes = limits::k_ingest_queue_bytes;        // Default: limits.h.
  std::size_t urgent_messages = limits::k_ingest_urgent_messages;
  std::size_t urgent_bytes = limits::k_ingest_urgent_bytes;
  std::size_t coalesce_from = limits::k_coalesce_states_from;  // 0: always coalesce.
};

class ingest_queue {
 public:
  // Takes everything at once.
  static constexpr std::size_t k_all = std::numeric_limits<std::size_t>::max();

  ingest_queue(ingest_queue_limits limits, bridge_metrics& metrics, common::clock& clock);

  // Producer: queues `m` per the policy above. Never waits for a state snapshot; waits for a
  // result, presence or event only while the urgent lane is at its hard bound and producers
  // were not released. After close() the message is dropped and counted (queue_drops).
  void push(raw_message m);

  // Consumer: waits up to `max` for messages or a stop request, then appends to `out` every
  // urgent message and at most `max_states` snapshots, in delivery order. Returns true when
  // stop was requested; then everything queued is in `out`, whatever `max_states` says.
  bool pop(std::deque<raw_message>& out, std::chrono::nanoseconds max,
           std::size_t max_states = k_all);

  // Producers stop waiting for room (during shutdown, so the disconnect cannot hang).
  void release_producers();
  // Later pushes are dropped and counted.
  void close();
  // The consumer's next pop returns true.
  void request_stop();

 private:
  static constexpr std::uint64_t k_no_slot = std::numeric_limits<std::uint64_t>::max();

  struct state_slot {
    raw_message m;  // an empty topic: a tombstone, its snapshot moved to the urgent lane
    std::uint64_t prev = k_no_slot;  // the device's previous snapshot still queued
  };

  // Where a topic names its device, and whether it is a state topic.
  struct topic_parts {
    std::size_t device_offset = 0;
    std::size_t device_size = 0;  // 0: not aterm/v1/{device}/{kind}, never reordered
    bool state = false;
  };
  static topic_parts classify(std::string_view topic);
  static std::string_view device_of(const std::string& topic, const topic_parts& parts) {
    return std::string_view(topic).substr(parts.device_offset, parts.device_size);
  }

  // Each returns, when a log line about shed snapshots is due now, the number shed since the
  // last one. REQUIRES: mu_ held.
  std::optional<std::uint64_t> push_state(raw_message& m, const topic_parts& parts);
  std::optional<std::uint64_t> shed();
  void push_urgent(std::unique_lock<std::mutex>& lk, raw_message& m, const topic_parts& parts);
  void move_states_to_urgent(std::string_view device);
  void move_all_states_to_urgent();
  bool state_lane_full() const {
    return states_.size() >= limits_.state_messages || state_bytes_ >= limits_.state_bytes;
  }
  bool urgent_lane_full() const {
    return urgent_.size() >= limits_.urgent_messages || urgent_bytes_ >= limits_.urgent_bytes;
  }
  std::size_t depth() const { return urgent_.size() + live_states_; }
  void publish_depth() { metrics_.queue_depth.store(depth(), std::memory_order_relaxed); }

  const ingest_queue_limits limits_;
  bridge_metrics& metrics_;
  common::clock& clock_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::condition_variable room_;
  std::deque<raw_message> urgent_;
  std::size_t urgent_bytes_ = 0;
  std::deque<state_slot> states_;
  std::uint64_t front_seq_ = 0;  // the sequence number of states_.front()
  std::size_t live_states_ = 0;  // slots of states_ that are not tombstones
  std::size_t state_bytes_ = 0;
  // Device -> sequence number of its newest queued snapshot; the key views that slot's topic.
  std::unordered_map<std::string_view, std::uint64_t> newest_;
  std::vector<std::uint64_t> chain_;  // scratch for move_states_to_urgent
  std::uint64_t shed_unlogged_ = 0;
  common::mono_time last_shed_log_{};
  bool shed_logged_ = false;
  int waiting_ = 0;
  bool released_ = false;
  bool closed_ = false;
  bool stop_ = false;
};

}  // namespace aterm::bridge
