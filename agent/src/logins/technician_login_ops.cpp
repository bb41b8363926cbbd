// technician_login.install, .revoke and .secret (DESIGN.md section 4, docs/security.md). The
// install arguments are decoded by common's one decoder
// (commands::decode_technician_login_install).
#include "../ops/op_handler.h"

namespace aterm::agent::ops {

op_outcome run_technician_login_install(op_context& ctx, const cJSON* args) {
  auto st = ctx.logins.install(common::print_json(args));
  if (st.ok()) return {};
  return failure(st);
}

op_outcome run_technician_login_revoke(op_context& ctx, const cJSON* args) {
  auto done = ctx.logins.revoke(*common::json_string(args, "login_id"));
  if (!done.ok()) return failure(done.error());
  return {};
}

op_outcome run_technician_login_secret(op_context& ctx, const cJSON* args) {
  auto st = ctx.logins.set_secret(*common::json_string(args, "secret"));
  if (st.ok()) return {};
  return failure(st);
}

}  // namespace aterm::agent::ops
