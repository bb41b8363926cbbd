#include "aterm/common/log.h"
#include "op_handler.h"

namespace aterm::agent {

namespace cmd = common::commands;
using common::protocol::result_status;

namespace ops {

op_outcome failure(const common::status& st) {
  op_outcome o;
  switch (cmd::error_of(st)) {
    case cmd::op_error::bad_args:
    case cmd::op_error::stale_rev:
      o.status = result_status::rejected;
      break;
    case cmd::op_error::unsupported:
      o.status = result_status::unsupported;
      break;
    case cmd::op_error::failed:
    case cmd::op_error::io:
      o.status = result_status::error;
      break;
  }
  o.error = st.message();
  return o;
}

op_outcome from_result(const common::result<std::string>& r) {
  if (!r.ok()) return failure(r.error());
  op_outcome o;
  o.result_json = *r;
  return o;
}

op_handler handler_for(cmd::op_id id) {
  switch (id) {
    case cmd::op_id::ping:
      return run_ping;
    case cmd::op_id::state_refresh:
      return run_state_refresh;
    case cmd::op_id::reboot:
      return run_reboot;
    case cmd::op_id::config_get:
      return run_config_get;
    case cmd::op_id::config_set:
      return run_config_set;
    case cmd::op_id::diag_ping:
      return run_diag_ping;
    case cmd::op_id::diag_traceroute:
      return run_diag_traceroute;
    case cmd::op_id::diag_dns:
      return run_diag_dns;
    case cmd::op_id::factory_reset:
      return run_factory_reset;
    case cmd::op_id::log_tail:
      return run_log_tail;
    case cmd::op_id::technician_login_install:
      return run_technician_login_install;
    case cmd::op_id::technician_login_revoke:
      return run_technician_login_revoke;
    case cmd::op_id::technician_login_secret:
      return run_technician_login_secret;
  }
  return nullptr;
}

}  // namespace ops

common::result<common::json_ptr> op_arguments(std::string_view op, std::string_view args_json) {
  const auto* spec = cmd::find_op(op);
  if (spec == nullptr)
    return cmd::op_failure(cmd::op_error::unsupported, "unknown op \"" + std::string(op) + "\"");
  auto parsed = common::parse_json(args_json);
  if (!parsed.ok()) return cmd::op_failure(cmd::op_error::bad_args, "args must be an object");
  return cmd::check_args(*spec, parsed->get());
}

bool has_handler(cmd::op_id id) {
  return ops::handler_for(id) != nullptr;
}

op_outcome run_op(op_context& ctx, std::string_view op, std::string_view args_json) {
  auto args = op_arguments(op, args_json);
  if (!args.ok()) return ops::failure(args.error());
  const auto& spec = *cmd::find_op(op);
  if (!ctx.be.supports(spec.needs))
    return ops::failure(cmd::op_failure(cmd::op_error::unsupported,
                                        std::string(op) + " is not configured on this router"));
  return ops::handler_for(spec.id)(ctx, args->get());
}

}  // namespace aterm::agent
