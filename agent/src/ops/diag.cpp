// diag.ping, diag.traceroute, diag.dns: the host names were checked by the command table
// (common::commands::valid_host) before the backend hands them to a program.
#include "op_handler.h"

namespace aterm::agent::ops {

op_outcome run_diag_ping(op_context& ctx, const cJSON* args) {
  return from_result(ctx.be.diag_ping(*common::json_string(args, "host"),
                                      static_cast<int>(*common::json_int(args, "count"))));
}

op_outcome run_diag_traceroute(op_context& ctx, const cJSON* args) {
  return from_result(ctx.be.diag_traceroute(*common::json_string(args, "host"),
                                            static_cast<int>(*common::json_int(args, "max_hops"))));
}

op_outcome run_diag_dns(op_context& ctx, const cJSON* args) {
  return from_result(
      ctx.be.diag_dns(*common::json_string(args, "name"), common::json_string(args, "server")));
}

}  // namespace aterm::agent::ops
