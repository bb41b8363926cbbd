// The narrow store port the bridge needs (DESIGN.md section 2). The cloud implements it; the
// bridge is tested against a fake and never includes cloud headers. Implementations must be
// safe to call from the bridge's threads (ingest and dispatch) concurrently with the API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "aterm/common/protocol.h"
#include "aterm/common/status.h"

namespace aterm::bridge {

namespace protocol = common::protocol;

// One validated message from a device.
struct device_message {
  std::string device_id;
  protocol::topic_kind kind = protocol::topic_kind::state;  // never cmd
  std::int64_t received_ms = 0;                             // unix ms, by the bridge's clock
  std::string payload;                                      // the validated JSON text
  std::variant<protocol::presence, protocol::state_snapshot, protocol::command_result,
               protocol::event>
      body;
};

struct batch_outcome {
  // Devices whose presence turned online in this batch: their due commands are published next.
  std::vector<std::string> came_online;
  // Results for commands that do not exist, belong to another device or are already final.
  std::vector<std::string> dropped_result_devices;
  // Devices whose technician-login event was not recorded in the access log: a login id the
  // device does not hold, or past the device's rate of such records (one entry per event).
  std::vector<std::string> unrecorded_event_devices;
  // Devices not registered to any company that were seen (kept as unassigned).
  std::size_t unassigned = 0;
};

// A command to publish on aterm/v1/{device_id}/cmd.
struct outbound_command {
  std::string id;
  std::string device_id;
  std::string payload;  // encoded protocol::command
  std::int64_t deadline_s = 0;
};

// What refresh_missing_state did.
struct state_refresh_outcome {
  // The state.refresh commands it committed (queued), to claim and publish now.
  std::vector<outbound_command> queued;
  // Devices that have a stored state: the bridge stops asking about them.
  std::vector<std::string> have_state;
};

// Who claims commands for publication and what it may take over (store_port::claim_due and
// claim_for_online).
struct claim_request {
  std::string instance;     // the claiming instance's name (its MQTT client id)
  std::int64_t now_ms = 0;  // unix ms, by the instance's clock
  // Also re-claim sent commands claimed at or before this (unix ms): their result is overdue.
  // Default: none.
  std::int64_t stale_before_ms = std::numeric_limits<std::int64_t>::min();
  // Also re-claim sent commands this instance claimed. Default: no.
  bool own = false;
};

// The error code of a call the store could not run because its database is unreachable for now
// (connection lost, server restarting) even after the store's own retries: nothing of the call
// was stored, and the same call may succeed later. Ingest keeps such a batch and tries again.
inline constexpr std::string_view k_store_unavailable = "store_unavailable";

// The op and issuer of the commands refresh_missing_state commits (DESIGN.md section 3).
inline constexpr std::string_view k_state_refresh_op = "state.refresh";
inline constexpr std::string_view k_system_issuer = "system";

class store_port {
 public:
  virtual ~store_port() = default;

  // Applies every message in one transaction: presence, latest state and bounded history,
  // results (a final result moves its command to exactly one final state; progress keeps it
  // open), events. All or nothing: on failure nothing of the batch is stored.
  virtual common::result<batch_outcome> apply_batch(std::span<const device_message> batch) = 0;

  // Each command is published by exactly one instance (DESIGN.md section 8): an instance claims
  // commands in the store (one write transaction moves each to `sent`, recording the claiming
  // instance, the claim time and the device's connection it was claimed in, and counts the
  // publish attempt: attempts + 1, the first publish time) and publishes only what it claimed.
  // Counting at the claim keeps the commit out of the round trip (no second one after the
  // broker's PUBACK, which the router's result would wait behind); a claim whose publish the
  // instance never made (it died first) counts as an attempt, like a publish that was lost. The
  // claim calls below return the commands whose deadline is after `now_ms`, oldest first, at most
  // `limit`, for devices whose presence is online.

  // Commands of `device_id` due now that it came online or that a command was queued for it:
  // its queued ones, and its sent ones not
  // claimed since the device's current connection began (a publish the device may have missed
  // while it was away). Every instance sees the device's presence; only the first to ask for
  // this connection gets the sent ones.
  virtual common::result<std::vector<outbound_command>> claim_due(const std::string& device_id,
                                                                  const claim_request& request,
                                                                  std::size_t limit) = 0;

  // The same for every online device, plus the re-claims `request` asks for: sent commands
  // without a final result claimed at or before `stale_before_ms`, and sent commands claimed by
  // this instance (`own`, after its own MQTT reconnect). The dispatcher calls it every poll, so
  // a command queued through another instance is sent even if that one cannot.
  virtual common::result<std::vector<outbound_command>> claim_for_online(
      const claim_request& request, std::size_t limit) = 0;

  // The broker did not accept these claimed commands: the claims of `instance` on them end and
  // their attempt is no longer counted, so the next claim by any instance takes them again (one
  // never published is queued again).
  virtual common::status release_claims(std::span<const std::string> ids,
                                        const std::string& instance) = 0;

  // Devices the bridge saw online (a presence online or any other message) without having seen
  // their state. In one transaction, for each device that has no stored state received at or
  // after `stale_before_ms` (unix ms; the minimum: any stored state counts) and no
  // state.refresh command that is unfinished or was created after `not_before_s`, commits a
  // queued state.refresh command (published through a claim like any other) ({} args, deadline
  // `deadline_s`, issuer k_system_issuer, the device's company or none for an unassigned device),
  // so a snapshot the bridge missed (the agent publishes it unretained on connect) is asked for
  // once instead of waiting for the periodic one. After the broker lost the bridge's session
  // (a broker restart), `stale_before_ms` is when the bridge subscribed again: a snapshot a
  // router sent before that found no subscriber, so an older stored one counts as missing.
  // The default asks for nothing and reports every device as having state; implementations
  // should override it.
  virtual common::result<state_refresh_outcome> refresh_missing_state(
      std::span<const std::string> devices, std::int64_t deadline_s, std::int64_t not_before_s,
      std::int64_t stale_before_ms) {
    (void)deadline_s;
    (void)not_before_s;
    (void)stale_before_ms;
    return state_refresh_outcome{{}, {devices.begin(), devices.end()}};
  }

  // The bridge lost its broker connection. A crashed broker sends no Last Will, so nothing says
  // which routers are still connected: every device whose presence is online and that was not
  // heard from after `heard_before_ms` (unix ms; by another instance, say) becomes unknown,
  // until the broker confirms it again with its presence: the retained one it replays when
  // the bridge subscribes again, or the one the device publishes when it reconnects (a state
  // alone does not: a device may publish states without ever sending a presence). Returns
  // how many devices changed.
  virtual common::result<std::size_t> presence_unvouched(std::int64_t heard_before_ms) = 0;

  // Final state for commands whose deadline passed: never published -> expired, published
  // without a final result -> timed_out. Returns how many changed.
  virtual common::result<std::size_t> expire_overdue(std::int64_t now_s) = 0;
};

}  // namespace aterm::bridge
