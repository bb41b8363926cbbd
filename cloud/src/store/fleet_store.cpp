#include "fleet_store.h"

#include "aterm/bridge/store_port.h"
#include "aterm/cloud/limits.h"
#include "aterm/cloud/store.h"
#include "device_rows.h"

namespace aterm::cloud::store_sql {

common::status remove_device(connection& db, const std::string& company_id,
                             const std::string& device_id) {
  auto q = db.prepare("SELECT 1 FROM devices WHERE id = ? AND company_id = ?");
  q.bind(device_id).bind(company_id);
  // Another company's device is answered as a missing one.
  if (!q.step()) return common::status::error(std::string(k_not_found), "no such device");
  while (q.step()) {
  }
  release_device(db, device_id);
  return {};
}

fleet_summary summarize_fleet(connection& db, const std::string& company_id) {
  fleet_summary out;
  auto by_presence =
      db.prepare("SELECT presence, count(*) FROM devices WHERE company_id = ? GROUP BY presence");
  by_presence.bind(company_id);
  while (by_presence.step()) {
    const auto presence = by_presence.text(0);
    const auto n = by_presence.i64(1);
    out.devices += n;
    if (presence == to_string(presence_state::online)) {
      out.online += n;
    } else if (presence == to_string(presence_state::offline)) {
      out.offline += n;
    } else {
      out.unknown += n;
    }
  }
  // Walks devices_company_firmware: the versions come grouped in index order.
  auto by_firmware = db.prepare(
      "SELECT COALESCE(firmware, ''), count(*) AS n FROM devices WHERE company_id = ? "
      "GROUP BY firmware ORDER BY n DESC, 1 LIMIT ?");
  by_firmware.bind(company_id).bind(limits::k_max_summary_firmware);
  while (by_firmware.step()) out.firmware.emplace_back(by_firmware.text(0), by_firmware.i64(1));
  return out;
}

void set_destination_profile(connection& db, const config_profile_port& profiles, std::int64_t id,
                             const std::string& settings_json) {
  auto profile = profiles.profile_hash(settings_json);
  std::optional<std::string> hash;
  if (profile.ok()) hash = *profile;
  db.prepare("UPDATE destinations SET profile_hash = ? WHERE id = ?").bind(hash).bind(id).exec();
}

std::vector<std::string> destination_devices(connection& db, std::int64_t id) {
  std::vector<std::string> out;
  auto q = db.prepare("SELECT id FROM devices WHERE destination_id = ? ORDER BY id");
  q.bind(id);
  while (q.step()) out.push_back(q.text(0));
  return out;
}

std::optional<profile_command> profile_command_due(connection& db,
                                                   const config_profile_port& profiles,
                                                   const std::string& device_id,
                                                   std::int64_t now_s) {
  auto q = db.prepare(k_device_select + "WHERE d.id = ? AND d.company_id IS NOT NULL");
  q.bind(device_id);
  if (!q.step()) return std::nullopt;
  const device d = read_device(q);
  while (q.step()) {
  }
  if (d.profile.wanted_hash.empty() || !d.destination_id) return std::nullopt;
  auto settings = db.prepare("SELECT settings_json FROM destinations WHERE id = ?");
  settings.bind(*d.destination_id);
  if (!settings.step()) return std::nullopt;
  auto action = profiles.due(d.profile, settings.text(0));
  while (settings.step()) {
  }
  if (!action) return std::nullopt;
  profile_command out;
  out.company_id = d.company_id;
  out.command = new_command{device_id, "config.set", action->args_json,
                            now_s + limits::k_profile_command_timeout_s,
                            std::string(bridge::k_system_issuer)};
  out.hash = action->hash;
  out.next_rev = action->next_rev;
  return out;
}

void record_profile_command(connection& db, const std::string& device_id,
                            const std::string& command_id, const profile_command& due) {
  db.prepare(
        "UPDATE devices SET profile_command_id = ?, profile_hash = ?, profile_rev = ? "
        "WHERE id = ?")
      .bind(command_id)
      .bind(due.hash)
      .bind(due.next_rev)
      .bind(device_id)
      .exec();
}

}  // namespace aterm::cloud::store_sql
