// A destination's configuration profile as the store applies it in its own transactions (docs/
// http-api.md, "Configuration profiles"; security/config_profile.h implements this port:
// security::config_profile_rule()). The store keeps the settings, the profile's hash and each
// router's profile command; whether settings hold a valid profile and which config.set is due
// for a router are the rule's. Implementations are pure and shared by every thread of a store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aterm/cloud/model.h"
#include "aterm/common/status.h"

namespace aterm::cloud {

class config_profile_port {
 public:
  virtual ~config_profile_port() = default;

  // The hash of the profile in a destination's settings (a JSON object); nullopt when they hold
  // none. Error "bad_profile" naming the problem when the profile is not what config.set takes.
  virtual common::result<std::optional<std::string>> profile_hash(
      std::string_view settings_json) const = 0;

  // The config.set a router in state `f` is due under its destination's `settings_json`, or
  // nullopt.
  struct due_command {
    std::string args_json;
    std::int64_t next_rev = 0;
    std::string hash;  // of the profile it carries
  };
  virtual std::optional<due_command> due(const device_profile& f,
                                         std::string_view settings_json) const = 0;
};

}  // namespace aterm::cloud
