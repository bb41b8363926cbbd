// The narrow store port the bridge needs (DESIGN.md section 2). The cloud implements it; the
// bridge is tested against a fake and never includes cloud headers. Implementations must be
// safe to call from the bridge's threads (ingest and dispatch) concurrently with the API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
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

class store_port {
 public:
  virtual ~store_port() = default;

  // Applies every message in one transaction: presence, latest state and bounded history,
  // results (a final result moves its command to exactly one final state; progress keeps it
  // open), events. All or nothing: on failure nothing of the batch is stored.
  virtual common::result<batch_outcome> apply_batch(std::span<const device_message> batch) = 0;

  // Commands of `device_id` without a final state whose deadline is after `now_s`, oldest
  // first, at most `limit`: the ones to publish when the device (re)connects.
  virtual common::result<std::vector<outbound_command>> due_commands(const std::string& device_id,
                                                                     std::int64_t now_s,
                                                                     std::size_t limit) = 0;

  // Commands still `queued` (never published) for devices currently online, oldest first:
  // the dispatcher polls this so commands queued by any instance or the API are sent promptly.
  virtual common::result<std::vector<outbound_command>> queued_for_online(std::int64_t now_s,
                                                                          std::size_t limit) = 0;

  // Commands without a final state (`queued` or `sent`) whose deadline is after `now_s`, for
  // every device currently online, oldest first, at most `limit`: what the bridge re-publishes
  // after its own MQTT reconnect (a broker that lost its queue, or an instance that took over).
  // The default returns only `queued` ones (queued_for_online); implementations should override
  // it so `sent` commands are re-published too.
  virtual common::result<std::vector<outbound_command>> due_for_online(std::int64_t now_s,
                                                                       std::size_t limit) {
    return queued_for_online(now_s, limit);
  }

  // Records that these commands were published (queued -> sent; attempts + 1).
  virtual common::status mark_sent(std::span<const std::string> ids, std::int64_t now_s) = 0;

  // Final state for commands whose deadline passed: never published -> expired, published
  // without a final result -> timed_out. Returns how many changed.
  virtual common::result<std::size_t> expire_overdue(std::int64_t now_s) = 0;
};

}  // namespace aterm::bridge
