// Command dispatch (DESIGN.md sections 3 "Delivery" and 8): a command is committed to the store
// before it is published, published again on every reconnect of its device until a final
// result arrives or its deadline passes, and published by one instance at a time: the dispatcher
// publishes only what it claimed in the store (store_port::claim_due, claim_for_online)
//  - the due commands of each device that came online (posted by ingest after its batch) and
//    of each device the API posted a new command for (store_port::claim_due on that device:
//    the claim is the one commit between the API's and the publish),
//  - every queued command of online devices every poll,
//  - every command it claimed itself after the bridge's own reconnect,
//  - every command left sent without a final result for result_timeout (the router's journal
//    answers a repeated id with its stored result), every poll;
// the claim records the publish attempt, so nothing is committed between the broker's PUBACK and
// the router's result; it gives up the claim of a command the broker did not accept
// (release_claims), and every poll moves overdue commands to their final state.
//
// Missed snapshots: for devices ingest saw online without seeing their state, it asks the store
// to commit a state.refresh (store_port::refresh_missing_state) and publishes what was queued.
// It asks state_refresh_grace after the device was first seen, so the snapshot an agent sends
// right after its presence (possibly in the next batch, or through another instance) is stored
// by then. A device is asked about at most once per state_refresh_recheck; devices the store
// reports with a state are not asked about again until the broker loses the bridge's session
// (post_reconnected).
//
// Thread: one dispatch thread owns it and calls step(); post_* and wake() are thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "aterm/bridge/metrics.h"
#include "aterm/bridge/store_port.h"
#include "aterm/common/clock.h"

namespace aterm::bridge {

// Where commands go: the MQTT link in production, a fake in tests.
class command_publisher {
 public:
  virtual ~command_publisher() = default;
  // True while connected and subscribed.
  virtual bool connected() const = 0;
  // Publishes each command on aterm/v1/{device_id}/cmd (QoS 1, not retained) and waits until
  // the broker accepted it (PUBACK) or it failed. Returns the ids that were accepted.
  virtual std::vector<std::string> publish(std::span<const outbound_command> commands) = 0;
};

struct dispatch_settings {
  std::chrono::milliseconds poll{1000};  // Default: 1 s.
  // How long a device seen without state waits before the store is asked. Default: 3 s.
  std::chrono::milliseconds state_refresh_grace{3'000};
  // A device without state is asked about again only after this. Default: 1 min.
  std::chrono::milliseconds state_refresh_recheck{60'000};
  // Deadline of a state.refresh the bridge queues: one default state_interval_s, after which
  // the periodic snapshot would have come anyway. Default: 300 s.
  std::chrono::seconds state_refresh_deadline{300};
  // No new state.refresh while one of the device was created less than this ago, even a
  // finished one (a device whose snapshots never arrive gets one now and then, not a stream).
  // Default: 10 min.
  std::chrono::seconds state_refresh_retry{600};
  // This instance's name in its claims: its MQTT client id, one per instance. Default:
  // aterm-cloud.
  std::string instance = "aterm-cloud";
  // A command published this long ago without a final result is claimed and published again.
  // Default: 60 s.
  std::chrono::seconds result_timeout{60};
};

class dispatcher {
 public:
  dispatcher(dispatch_settings settings, store_port& store, command_publisher& publisher,
             common::clock& clock, bridge_metrics& metrics);

  // Thread-safe: devices that came online; their due commands are published.
  void post_online(std::vector<std::string> devices);
  // Thread-safe: a command was committed for `device_id`; its due commands are published if
  // it is online (the store knows which devices are online, across instances).
  void post_command(const std::string& device_id);
  // Thread-safe: the bridge (re)connected; every unfinished command of online devices is
  // published again. `unsubscribed_since` (unix ms): the broker kept no session for the bridge
  // across the loss of the link, so snapshots routers sent before then found no subscriber:
  // from now on a stored state older than that counts as missing, and every device is asked
  // about again (at most one state.refresh per device per state_refresh_retry all the same).
  void post_reconnected(std::optional<std::int64_t> unsubscribed_since = std::nullopt);
  // Thread-safe: devices seen online whose state ingest has not seen; see the header comment.
  void post_state_unknown(std::vector<std::string> devices);
  // Thread-safe: ends a wait() early.
  void wake();

  // Dispatch thread: waits until work is posted, wake() is called or `max` passes.
  void wait(std::chrono::milliseconds max);
  // Dispatch thread: does the posted work, then the poll when it is due. Posted work found
  // while disconnected is dropped: the pass after the reconnect covers it.
  void step();
  // When the next poll is due (by clock.mono()).
  common::mono_time next_poll() const { return next_poll_; }

 private:
  // Publishes claimed commands and releases the claims of those the broker did not accept;
  // returns how many it accepted.
  std::size_t publish_claims(std::vector<outbound_command> commands);
  // Claims and publishes the commands of online devices (store_port::claim_for_online), page
  // by page; `stale` also takes those whose result is overdue.
  void publish_claimed(bool stale);
  claim_request claim(bool stale) const;
  // Adds `devices` to state_pending_ (unless known or asked recently); asks the store about the
  // ones whose grace ended and publishes the state.refresh commands it queued.
  void refresh_missing_state(std::unordered_set<std::string> devices, bool connected);
  // Under mu_: `device` has commands due (online_), or the full pass once online_ is full.
  void add_due_locked(std::string device);

  dispatch_settings settings_;
  store_port& store_;
  command_publisher& publisher_;
  common::clock& clock_;
  bridge_metrics& metrics_;
  common::mono_time next_poll_;
  // Dispatch thread: devices the store reported with a state, and when each device without
  // one was last asked about (both bounded, limits.h).
  std::unordered_set<std::string> state_known_;
  std::unordered_map<std::string, common::mono_time> state_asked_;
  // Dispatch thread: devices seen without state, waiting for their grace to end, and since when.
  std::unordered_map<std::string, common::mono_time> state_pending_;
  // Dispatch thread: a stored state received before this (unix ms) counts as missing.
  std::int64_t stale_before_ms_ = std::numeric_limits<std::int64_t>::min();

  std::mutex mu_;  // guards the inbox below
  std::condition_variable cv_;
  std::unordered_set<std::string> online_;
  std::unordered_set<std::string> state_unknown_;
  bool overflow_ = false;  // online_ hit its limit: fall back to a full pass
  bool reconnected_ = false;
  std::optional<std::int64_t> unsubscribed_since_;
  bool woken_ = false;
};

}  // namespace aterm::bridge
