// Commands an operator may send through the API, checked against the command table in common/
// (the same table the agent dispatches from). A command that passes is stored as it will be
// delivered, with every defaulted argument filled in, so nothing the device would reject is ever
// stored and both ends run the same values.
#include "aterm/cloud/api/command_catalogue.h"

#include "api_internal.h"

namespace aterm::cloud::api {

namespace {

// args are part of a message the broker caps at 64 KiB; leave room for the envelope.
constexpr std::size_t k_max_args_bytes = 32 * 1024;

common::status command_refusal(std::string_view reason, std::string message) {
  return common::status::error(std::string(reason), std::move(message));
}

}  // namespace

common::result<validated_command> validate_command(std::string_view op, const cJSON* args) {
  const auto* spec = common::commands::find_op(op);
  // The op is the client's text and may be large: the refusal does not echo it.
  if (spec == nullptr) return command_refusal("unknown_op", "unknown op");
  if (!spec->operator_issued) {
    return command_refusal("not_operator_issued",
                           std::string(op) + " is issued through /devices/{id}/technician-logins");
  }
  auto checked = common::commands::check_args(*spec, args);
  if (!checked.ok()) return command_refusal("bad_args", checked.error().message());
  validated_command v;
  v.op = std::string(op);
  v.args_json = common::print_json(checked->get());
  v.audit_warning = spec->audit_warning;
  if (v.args_json.size() > k_max_args_bytes)
    return command_refusal("args_too_large", "args too large");
  return v;
}

common::json_ptr command_catalogue_json() {
  namespace cmd = common::commands;
  common::json_ptr out(cJSON_CreateObject());
  cJSON* ops = cJSON_AddArrayToObject(out.get(), "ops");
  for (const auto& op : cmd::op_table()) {
    if (!op.operator_issued) continue;
    cJSON* o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "op", std::string(op.name).c_str());
    cJSON* args = cJSON_AddArrayToObject(o, "args");
    for (const auto& a : op.args) {
      cJSON* j = cJSON_CreateObject();
      cJSON_AddStringToObject(j, "name", std::string(a.name).c_str());
      cJSON_AddStringToObject(j, "type", std::string(to_string(a.type)).c_str());
      cJSON_AddBoolToObject(j, "required", a.required);
      if (a.type == cmd::arg_type::integer || a.type == cmd::arg_type::hex) {
        cJSON_AddNumberToObject(j, "min", static_cast<double>(a.min));
        cJSON_AddNumberToObject(j, "max", static_cast<double>(a.max));
      }
      if (a.default_value)
        cJSON_AddNumberToObject(j, "default", static_cast<double>(*a.default_value));
      if (!a.literal.empty()) cJSON_AddStringToObject(j, "literal", std::string(a.literal).c_str());
      cJSON_AddItemToArray(args, j);
    }
    cJSON* fields = cJSON_AddArrayToObject(o, "result");
    for (auto f : op.result_fields)
      cJSON_AddItemToArray(fields, cJSON_CreateString(std::string(f).c_str()));
    cJSON_AddBoolToObject(o, "warning", op.audit_warning);
    cJSON_AddItemToArray(ops, o);
  }
  return out;
}

}  // namespace aterm::cloud::api
