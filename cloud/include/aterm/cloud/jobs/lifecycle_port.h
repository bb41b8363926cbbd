// The narrow store port of the lifecycle jobs (DESIGN.md section 5, the time-driven rules): the
// reads that find what is due and the writes that act on it. Each write is one transaction that
// also appends its access-log record (chained like every record, audit_chain.h) and, where the
// rule sends mail, queues the message in the outbox, so an action, its record and its mail
// happen together or not at all. Times are passed in ("as of"), never read from a clock here.
//
// Implemented on the store's database by open_lifecycle_store (store/lifecycle_store.cpp), on
// the store's connection pool or one of its own. Thread-safe: each call is one transaction on a
// connection of the pool; write transactions exclude each other, also across processes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aterm/cloud/mail/mail.h"
#include "aterm/cloud/model.h"
#include "aterm/common/status.h"

namespace aterm::cloud {
class store;           // store.h
struct store_options;  // store.h
}  // namespace aterm::cloud

namespace aterm::cloud::jobs {

using common::result;
using common::status;

// A device whose last message is older than a cutoff and that still holds device data.
struct stale_device {
  std::string id;
  std::string company_id;  // "" when unassigned
  std::int64_t last_seen_ms = 0;
  bool online = false;
};

// What end_contract removed.
struct contract_end_outcome {
  std::vector<std::string> accounts;            // login ids
  std::vector<std::string> devices_unassigned;  // still connected or recently seen
  std::vector<std::string> devices_deleted;     // disconnected long enough: data and row gone
  std::size_t destinations = 0;
  std::size_t roles = 0;
  std::size_t sessions = 0;
};

struct audit_purge_outcome {
  std::int64_t deleted = 0;         // records removed
  std::int64_t start_seq = 0;       // where the remaining chain starts
  std::int64_t checkpoint_seq = 0;  // the checkpoint record appended
};

class lifecycle_port : public mail::outbox_port {
 public:
  ~lifecycle_port() override = default;

  // ---- accounts ----
  // Every account of every company, with role_name filled.
  virtual result<std::vector<account>> all_accounts() = 0;
  // Sets reminder_sent_at_s = now_s, queues `reminder` (when it has a recipient) and appends
  // "account.inactivity_reminder". k_conflict when the account changed since `a` was read
  // (a login in between): nothing is done.
  virtual status record_reminder(const account& a, const std::optional<mail_message>& reminder,
                                 std::int64_t now_s) = 0;
  // Locks with lock_reason::inactivity (locked_at_s = now_s), ends the sessions, queues `notice`
  // and appends "account.inactivity_lock". k_conflict as above.
  virtual status lock_inactive(const account& a, const std::optional<mail_message>& notice,
                               std::int64_t now_s) = 0;
  // Deletes the account and its sessions and appends "account.inactivity_delete". k_conflict
  // when it is no longer inactivity-locked.
  virtual status delete_inactive(const account& a, std::int64_t now_s) = 0;

  // When the company's administrators were last told which of its accounts have no e-mail
  // address (its latest "account.missing_email_notice" record, unix seconds); nullopt: never.
  virtual result<std::optional<std::int64_t>> last_missing_email_notice(
      const std::string& company_id) = 0;
  // Queues `notices` and appends "account.missing_email_notice" (target: the company, detail:
  // `detail`) in one transaction.
  virtual status record_missing_email_notice(const std::string& company_id,
                                             const std::vector<mail_message>& notices,
                                             const std::string& detail, std::int64_t now_s) = 0;

  // ---- devices ----
  // Devices last heard from before `last_seen_before_ms` that hold device data (state,
  // history, commands, technician logins) or are unassigned. Ordered by id.
  virtual result<std::vector<stale_device>> stale_devices(std::int64_t last_seen_before_ms) = 0;
  // Deletes the device's state, history, commands and technician logins; a registered device
  // keeps its registration (it comes back cleanly), an unassigned one is removed. Appends
  // "device.data_delete". k_conflict when it was heard from at or after the cutoff meanwhile.
  virtual status delete_device_data(const std::string& device_id, std::int64_t last_seen_before_ms,
                                    std::int64_t now_s) = 0;

  // ---- technician logins ----
  // Records issued at or before issued_before_s whose expires_at_s <= now_s.
  virtual result<std::vector<technician_login>> expired_technician_logins(
      std::int64_t issued_before_s, std::int64_t now_s) = 0;
  // Deletes one record and appends "technician_login.delete".
  virtual status delete_technician_login(const technician_login& t, std::int64_t now_s) = 0;

  // ---- access log ----
  // Records with ts_ms < before_ms that a purge would delete (0: nothing to purge).
  virtual result<std::int64_t> audit_purge_candidates(std::int64_t before_ms) = 0;
  // One transaction (audit_chain.h): appends the checkpoint where the remaining chain starts,
  // raises audit_head.purge_before to it and deletes the older records. Nothing when nothing is
  // older than before_ms (deleted == 0).
  virtual result<audit_purge_outcome> purge_audit(std::int64_t before_ms, std::int64_t now_ms) = 0;

  // ---- mail outbox retention ----
  // Messages (mail and webhook deliveries) sent at or before sent_until_s: what purge_sent_mail
  // would delete.
  virtual result<std::int64_t> sent_mail_purge_candidates(std::int64_t sent_until_s) = 0;
  // Deletes the messages sent at or before sent_until_s and, when there were any, appends
  // "mail.purge" in the same transaction. Unsent messages stay, whatever their attempts.
  // Returns how many were deleted.
  virtual result<std::int64_t> purge_sent_mail(std::int64_t sent_until_s, std::int64_t now_s) = 0;

  // ---- contract end ----
  // Companies (never "platform") whose contract_end_s <= now_s.
  virtual result<std::vector<company>> ended_companies(std::int64_t now_s) = 0;
  // The company's devices (for a dry run), ordered by id.
  virtual result<std::vector<device>> company_devices(const std::string& company_id) = 0;
  // Deletes the company's sessions, accounts, roles, destinations, commands, technician logins
  // and the company record in one transaction (so an interrupted run leaves everything and the
  // next sweep does it again). Its devices last heard from before disconnected_before_ms lose
  // their data and row; the others become unassigned (no company, no destination) without the
  // tenancy's state, history, commands and logins (store::unassign_device). Appends
  // "company.contract_end" under the company's id. k_not_found when it is gone already.
  virtual result<contract_end_outcome> end_contract(const std::string& company_id,
                                                    std::int64_t disconnected_before_ms,
                                                    std::int64_t now_s) = 0;

  // ---- mail outbox (mail::outbox_port) and other writes ----
  // Appends one access-log record at now_ms (backups, restores, unlocks of the CLI).
  virtual status append_audit(const audit_entry& e, std::int64_t now_ms) = 0;
  // Appends the key rotation naming `new_key_id`, sealed under the port's key (the one in force);
  // the records after it must be sealed under the new key. Error k_invalid without a key.
  virtual status rotate_audit_key(const std::string& new_key_id, std::int64_t now_ms) = 0;
  // The access log's head (what an anchor records).
  virtual result<audit_head> audit_head_now() = 0;
};

// Opens the port on the store's database `options.db` with a connection pool of its own
// (migrating it like the store does), for the CLI's verbs. Access-log records are sealed under
// `options.audit_key` (security/audit_chain.h; without one, with plain SHA-256); opening with a
// key appends the key start when the chain is not yet under it.
result<std::unique_ptr<lifecycle_port>> open_lifecycle_store(const store_options& options);
// Opens the port on the connection pool of the open store `shared` (the daemon's), sealing under
// `audit_key` as above. k_invalid for a store of no engine (a test's fake).
result<std::unique_ptr<lifecycle_port>> open_lifecycle_store(store& shared,
                                                             std::optional<secret_key> audit_key);

}  // namespace aterm::cloud::jobs
