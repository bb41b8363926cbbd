// ping and state.refresh: the ops that need nothing from the backend.
#include "op_handler.h"

namespace aterm::agent::ops {

op_outcome run_ping(op_context&, const cJSON*) {
  op_outcome o;
  o.result_json = "{\"pong\":true}";
  return o;
}

op_outcome run_state_refresh(op_context& ctx, const cJSON*) {
  ctx.request_snapshot();
  return {};
}

}  // namespace aterm::agent::ops
