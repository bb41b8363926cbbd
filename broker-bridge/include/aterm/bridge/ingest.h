// Ingest: turns raw device messages into validated batches for the store (DESIGN.md section 3,
// "Bad input at the bridge"). The topic gives the device id and kind; the payload is decoded
// strictly against that device id. Bad input is counted per reason, logged at most once per
// device per interval, and dropped before it reaches the store. Good messages are applied in
// batches by group commit: the owner hands over whatever is queued, tick() applies it at once
// (one store_port::apply_batch, split at batch_max), and what arrives while that commit runs
// waits in the queue for the next one. A lone result is committed as soon as it arrives and
// batches grow by themselves under load, so no timer puts a floor under a command's round trip.
// A batch_delay above 0 holds a batch up to that long after its first message for more (fewer,
// larger transactions where a commit costs a lot more than its rows).
//
// Thread: single-threaded. The bridge's ingest thread owns it (tests drive it directly). The
// online sink is called on that thread after each committed batch.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "aterm/bridge/metrics.h"
#include "aterm/bridge/store_port.h"
#include "aterm/common/clock.h"

namespace aterm::bridge {

// One message as it came from the broker.
struct raw_message {
  std::string topic;
  std::string payload;
  std::int64_t received_ms = 0;     // unix ms, the bridge's clock
  common::mono_time received_mono;  // for the batch age metric
  // The broker delivered a stored retained message (at subscribe), not a live publish.
  bool retained = false;
  // Not a device message: the mark the bridge queues when it lost the broker (at received_ms),
  // behind every message received before (ingest::accept, ingest_queue::push).
  bool link_lost = false;
};

struct ingest_settings {
  std::size_t batch_max = 1000;  // Default: 1000.
  // How long a batch may wait after its first message for more. Default: 0 (group commit).
  std::chrono::milliseconds batch_delay{0};
  std::chrono::milliseconds bad_input_log_interval{60'000};  // Default: 1 min per device.
};

// At most one log line per key per interval; counts what it held back. Single-threaded.
class rate_limited_log {
 public:
  explicit rate_limited_log(std::chrono::milliseconds interval) : interval_(interval) {}
  // When a line for `key` may be written at `now`: the number of lines suppressed for it since
  // the last one. nullopt: suppress (and count) this one.
  std::optional<std::uint64_t> admit(const std::string& key, common::mono_time now);

 private:
  struct entry {
    common::mono_time last;
    std::uint64_t suppressed = 0;
  };
  std::chrono::milliseconds interval_;
  std::unordered_map<std::string, entry> entries_;
};

// Hashes std::string and std::string_view alike, so an unordered container of strings is looked
// up by string_view without building a std::string (C++20 heterogeneous lookup).
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

class ingest {
 public:
  // Called with the devices whose due commands should be published now: the store's
  // came_online plus every device whose last presence in the batch says online (a device can
  // reconnect without an offline in between, e.g. after a broker restart).
  using online_sink = std::function<void(std::vector<std::string> devices)>;

  // Called with the devices of a committed batch that showed they are online (any message)
  // but whose state this ingest has not seen in any batch: the dispatcher asks the store
  // whether a state.refresh is needed (store_port::refresh_missing_state). A presence offline
  // as the device's last message in the batch excludes it.
  using device_sink = std::function<void(std::vector<std::string> devices)>;

  ingest(ingest_settings settings, store_port& store, common::clock& clock, bridge_metrics& metrics,
         online_sink on_online = {}, device_sink on_state_unknown = {});

  // Validates `m`; a good message joins the batch, which is applied when it reaches batch_max.
  // A link_lost mark applies the batch, then store_port::presence_unvouched as of the loss, and
  // forgets which devices' states it saw (they say nothing about the snapshots a router sends
  // while the bridge is away).
  // A retained message is applied only on the presence topic: a retained state, result or event
  // would be replayed at every subscribe (a result or event a second time into the access log),
  // so it is dropped (reason `retained`); the bridge also clears it at the broker (bridge.h).
  void accept(raw_message m);
  // Applies the batch when batch_delay has passed since its first message: at once with the
  // default 0. Returns when the current batch is due (nullopt when it is empty).
  std::optional<common::mono_time> tick();
  // Applies the batch now (no-op when empty). While the store answers k_store_unavailable the
  // call waits (backoff, limits.h) and tries again with the batch kept, until it is stored or
  // abandon_waits() is called; any other refusal is tried k_store_attempts times in all, then
  // the batch is dropped and counted (store_lost).
  void flush();
  // Ends the current and every later wait for an unavailable store: the batch in hand is
  // dropped and counted (the bridge stops). The one call that any thread may make.
  void abandon_waits();
  std::size_t pending() const { return batch_.size(); }

 private:
  void link_lost(std::int64_t at_ms);
  void drop(const std::string& device_key, const std::string& topic, bad_reason reason,
            const std::string& detail);
  // Waits `wait` (real time); false when abandon_waits() ended the wait.
  bool pause(std::chrono::milliseconds wait);

  ingest_settings settings_;
  store_port& store_;
  common::clock& clock_;
  bridge_metrics& metrics_;
  online_sink on_online_;
  device_sink on_state_unknown_;
  // Devices with a state message in a committed batch (bounded, limits.h).
  std::unordered_set<std::string, string_hash, std::equal_to<>> state_seen_;
  std::vector<device_message> batch_;
  common::mono_time batch_started_;  // when the first message of batch_ was accepted
  common::mono_time oldest_received_;
  rate_limited_log log_;
  std::mutex pause_mu_;
  std::condition_variable pause_cv_;
  bool abandoned_ = false;  // guarded by pause_mu_
};

}  // namespace aterm::bridge
