// config.get and config.set; a change is announced as config.changed and in a snapshot.
#include "op_handler.h"

namespace aterm::agent::ops {

op_outcome run_config_get(op_context& ctx, const cJSON* args) {
  std::vector<std::string> keys;
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(args, "keys")) {
    keys.emplace_back(item->valuestring);
  }
  return from_result(ctx.be.config_get(keys));
}

op_outcome run_config_set(op_context& ctx, const cJSON* args) {
  const cJSON* values = cJSON_GetObjectItemCaseSensitive(args, "values");
  auto set = ctx.be.config_set(*common::json_int(args, "rev"), common::print_json(values));
  if (!set.ok()) return failure(set.error());
  op_outcome o;
  o.result_json = "{\"rev\":" + std::to_string(*set) + "}";
  common::json_ptr ev(cJSON_CreateObject());
  cJSON_AddNumberToObject(ev.get(), "rev", static_cast<double>(*set));
  cJSON* keys = cJSON_AddArrayToObject(ev.get(), "keys");
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, values) cJSON_AddItemToArray(keys, cJSON_CreateString(item->string));
  ctx.queue_event(common::commands::event_type::config_changed, common::print_json(ev.get()));
  ctx.request_snapshot();
  return o;
}

}  // namespace aterm::agent::ops
