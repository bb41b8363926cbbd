// log.tail: the agent's own recent log lines, from the in-memory ring of common/log (which only
// ever holds what was logged, and secrets are never logged). In a process that runs several
// routers (simulate) a router sees its own lines and those that name no device.
#include <algorithm>

#include "aterm/common/log.h"
#include "op_handler.h"

namespace aterm::agent::ops {

namespace {

bool mine(std::string_view line, const std::string& device_id) {
  const auto at = line.find(" device=");
  if (at == std::string_view::npos) return true;
  const auto value = line.substr(at + 8);
  return value.substr(0, device_id.size()) == device_id &&
         (value.size() == device_id.size() || value[device_id.size()] == ' ');
}

}  // namespace

op_outcome run_log_tail(op_context& ctx, const cJSON* args) {
  const auto wanted = static_cast<std::size_t>(*common::json_int(args, "lines"));
  const auto all = common::recent_log_lines();
  std::vector<const std::string*> kept;
  for (auto it = all.rbegin(); it != all.rend() && kept.size() < wanted; ++it) {
    if (mine(*it, ctx.device_id)) kept.push_back(&*it);
  }
  std::reverse(kept.begin(), kept.end());
  common::json_ptr out(cJSON_CreateObject());
  cJSON* lines = cJSON_AddArrayToObject(out.get(), "lines");
  for (const auto* l : kept) cJSON_AddItemToArray(lines, cJSON_CreateString(l->c_str()));
  op_outcome o;
  o.result_json = common::print_json(out.get());
  return o;
}

}  // namespace aterm::agent::ops
