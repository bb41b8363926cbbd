#include "aterm/cloud/security/config_profile.h"

#include "aterm/common/command_table.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"

namespace aterm::cloud::security {

namespace {

bool open(const device_profile& f) {
  return f.sent_status == to_string(command_status::queued) ||
         f.sent_status == to_string(command_status::sent);
}

// The router answered the profile's config.set with a failure (not a lost or late delivery).
bool refused(const device_profile& f) {
  return f.sent_status == to_string(command_status::failed);
}

}  // namespace

common::result<std::optional<config_profile>> profile_of(std::string_view settings_json) {
  auto settings = common::parse_json(settings_json);
  if (!settings.ok() || !cJSON_IsObject(settings->get())) {
    return common::status::error("bad_profile", "settings must be a JSON object");
  }
  const cJSON* config = cJSON_GetObjectItemCaseSensitive(settings->get(), "config");
  if (config == nullptr) return std::optional<config_profile>();
  common::json_ptr args(cJSON_CreateObject());
  cJSON_AddNumberToObject(args.get(), "rev", 0);
  cJSON_AddItemToObject(args.get(), "values", cJSON_Duplicate(config, 1));
  auto checked = common::commands::check_args(
      common::commands::spec_of(common::commands::op_id::config_set), args.get());
  if (!checked.ok()) {
    return common::status::error("bad_profile",
                                 "settings.config: " + std::string(checked.error().message()));
  }
  config_profile p;
  p.values_json = common::print_json(config);
  p.hash = common::crypto::to_hex(common::crypto::sha256(p.values_json));
  return std::optional<config_profile>(std::move(p));
}

std::string_view to_string(profile_sync s) {
  switch (s) {
    case profile_sync::none:
      return "none";
    case profile_sync::in_sync:
      return "in_sync";
    case profile_sync::pending:
      return "pending";
    case profile_sync::failed:
      return "failed";
  }
  return "none";
}

profile_view profile_state(const device_profile& f) {
  if (f.wanted_hash.empty()) return {profile_sync::none, ""};
  if (open(f)) return {profile_sync::pending, "config.set sent"};
  if (!f.reported_rev) return {profile_sync::pending, "waiting for the router's state"};
  if (f.sent_hash == f.wanted_hash) {
    if (f.sent_status == to_string(command_status::succeeded) && f.sent_rev) {
      if (*f.reported_rev == *f.sent_rev) return {profile_sync::in_sync, ""};
      if (*f.reported_rev < *f.sent_rev)
        return {profile_sync::pending, "waiting for the router's state"};
    }
    if (refused(f)) {
      return {profile_sync::failed,
              f.sent_error.empty() ? std::string("the router refused config.set") : f.sent_error};
    }
  }
  return {profile_sync::pending, "waiting for the router"};
}

std::optional<profile_action> profile_due(const device_profile& f, const config_profile& profile) {
  if (open(f) || !f.reported_rev) return std::nullopt;
  const std::int64_t rev = *f.reported_rev;
  if (f.sent_hash == profile.hash && f.sent_rev) {
    // Applied, and the router has not changed its configuration since (or its state is older
    // than the answer).
    if (f.sent_status == to_string(command_status::succeeded) && rev <= *f.sent_rev)
      return std::nullopt;
    if (refused(f) && rev == *f.sent_rev - 1) return std::nullopt;
  }
  auto values = common::parse_json(profile.values_json);
  if (!values.ok()) return std::nullopt;
  common::json_ptr args(cJSON_CreateObject());
  cJSON_AddNumberToObject(args.get(), "rev", static_cast<double>(rev));
  cJSON_AddItemToObject(args.get(), "values", values->release());
  return profile_action{common::print_json(args.get()), rev + 1};
}

namespace {

class profile_rule final : public config_profile_port {
 public:
  common::result<std::optional<std::string>> profile_hash(
      std::string_view settings_json) const override {
    auto profile = profile_of(settings_json);
    if (!profile.ok()) return profile.error();
    if (!*profile) return std::optional<std::string>();
    return std::optional<std::string>((*profile)->hash);
  }

  std::optional<due_command> due(const device_profile& f,
                                 std::string_view settings_json) const override {
    auto profile = profile_of(settings_json);
    if (!profile.ok() || !*profile) return std::nullopt;
    auto action = profile_due(f, **profile);
    if (!action) return std::nullopt;
    return due_command{std::move(action->args_json), action->next_rev, (*profile)->hash};
  }
};

}  // namespace

std::shared_ptr<const config_profile_port> config_profile_rule() {
  static const auto rule = std::make_shared<const profile_rule>();
  return rule;
}

}  // namespace aterm::cloud::security
