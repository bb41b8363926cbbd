// The cloud's store (DESIGN.md sections 5 and 6): one interface, written once over two engines
// (SQLite embedded, PostgreSQL), chosen by store_options::db. It also implements the bridge's
// store_port.
//
// Tenant scoping is part of the interface: every method that reads or changes a company's data
// takes the company id, and a row of another company is answered exactly like a missing one
// (error code k_not_found). Site-level methods (companies, unassigned devices, alarms) say so.
//
// Thread-safety: every method may be called from any thread (the bridge's threads, the HTTP
// worker pool, the scheduler); an implementation serialises or pools its connections itself.
// Every method is one transaction: all or nothing.
//
// Error codes of failed statuses: k_not_found, k_conflict (duplicate id, wrong state),
// k_invalid (bad argument, e.g. an unknown role or permission), k_store (the engine failed;
// the message names the failing call), k_unavailable (the engine failed transiently, e.g. the
// database server restarted, and kept failing through the store's own retries: the same call
// may succeed later), or the failed status an account_check returned.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aterm/bridge/store_port.h"
#include "aterm/cloud/fleet.h"
#include "aterm/cloud/model.h"
#include "aterm/cloud/notices/notice.h"
#include "aterm/cloud/shared_counters.h"
#include "aterm/cloud/store_rules.h"
#include "aterm/common/clock.h"
#include "aterm/common/status.h"

namespace aterm::cloud {

inline constexpr std::string_view k_not_found = "not_found";
inline constexpr std::string_view k_conflict = "conflict";
inline constexpr std::string_view k_invalid = "invalid";
inline constexpr std::string_view k_store = "store_error";
inline constexpr std::string_view k_unavailable = bridge::k_store_unavailable;

using common::result;
using common::status;

// Plain "done" value for result<> of methods that return nothing else.
struct done {};

// Decides, inside the transaction of an account change, whether it may go ahead, from the facts
// that transaction read (the delegation rule, security/delegation_policy.h). A failed status
// rolls the change back and is the method's answer. Empty: no check (the host's CLI, jobs).
using account_check = std::function<status(const account_facts&)>;

// Decides, inside the transaction that records a login's outcome, an account's lock fields from
// them as stored (the lock rule, security/lockout_policy.h); the store writes what it returns.
// Read and written in one transaction, every failure counts once, whichever instance saw it.
using lock_decision = std::function<account_lock_state(const account_lock_state&)>;

// The announcement mail of a notice as stored (notices/notice_rules.h), made inside the
// transaction that stores it; the store fills in the recipients and times.
using notice_announcement = std::function<mail_message(const notice&)>;

// The store also keeps the security rules' counters and leases (shared_counters.h:
// add_counter_event, counter_events, take_lease, take_verification_lease,
// release_verification_lease), so every instance on one database counts alike.
class store : public bridge::store_port, public shared_counters {
 public:
  ~store() override = default;

  // ---- companies (site-level) ----
  virtual result<company> create_company(const std::string& id, const std::string& name) = 0;
  virtual result<company> get_company(const std::string& company_id) = 0;
  virtual result<std::vector<company>> list_companies() = 0;
  // Site-level: every company with its device, online, open-alarm and locked-account counts at
  // `now_s`, in company id order.
  virtual result<std::vector<company_summary>> company_summaries(std::int64_t now_s) = 0;
  // Replaces the settings (ip_allowlist, technician_login_ttl_minutes, contract_end_s).
  virtual status update_company_settings(const std::string& company_id,
                                         const company_settings& settings) = 0;

  // ---- destinations ----
  virtual result<destination> create_destination(const std::string& company_id,
                                                 const std::string& name,
                                                 const std::string& settings_json) = 0;
  virtual result<std::vector<destination>> list_destinations(const std::string& company_id) = 0;
  virtual result<destination> get_destination(const std::string& company_id, std::int64_t id) = 0;
  // nullopt fields are kept. Renaming onto an existing name: k_conflict.
  virtual result<destination> update_destination(
      const std::string& company_id, std::int64_t id, const std::optional<std::string>& name,
      const std::optional<std::string>& settings_json) = 0;
  // Refused with k_conflict while devices are registered under it.
  virtual status delete_destination(const std::string& company_id, std::int64_t id) = 0;
  // Destination by name, created when missing (for `admin device register --destination`).
  virtual result<destination> ensure_destination(const std::string& company_id,
                                                 const std::string& name) = 0;

  // ---- devices ----
  // Site administrator's assignment (the admin CLI and /admin routes; no claim code): registers
  // `device_id` under the destination. An unknown device is created, an unassigned one joins
  // the company with what it reported while it had none, one of the company moves to the
  // destination, one registered to another company: k_conflict (not naming that company).
  virtual result<device> register_device(const std::string& company_id,
                                         const std::string& device_id,
                                         std::int64_t destination_id) = 0;
  // A company's claim (docs/device-claim.md), after the caller proved possession of every
  // device: register_device for each of `device_ids` in order, in one transaction, all or none.
  // A device registered to another company or a missing destination: k_not_found with the
  // same message whatever the cause, naming no device. Returns the devices in order.
  virtual result<std::vector<device>> claim_devices(const std::string& company_id,
                                                    std::span<const std::string> device_ids,
                                                    std::int64_t destination_id) = 0;
  // Site-level: the device leaves its company. The tenancy's state, state history, commands and
  // technician logins are deleted with it, so the next company reads nothing of it; presence
  // stays (the device is listed as unassigned). Returns the company it left; k_not_found when
  // it is unknown or registered to none.
  virtual result<std::string> unassign_device(const std::string& device_id) = 0;
  // The company's wrong claims at or after `since_s` (the throttle counts through the store so
  // every instance sees the same number).
  virtual result<claim_failures> count_claim_failures(const std::string& company_id,
                                                      std::int64_t since_s) = 0;
  // Counts one wrong claim at `now_s` and forgets the company's older than `forget_before_s`.
  virtual status record_claim_failure(const std::string& company_id, std::int64_t now_s,
                                      std::int64_t forget_before_s) = 0;
  virtual result<device> get_device(const std::string& company_id,
                                    const std::string& device_id) = 0;
  virtual result<device_page> list_devices(const std::string& company_id,
                                           const device_query& query) = 0;
  // Newest first, at most `limit`.
  virtual result<std::vector<state_history_entry>> state_history(const std::string& company_id,
                                                                 const std::string& device_id,
                                                                 std::size_t limit) = 0;
  // Site-level: devices seen but registered to no company.
  virtual result<std::vector<device>> list_unassigned_devices(std::size_t limit) = 0;

  // ---- fleet: device removal and summary (fleet_store.cpp) ----
  // The company removes one of its devices: it leaves the company as with unassign_device (the
  // tenancy's state, history, commands, technician logins and profile state deleted, presence
  // kept). k_not_found for a device that is not the company's.
  virtual status remove_device(const std::string& company_id, const std::string& device_id) = 0;
  // The company's devices counted by presence and by firmware version.
  virtual result<fleet_summary> summarize_fleet(const std::string& company_id) = 0;

  // ---- commands ----
  // Commits a queued command for a device of the company (k_not_found otherwise). The id is
  // generated here. The bridge publishes it once the caller notifies it (or on its next poll).
  virtual result<command_record> create_command(const std::string& company_id,
                                                const new_command& cmd) = 0;
  virtual result<command_record> get_command(const std::string& company_id,
                                             const std::string& command_id) = 0;
  // Newest first.
  virtual result<std::vector<command_record>> list_commands(const std::string& company_id,
                                                            const std::string& device_id,
                                                            std::size_t limit) = 0;

  // ---- technician logins ----
  // Stores the login (status active) and queues its install command in one transaction;
  // returns the login with install_command_id set. k_not_found for a foreign device,
  // k_conflict for a duplicate login id.
  virtual result<technician_login> create_technician_login(const technician_login& login,
                                                           const new_command& install) = 0;
  // Active logins of the device whose expires_at is after now_s (for the API list).
  virtual result<std::vector<technician_login>> list_technician_logins(
      const std::string& company_id, const std::string& device_id, std::int64_t now_s) = 0;
  virtual result<technician_login> get_technician_login(const std::string& company_id,
                                                        const std::string& login_id) = 0;
  // active -> revoked and queues `revoke` (technician_login.revoke) in one transaction;
  // k_not_found for a foreign or missing login, k_conflict when no longer active.
  virtual result<command_record> revoke_technician_login(const std::string& company_id,
                                                         const std::string& device_id,
                                                         const std::string& login_id,
                                                         const new_command& revoke) = 0;
  // Deletes every technician login issued at or before `issued_before_s`; returns how many.
  virtual result<std::size_t> purge_technician_logins(std::int64_t issued_before_s) = 0;

  // ---- technician secrets and mailed logins (technician_store.cpp) ----
  // Queues store_options::technician_secret's command for the device unless its router
  // confirmed the secret of the current key or one is pending; true when it queued one.
  // k_not_found for a foreign device.
  virtual result<bool> queue_technician_secret(const std::string& company_id,
                                               const std::string& device_id) = 0;
  // The key id whose secret the device's router confirmed; "" when none.
  virtual result<std::string> technician_secret_key_id(const std::string& company_id,
                                                       const std::string& device_id) = 0;
  // create_technician_login() and the mail to the technician in one transaction: both or
  // neither. k_invalid for a mail without recipient, subject or body.
  virtual result<technician_login> create_technician_login_with_mail(const technician_login& login,
                                                                     const new_command& install,
                                                                     const mail_message& mail) = 0;

  // ---- roles ----
  // Built-in roles first, then the company's own.
  virtual result<std::vector<role>> list_roles(const std::string& company_id) = 0;
  virtual result<role> get_role(const std::string& company_id, std::int64_t role_id) = 0;
  virtual result<role> find_role(const std::string& company_id, const std::string& name) = 0;
  // Permissions must be in k_permissions (k_invalid otherwise); a name of a built-in or an
  // existing role: k_conflict.
  virtual result<role> create_role(const std::string& company_id, const std::string& name,
                                   const std::vector<std::string>& permissions) = 0;
  // Built-in roles are read-only (k_conflict).
  virtual result<role> update_role(const std::string& company_id, std::int64_t role_id,
                                   const std::optional<std::string>& name,
                                   const std::optional<std::vector<std::string>>& permissions) = 0;
  // Built-in roles and roles still held by accounts: k_conflict.
  virtual status delete_role(const std::string& company_id, std::int64_t role_id) = 0;

  // ---- accounts ----
  // k_conflict for a login id taken in the company, compared without regard to ASCII case;
  // k_invalid for an unknown role or a bad login id. Callers trim what a person typed
  // (security/login_id.h), as for find_account.
  virtual result<account> create_account(const new_account& a) = 0;
  virtual result<account> get_account(const std::string& company_id, std::int64_t account_id) = 0;
  // The login id is compared as given (callers trim it) without regard to ASCII case.
  virtual result<account> find_account(const std::string& company_id,
                                       const std::string& login_id) = 0;
  virtual result<std::vector<account>> list_accounts(const std::string& company_id) = 0;
  // nullopt fields are kept. A lock (update.locked true) is an administrator lock and ends the
  // sessions. `check` sees the facts with new_role set when update.role_name is.
  virtual result<account> update_account(const std::string& company_id, std::int64_t account_id,
                                         const account_update& update,
                                         const account_check& check) = 0;
  // Deletes the account and its sessions.
  virtual status delete_account(const std::string& company_id, std::int64_t account_id,
                                const account_check& check) = 0;
  // Sets a new hash, pushes the old one onto the history (kept: 3) and ends the sessions.
  // `change_required`: the account's password_change_required from now on (true when someone
  // other than its owner set it).
  virtual status set_password(const std::string& company_id, std::int64_t account_id,
                              const std::string& password_hash, bool change_required,
                              const account_check& check) = 0;
  // Failed login: the lock fields become what `decide` returns. A lock it starts (a new reason
  // or a new end) ends the account's sessions and is dated now_s. Returns the updated account.
  // `ended_lease`: the verification lease (shared_counters.h) of this verification, deleted in
  // the same transaction, so the failures stored plus the leases in flight never count one
  // verification twice (security/verification_gate.h).
  virtual result<account> record_login_failure(const std::string& company_id,
                                               std::int64_t account_id, std::int64_t now_s,
                                               const lock_decision& decide,
                                               std::optional<std::int64_t> ended_lease) = 0;
  // Successful login: the lock fields become what `decide` returns, last_login_at = now_s, the
  // inactivity reminder cleared; `ended_lease` as above.
  virtual status record_login_success(const std::string& company_id, std::int64_t account_id,
                                      std::int64_t now_s, const lock_decision& decide,
                                      std::optional<std::int64_t> ended_lease) = 0;
  // Locks (ending the sessions) or unlocks. `until_s` is used with failed_logins only.
  virtual status lock_account(const std::string& company_id, std::int64_t account_id,
                              lock_reason reason, std::optional<std::int64_t> until_s,
                              std::int64_t now_s) = 0;
  virtual status unlock_account(const std::string& company_id, std::int64_t account_id) = 0;

  // ---- sessions ----
  virtual status create_session(const session& s) = 0;
  // Looked up by token hash alone (the company comes from the session). k_not_found if none.
  virtual result<session> find_session(const std::string& token_hash) = 0;
  virtual status touch_session(const std::string& token_hash, std::int64_t now_s) = 0;
  virtual status delete_session(const std::string& token_hash) = 0;
  virtual status delete_account_sessions(const std::string& company_id,
                                         std::int64_t account_id) = 0;
  // Deletes sessions idle since before `idle_before_s` or created before `created_before_s`.
  virtual result<std::size_t> purge_sessions(std::int64_t idle_before_s,
                                             std::int64_t created_before_s) = 0;

  // ---- access log ----
  // Appends one record: seq = head + 1, ts = the store's clock, chained hash; returns it.
  virtual result<audit_record> append_audit(const audit_entry& e) = 0;
  // Runs `body` as one operation: every call this thread makes on the store inside it (the
  // change and its access-log record) commits together when body returns ok, and not at all
  // when it returns an error or the commit fails. Other threads' calls wait until it ends, so
  // body must not wait for another thread that uses the store.
  virtual status run_operation(const std::function<status()>& body) = 0;
  // The company's records ordered by seq.
  virtual result<std::vector<audit_record>> list_audit(const std::string& company_id,
                                                       const audit_query& q) = 0;
  // Site-level, for `audit verify`: every record with seq > after_seq, ordered, at most limit.
  virtual result<std::vector<audit_record>> read_audit_chain(std::int64_t after_seq,
                                                             std::size_t limit) = 0;
  virtual result<audit_head> get_audit_head() = 0;
  // Failed logins ("login"/"failure" records) since `since_ms`; company "" = all companies.
  virtual result<std::int64_t> count_failed_logins(const std::string& company_id,
                                                   std::int64_t since_ms) = 0;

  // ---- fleet jobs and tags (fleet.h, implemented in store/job_store.cpp) ----
  // Replaces the router's tags (check_tags; k_invalid otherwise) and answers them sorted;
  // k_not_found for a router not registered to the company.
  virtual result<std::vector<std::string>> set_device_tags(const std::string& company_id,
                                                           const std::string& device_id,
                                                           std::vector<std::string> tags) = 0;
  // The tags of each of `device_ids` registered to the company, sorted; a router without tags
  // (or of another company) has no entry.
  virtual result<std::map<std::string, std::vector<std::string>>> device_tags(
      const std::string& company_id, std::span<const std::string> device_ids) = 0;
  // Commits the job and one queued row per router of the company that `job.target` names, in
  // one transaction. A device id that is not the company's: k_not_found naming none; a target
  // matching no router: k_invalid. A tags.set job (k_tags_set_op, args {"tags": [...]}) sets
  // the tags of every router at once and is completed when answered; any other op is released
  // by release_jobs.
  virtual result<fleet_job> create_job(const std::string& company_id, const new_job& job) = 0;
  // Newest first, at most `limit`, with counts.
  virtual result<std::vector<fleet_job>> list_jobs(const std::string& company_id,
                                                   std::size_t limit) = 0;
  virtual result<fleet_job> get_job(const std::string& company_id, std::int64_t job_id) = 0;
  // How many jobs of the company are running, and the newest `limit` of them with counts
  // (clamped to 1..limits::k_max_summary_jobs).
  virtual result<running_jobs> summarize_running_jobs(const std::string& company_id,
                                                      std::size_t limit) = 0;
  virtual result<job_device_page> list_job_devices(const std::string& company_id,
                                                   std::int64_t job_id,
                                                   const job_device_query& query) = 0;
  // A running job becomes cancelled: its queued routers and its released commands no instance
  // has claimed yet are cancelled (the outbox never publishes them); sent ones run to their
  // end. k_conflict when the job already ended.
  virtual result<fleet_job> cancel_job(const std::string& company_id, std::int64_t job_id) = 0;
  // The scheduler's tick over every company's running jobs, in one write transaction (so two
  // instances never release a router twice): ends jobs whose failure threshold tripped
  // (aborted), marks queued routers past the deadline timed_out, releases queued routers that
  // are online into the outbox within each job's rollout (per_minute per `minute_ms` window,
  // max_in_flight, at most limits::k_max_job_release_per_tick), and completes jobs with nothing
  // left queued or in flight.
  virtual result<job_tick> release_jobs(std::int64_t now_ms, std::int64_t minute_ms) = 0;

  // ---- alarms and mail (site-level) ----
  virtual result<alarm> create_alarm(const std::string& company_id, const std::string& kind,
                                     const std::string& detail) = 0;
  virtual result<std::vector<alarm>> list_alarms(std::size_t limit) = 0;
  virtual result<std::int64_t> enqueue_mail(const mail_message& m) = 0;

  // ---- notices: planned maintenance and incidents (site-level; notice_store.cpp) ----
  // Written once for both engines on the store's connection pool; a store without one answers
  // k_store. The mail `announce` makes of the notice as stored (its id set) is queued to every
  // company administrator (the accounts with the administrator role of every company but
  // platform, each address once) in the transaction that stores the notice.
  // Stores `n` (an incident with its first update, n.updates[0]) and announces it.
  virtual result<notice_posted> post_notice(const notice& n, const notice_announcement& announce);
  // The incident's next update: its status and text become `u`'s, `u` joins its updates, and
  // it is announced. k_not_found: no such incident; k_conflict: it is resolved.
  virtual result<notice_posted> update_incident(std::int64_t id, const notice_update& u,
                                                const notice_announcement& announce);
  virtual result<notice> get_notice(std::int64_t id);
  // Newest first (maintenance by start, incidents by posting), at most `limit`: unresolved
  // incidents, resolved ones updated at or after `since_s`, and maintenance windows ending at
  // or after `since_s`.
  virtual result<std::vector<notice>> list_notices(std::int64_t since_s, std::size_t limit);
};

struct store_options {
  // Where the data lives: a file path (the embedded SQLite engine; created when missing) or a
  // postgresql:// (or postgres://) URI of a PostgreSQL database.
  std::string db;
  // SQLite: synchronous FULL (durable commands and audit; cheap when batched, MEASURED.md).
  bool synchronous_full = true;
  // SQLite: how long a writer waits for its turn, and a statement for another process's lock.
  int busy_timeout_ms = 5000;
  // Connections of this process to the database: readers read beside the one writer (SQLite:
  // writers take turns in the order they came, sqlite::write_turns).
  std::size_t pool_size = 4;
  // Latest-state history rows kept per device. Default: limits::k_state_history_per_device.
  std::size_t state_history_per_device = 0;
  // What a technician-login event of a device changes (security/technician_login_policy.h).
  technician_event_rule technician_events;
  // Which routers get their technician secret when they come online (model.h). Empty: none.
  technician_secret_rule technician_secret;
  // What a command's stored arguments become in the message the bridge publishes
  // (security/technician_login_policy.h: a secret the database must not hold is filled in
  // here). Empty: published as stored.
  command_args_at_publish publish_args;
  // The rules the store applies in its own transactions. Required: the store holds no rule of
  // its own.
  store_rules rules;
  // The access log's chain key (security/key_file.h, the last of security.audit_key_file).
  // Without one records are sealed with plain SHA-256 (tests of other rules). With one, opening
  // appends the key start when the chain is not yet under it.
  std::optional<secret_key> audit_key;
};

// Opens (creating and migrating) the store `options.db` names, on its engine. `clock` must
// outlive the store.
result<std::unique_ptr<store>> open_store(const store_options& options, const common::clock& clock);

// True when `db` names a database server (a postgresql:// or postgres:// URI), false for a file.
bool db_is_server(const std::string& db);

// `db` as logs and errors may show it: a URI without its password and query (which may hold
// one); a file path as it is.
std::string printable_db(const std::string& db);

// Current schema version of the SQLite engine's file (PRAGMA user_version after migration).
int sqlite_schema_version();

}  // namespace aterm::cloud
