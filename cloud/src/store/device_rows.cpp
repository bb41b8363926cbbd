#include "device_rows.h"

namespace aterm::cloud::store_sql {

const std::string k_device_select =
    "SELECT d.id, COALESCE(d.company_id, ''), d.destination_id, COALESCE(t.name, ''), "
    "d.presence, d.agent_version, d.last_seen_ms, COALESCE(d.state_json, ''), "
    "d.state_received_ms, d.registered_at_s, d.first_seen_ms "
    "FROM devices d LEFT JOIN destinations t ON t.id = d.destination_id ";

device read_device(const query& q) {
  device d;
  d.id = q.text(0);
  d.company_id = q.text(1);
  d.destination_id = q.opt_i64(2);
  d.destination_name = q.text(3);
  auto p = q.text(4);
  d.presence = p == "online"    ? presence_state::online
               : p == "offline" ? presence_state::offline
                                : presence_state::unknown;
  d.agent_version = q.text(5);
  d.last_seen_ms = q.opt_i64(6);
  d.state_json = q.text(7);
  d.state_received_ms = q.opt_i64(8);
  d.registered_at_s = q.opt_i64(9);
  d.first_seen_ms = q.opt_i64(10);
  return d;
}

device_list_sql list_devices_sql(sql::dialect dialect, bool by_presence, bool search, bool by_tag) {
  // Distinct texts per filter (not "? IS NULL OR ..." terms) so the planner sees the presence
  // equality and picks the index that holds it.
  std::string where = "d.company_id = ? ";
  if (by_presence) where += "AND d.presence = ? ";
  where += "AND d.id > ? ";
  if (by_tag) {
    where +=
        "AND EXISTS (SELECT 1 FROM device_tags g WHERE g.device_id = d.id AND g.tag = ? "
        "AND g.company_id = d.company_id) ";
  }
  device_list_sql out;
  if (search) {
    out.scan_end = "SELECT d.id FROM devices d WHERE " + where + "ORDER BY d.id LIMIT 1 OFFSET ?";
    // The substring test on the id alone is answered from the index; only matches read the
    // table.
    where += dialect == sql::dialect::postgres
                 ? "AND (? IS NULL OR d.id <= ?) AND strpos(lower(d.id), lower(?)) > 0 "
                 : "AND (? IS NULL OR d.id <= ?) AND instr(lower(d.id), lower(?)) > 0 ";
  }
  out.page = k_device_select + "WHERE " + where + "ORDER BY d.id LIMIT ?";
  return out;
}

void release_device(connection& db, const std::string& device_id) {
  db.prepare("DELETE FROM state_history WHERE device_id = ?").bind(device_id).exec();
  db.prepare("DELETE FROM commands WHERE device_id = ?").bind(device_id).exec();
  db.prepare("DELETE FROM technician_logins WHERE device_id = ?").bind(device_id).exec();
  db.prepare("DELETE FROM device_tags WHERE device_id = ?").bind(device_id).exec();
  db.prepare("DELETE FROM fleet_job_devices WHERE device_id = ?").bind(device_id).exec();
  db.prepare(
        "UPDATE devices SET company_id = NULL, destination_id = NULL, registered_at_s = NULL, "
        "state_json = NULL, state_received_ms = NULL, state_count = 0 WHERE id = ?")
      .bind(device_id)
      .exec();
}

}  // namespace aterm::cloud::store_sql
