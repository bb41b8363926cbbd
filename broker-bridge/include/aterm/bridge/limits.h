// Every limit of the bridge in one place, each with its reason.
#pragma once

#include <chrono>
#include <cstddef>

namespace aterm::bridge::limits {

// State snapshots waiting between Paho's receive thread and the ingest thread: ten default
// batches, so the ingest thread always has the next batch ready while the store commits the
// current one; past it a snapshot replaces its device's queued one or is shed (ingest_queue.h).
inline constexpr std::size_t k_ingest_queue_messages = 10'000;
// The same in bytes: payloads are up to 64 KiB, and 10,000 of those would be 640 MiB.
inline constexpr std::size_t k_ingest_queue_bytes = 64 * 1024 * 1024;
// Results, presence and events waiting (never shed, admitted past the snapshots' bound): a
// reconnect of the whole fleet (presence of k_max_pending_devices devices) fits; only beyond it
// does Paho's thread wait for room, the last-resort backpressure.
inline constexpr std::size_t k_ingest_urgent_messages = 100'000;
// The same in bytes: with the snapshots' 64 MiB, the queue holds at most 192 MiB.
inline constexpr std::size_t k_ingest_urgent_bytes = 128 * 1024 * 1024;
// Snapshots queued from which a device's newer one replaces its queued one: one default batch
// waiting means ingest is behind; below it every snapshot is kept for the device's history.
inline constexpr std::size_t k_coalesce_states_from = 1'000;
// At most one log line per this interval says snapshots were shed: an overload at 20k
// messages/s must not flood the log.
inline constexpr std::chrono::seconds k_shed_log_interval{60};
// One store transaction stays short enough that state is never seconds behind.
inline constexpr std::size_t k_max_batch = 10'000;
// Devices whose bad input is remembered for rate-limited logging; past it, old entries go.
inline constexpr std::size_t k_max_log_limiter_devices = 100'000;
// A batch the store refuses is retried this often before it is dropped (and counted), so one
// poisoned batch cannot stop ingest for good.
inline constexpr int k_store_attempts = 3;
// A batch the store could not store because its database is unreachable for now (a restart or
// failover, after the store's own retries) is kept and tried again after this wait, doubled per
// try up to the maximum: one try every few seconds while the database stays down, and batches
// keep waiting in the ingest queue (its bounds above are the backpressure).
inline constexpr std::chrono::milliseconds k_store_unavailable_first_wait{100};
inline constexpr std::chrono::milliseconds k_store_unavailable_max_wait{5'000};
// Commands published per device when it comes online; the rest follow on the next poll.
inline constexpr std::size_t k_max_due_per_device = 100;
// Commands claimed per page of claim_for_online; a poll repeats while it gets a full page.
inline constexpr std::size_t k_max_queued_per_poll = 1'000;
// Commands this instance claimed that it re-publishes after its own reconnect (one page; later
// ones wait for their device's reconnect or for their result to be overdue).
inline constexpr std::size_t k_max_republish_after_reconnect = 100'000;
// Command publishes in flight at once: Paho queues at most max_buffered_messages (set to twice
// this), and a window's PUBACKs are awaited before the next one goes out.
inline constexpr std::size_t k_publish_window = 1'000;
// Pending device wake-ups (devices that came online) held for the dispatcher; past it the
// dispatcher falls back to claim_for_online for every online device.
inline constexpr std::size_t k_max_pending_devices = 100'000;

// Retained device messages waiting to be cleared at the broker; past it a topic is cleared the
// next time the broker replays it (it is dropped by ingest either way).
inline constexpr std::size_t k_max_pending_clears = 10'000;

// Devices remembered as having a stored state (ingest and dispatcher each); past it the set is
// emptied, which costs one store look-up per device seen again, never a wrong refresh.
inline constexpr std::size_t k_max_state_known_devices = 200'000;
// Devices asked about by refresh_missing_state in one store transaction; the rest wait for the
// next step, so one transaction stays as short as a batch.
inline constexpr std::size_t k_max_refresh_per_call = 1'000;

}  // namespace aterm::bridge::limits
