// The bridge's counters for /metrics. Every counter is a relaxed atomic written by the thread
// that owns the event (Paho callbacks, ingest or dispatch) and read by anyone through
// snapshot(); the snapshot is not one instant across counters, which monitoring does not need.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aterm/common/protocol.h"

namespace aterm::bridge {

// Why a device message was dropped. The first eight are the protocol's decode codes.
enum class bad_reason : std::size_t {
  bad_topic,
  too_large,
  bad_json,
  bad_version,
  missing_field,
  wrong_type,
  bad_value,
  id_mismatch,
  unknown_command,  // a result the store refused: no such command, another device's, or final
  other,
  retained,          // a retained state, result or event: replayed by the broker, never applied
  unrecorded_event,  // a technician-login event the store kept out of the access log
};
inline constexpr std::size_t k_bad_reasons = 12;
// "bad_topic", "too_large", ... as in the enum.
std::string_view to_string(bad_reason r);
// A decode error code ("bad_json", ...) to its reason; `other` for codes not listed.
bad_reason bad_reason_from_code(std::string_view code);

// Message kinds the bridge ingests, in the order of ingested[]: presence, state, result, event.
inline constexpr std::size_t k_ingest_kinds = 4;
// Index into ingested[]; REQUIRES: k != cmd.
std::size_t ingest_index(common::protocol::topic_kind k);

struct metrics_snapshot {
  std::array<std::uint64_t, k_ingest_kinds> ingested{};  // stored, by kind
  std::array<std::uint64_t, k_bad_reasons> bad{};        // dropped, by reason
  std::uint64_t batches = 0;                             // apply_batch calls that committed
  std::uint64_t batch_messages = 0;                      // messages in those batches
  std::uint64_t batch_size_max = 0;
  std::uint64_t batch_commit_us_sum = 0;  // time inside apply_batch
  std::uint64_t batch_commit_us_max = 0;
  std::uint64_t batch_age_us_sum = 0;  // first message received -> batch committed
  std::uint64_t batch_age_us_max = 0;
  std::uint64_t store_failures = 0;      // apply_batch calls that failed (each attempt)
  std::uint64_t store_lost = 0;          // messages dropped after every attempt failed
  std::uint64_t results_dropped = 0;     // results the store refused (also in bad[unknown_command])
  std::uint64_t commands_published = 0;  // accepted by the broker (PUBACK)
  std::uint64_t publish_failures = 0;    // refused, timed out or not connected
  std::uint64_t commands_expired = 0;    // expire_overdue changes
  std::uint64_t dispatch_errors = 0;     // store calls of the dispatcher that failed
  std::uint64_t state_refreshes = 0;     // state.refresh commands queued for devices without state
  std::uint64_t received = 0;            // messages Paho delivered into the ingest queue
  std::uint64_t queue_waits =
      0;  // Paho's thread waited for room (results etc. past the hard bound)
  std::uint64_t queue_drops = 0;       // messages that arrived while the bridge was stopped
  std::uint64_t states_coalesced = 0;  // snapshots that replaced their device's queued one
  std::uint64_t states_shed = 0;       // snapshots dropped because the state lane was full
  std::uint64_t queue_depth = 0;       // messages waiting now
  std::uint64_t connects = 0;          // successful MQTT connects (first and every reconnect)
  std::uint64_t connection_losses = 0;
  std::uint64_t presence_unvouched = 0;  // devices made unknown when the broker link was lost
  bool connected = false;                // connected and subscribed
};

// Prometheus text exposition of `s`, names prefixed `aterm_bridge_`.
std::string format_prometheus(const metrics_snapshot& s);

// The live counters. Thread-safe.
class bridge_metrics {
 public:
  using counter = std::atomic<std::uint64_t>;
  std::array<counter, k_ingest_kinds> ingested{};
  std::array<counter, k_bad_reasons> bad{};
  counter batches{0};
  counter batch_messages{0};
  counter batch_size_max{0};
  counter batch_commit_us_sum{0};
  counter batch_commit_us_max{0};
  counter batch_age_us_sum{0};
  counter batch_age_us_max{0};
  counter store_failures{0};
  counter store_lost{0};
  counter results_dropped{0};
  counter commands_published{0};
  counter publish_failures{0};
  counter commands_expired{0};
  counter dispatch_errors{0};
  counter state_refreshes{0};
  counter received{0};
  counter queue_waits{0};
  counter queue_drops{0};
  counter states_coalesced{0};
  counter states_shed{0};
  counter queue_depth{0};
  counter connects{0};
  counter connection_losses{0};
  counter presence_unvouched{0};
  std::atomic<bool> connected{false};

  void add(counter& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
  // Raises `c` to `v` when `v` is larger.
  static void raise_max(counter& c, std::uint64_t v);
  metrics_snapshot snapshot() const;
};

}  // namespace aterm::bridge
