// The handlers of the ops, one file per op or op family under agent/src/ops/ (technician logins
// under agent/src/logins/). A handler gets its arguments already checked against the command
// table, defaults filled in, and answers with an outcome; it never touches the session or the
// journal.
// Thread: the agent thread.
#pragma once

#include "aterm/agent/op_dispatch.h"

namespace aterm::agent::ops {

// The outcome of a failed status: its op_error decides rejected / unsupported / error.
op_outcome failure(const common::status& st);
// The outcome of a result<std::string> holding the result object text.
op_outcome from_result(const common::result<std::string>& r);

using op_handler = op_outcome (*)(op_context& ctx, const cJSON* args);

// The handler of every op of the table.
op_handler handler_for(common::commands::op_id id);

// One function per op, each in the file named after its op or op family.
op_outcome run_ping(op_context& ctx, const cJSON* args);
op_outcome run_state_refresh(op_context& ctx, const cJSON* args);
op_outcome run_reboot(op_context& ctx, const cJSON* args);
op_outcome run_config_get(op_context& ctx, const cJSON* args);
op_outcome run_config_set(op_context& ctx, const cJSON* args);
op_outcome run_diag_ping(op_context& ctx, const cJSON* args);
op_outcome run_diag_traceroute(op_context& ctx, const cJSON* args);
op_outcome run_diag_dns(op_context& ctx, const cJSON* args);
op_outcome run_factory_reset(op_context& ctx, const cJSON* args);
op_outcome run_log_tail(op_context& ctx, const cJSON* args);
op_outcome run_technician_login_install(op_context& ctx, const cJSON* args);
op_outcome run_technician_login_revoke(op_context& ctx, const cJSON* args);
op_outcome run_technician_login_secret(op_context& ctx, const cJSON* args);

}  // namespace aterm::agent::ops
