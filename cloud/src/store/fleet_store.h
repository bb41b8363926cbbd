// The fleet's store methods (store.h, "fleet" block) as statements on one connection, written
// once for both engines; sql_store.cpp runs each in its transaction.
// REQUIRES of every function: inside a transaction of `db` (a write one where it changes rows).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "aterm/cloud/config_profile_port.h"
#include "aterm/cloud/model.h"
#include "aterm/common/status.h"
#include "sql/sql.h"

namespace aterm::cloud::store_sql {

using sql::connection;

// store::remove_device.
common::status remove_device(connection& db, const std::string& company_id,
                             const std::string& device_id);
// store::summarize_fleet.
fleet_summary summarize_fleet(connection& db, const std::string& company_id);

// Configuration profiles (security/config_profile.h).
// Keeps the hash of the profile of `settings_json` (NULL: none) with destination `id`.
// REQUIRES: settings_json passed security::profile_of.
void set_destination_profile(connection& db, const config_profile_port& profiles, std::int64_t id,
                             const std::string& settings_json);
// The ids of the destination's devices.
std::vector<std::string> destination_devices(connection& db, std::int64_t id);
// The config.set a registered device needs now to reach its destination's profile.
struct profile_command {
  std::string company_id;
  new_command command;
  std::string hash;  // of the profile it carries
  std::int64_t next_rev = 0;
};
std::optional<profile_command> profile_command_due(connection& db,
                                                   const config_profile_port& profiles,
                                                   const std::string& device_id,
                                                   std::int64_t now_s);
// The device's profile command is `command_id`, carrying `due`.
void record_profile_command(connection& db, const std::string& device_id,
                            const std::string& command_id, const profile_command& due);

}  // namespace aterm::cloud::store_sql
