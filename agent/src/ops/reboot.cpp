// reboot: answered `ok` first; the command runner starts the reboot after delay_s, once the
// answer is on its way.
#include "op_handler.h"

namespace aterm::agent::ops {

op_outcome run_reboot(op_context&, const cJSON* args) {
  op_outcome o;
  o.reboot_after = std::chrono::seconds(*common::json_int(args, "delay_s"));
  return o;
}

}  // namespace aterm::agent::ops
