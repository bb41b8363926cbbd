// The store's technician secrets, tombstones of purged technician logins and mailed logins
// (store.h, "technician secrets and mailed logins"), written once against the SQL seam for
// both engines. Shared by the store (sql_store.cpp) and the jobs' lifecycle port
// (lifecycle_store.cpp), which purges logins and the access log. Every function REQUIRES the
// caller's write transaction (reads: any transaction). Thread-safe like the store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "aterm/cloud/model.h"
#include "aterm/cloud/store.h"
#include "sql/sql.h"

namespace aterm::cloud::store_sql {

// Queues rule.command() for a registered device whose router has not confirmed the secret of
// rule.key_id, unless a technician_login.secret command of the device is still deliverable;
// true when it queued one. Nothing for an empty rule or an unassigned device.
bool queue_technician_secret_locked(sql::connection& db, const technician_secret_rule& rule,
                                    const std::string& device_id, std::int64_t now_s);

// Command `command_id` (op `op`) of the device succeeded: when it is a technician_login.secret,
// its router holds the secret of the key id the command's stored arguments name.
void confirm_technician_secret_locked(sql::connection& db, const std::string& device_id,
                                      const std::string& op, const std::string& command_id);

// The key id whose secret the device's router confirmed ("" when none); k_not_found for a
// foreign device.
result<std::string> technician_secret_key_id_locked(sql::connection& db,
                                                    const std::string& company_id,
                                                    const std::string& device_id);

// Who a purged login of the device was issued to, while its tombstone lasts; nullopt when the
// company never issued that login to that device or its tombstone is gone.
std::optional<std::string> technician_tombstone_locked(sql::connection& db,
                                                       const std::string& company_id,
                                                       const std::string& device_id,
                                                       const std::string& login_id);

// Leaves the tombstone of `t`, which is being deleted at now_ms.
void bury_technician_login_locked(sql::connection& db, const technician_login& t,
                                  std::int64_t now_ms);

// Leaves the tombstones of every login issued at or before issued_before_s (about to be purged).
void bury_technician_logins_locked(sql::connection& db, std::int64_t issued_before_s,
                                   std::int64_t now_ms);

// Deletes the tombstones of logins deleted before `before_ms` (the access log's retention).
void purge_technician_tombstones_locked(sql::connection& db, std::int64_t before_ms);

// k_invalid unless the mail has a recipient, a subject and a body.
status check_technician_mail(const mail_message& m);

}  // namespace aterm::cloud::store_sql
