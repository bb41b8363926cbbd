// The commands an operator may send (POST /api/v1/devices/{id}/commands), checked against the
// command table of common/ (aterm/common/command_table.h). Pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "aterm/common/command_table.h"
#include "aterm/common/json.h"

namespace aterm::cloud::api {

struct validated_command {
  std::string op;
  std::string args_json;       // normalised compact JSON object, defaulted arguments filled in
  bool audit_warning = false;  // a destructive op: audited and logged as a warning
};
// Checks `op` against the command table and `args` (nullptr: absent) against its arguments.
// Ops the cloud issues itself (technician_login.*) are refused: they go through their own routes.
// The error's code is the reason (the API answers it as 400 bad_command {reason}): unknown_op,
// not_operator_issued, bad_args (the message names the argument) or args_too_large.
common::result<validated_command> validate_command(std::string_view op, const cJSON* args);

// GET /api/v1/commands/catalogue, what the dashboard builds its command form from: the ops an
// operator may send, {"ops":[{"op":..,"args":[{"name":..,"type":..,"required":..,"min":..,
// "max":..,"default":..,"literal":..}],"result":[..],"warning":bool}]} (min/max for integer and
// hex arguments, default and literal where the table has one).
common::json_ptr command_catalogue_json();

}  // namespace aterm::cloud::api
