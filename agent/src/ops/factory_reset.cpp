// factory_reset: the confirmation argument was checked by the command table; the backend runs
// hooks.factory_reset (linux) or clears its configuration (sim). A snapshot shows the new rev.
#include "aterm/common/log.h"
#include "op_handler.h"

namespace aterm::agent::ops {

op_outcome run_factory_reset(op_context& ctx, const cJSON*) {
  common::log(common::log_level::warn, "agent", "factory reset starts",
              {{"device", ctx.device_id}});
  if (auto st = ctx.be.factory_reset(); !st.ok()) return failure(st);
  ctx.request_snapshot();
  return {};
}

}  // namespace aterm::agent::ops
