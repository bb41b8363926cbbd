// Runs one op of the command table (aterm/common/command_table.h) on the agent: checks its
// arguments against the table, refuses what the backend cannot do, and calls the op's handler.
// The command runner (journal, dedup, deadlines) calls it; tests call it directly.
// Thread: the agent thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "aterm/agent/backend.h"
#include "aterm/agent/login_store.h"
#include "aterm/common/command_table.h"
#include "aterm/common/json.h"
#include "aterm/common/protocol.h"

namespace aterm::agent {

// What a handler may use of the agent.
struct op_context {
  backend& be;
  login_store& logins;
  const std::string& device_id;
  // Asks for a state snapshot (paced by the state publisher).
  std::function<void()> request_snapshot;
  std::function<void(common::commands::event_type, std::string fields_json)> queue_event;
};

struct op_outcome {
  common::protocol::result_status status = common::protocol::result_status::ok;
  std::string result_json = "{}";
  std::string error;
  // reboot: the reboot starts this long after the answer went out.
  std::optional<std::chrono::seconds> reboot_after;
};

// The arguments the handler of `op` runs with: `args_json` checked against the table, defaults
// filled in. Errors: "unsupported" (unknown op), "bad_args".
common::result<common::json_ptr> op_arguments(std::string_view op, std::string_view args_json);

// True when the agent has a handler for `id`.
bool has_handler(common::commands::op_id id);

// Runs `op`: unknown → `unsupported`; bad arguments → `rejected`; a capability the backend
// lacks → `unsupported`; otherwise the handler's outcome.
op_outcome run_op(op_context& ctx, std::string_view op, std::string_view args_json);

}  // namespace aterm::agent
