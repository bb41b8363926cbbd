// A destination's configuration profile (docs/http-api.md, "Configuration profiles"): the
// "config" member of its settings is the configuration every router of the destination should
// have, in the vocabulary of config.set (dotted keys to strings, numbers, booleans; the
// command table checks it). The cloud brings a router to it with one config.set at a time
// through the command outbox. A router's state reports only its config_rev, so the profile
// counts as applied while the router's revision is the one its config.set answered; a revision
// that moved on (a change on the router, a factory reset) is applied again.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aterm/cloud/config_profile_port.h"
#include "aterm/cloud/model.h"
#include "aterm/common/status.h"

namespace aterm::cloud::security {

struct config_profile {
  std::string values_json;  // compact JSON object: config.set's "values"
  std::string hash;         // lowercase hex SHA-256 of values_json: which profile a router got
};

// The profile of a destination's settings (a JSON object); nullopt when they have no "config".
// Error "bad_profile" naming the problem when "config" is not what config.set takes.
common::result<std::optional<config_profile>> profile_of(std::string_view settings_json);

enum class profile_sync { none, in_sync, pending, failed };
std::string_view to_string(profile_sync s);

struct profile_view {
  profile_sync sync = profile_sync::none;
  std::string reason;  // why it failed, or what a pending profile waits for
};
profile_view profile_state(const device_profile& f);

// The config.set to queue now, or nullopt: none while one is queued or sent, none without a
// reported revision, none when the profile is applied, and not again for a profile the router
// refused at the same revision (it would refuse it again).
struct profile_action {
  std::string args_json;  // {"rev": reported, "values": profile}
  std::int64_t next_rev = 0;
};
std::optional<profile_action> profile_due(const device_profile& f, const config_profile& profile);

// These functions as the store's config_profile_port (config_profile_port.h): every store is
// opened with it (store_options::rules).
std::shared_ptr<const config_profile_port> config_profile_rule();

}  // namespace aterm::cloud::security
