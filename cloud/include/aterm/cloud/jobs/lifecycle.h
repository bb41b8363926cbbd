// The time-driven rules of DESIGN.md section 5, run as one sweep "as of" a time: by the
// scheduler of `serve` every jobs.interval_s, and by `aterm-cloud jobs run --as-of TIME`.
//
//   inactive accounts  180 days after the last login (or creation): one reminder mail; 30 days
//                      after that mail without a login: locked (inactivity) with a notice mail;
//                      a general account is deleted 90 days after the lock, an administrator
//                      account stays locked until its company's contract ends. A login before
//                      the next step resets the cycle (the store clears the reminder).
//   device data        a device not heard from for 90 days loses its state, history, commands
//                      and technician logins; a registered device keeps its registration.
//   technician logins  records deleted 60 minutes after issue (never before they expire).
//   access log         records older than 365 days purged behind a checkpoint.
//   sent mail          outbox messages deleted 30 days after they were sent; unsent ones
//                      (due, backing off, or given up after mail.max_attempts) stay.
//   contract end       after contract_end_s the company and everything of it goes; its devices
//                      become unassigned, or lose their data when disconnected for 90 days.
//   backups            one per UTC day at backup.time, kept backup.keep_days days.
//
// Every action writes the access log (in its own transaction, lifecycle_port.h) and is reported
// as one line naming the account login, device id or company it acted on. One sweep at a time
// per database (the scheduler's thread, or the CLI); a step that fails is reported and the next
// sweep does it again.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "aterm/cloud/jobs/backup.h"
#include "aterm/cloud/jobs/lifecycle_port.h"
#include "aterm/cloud/model.h"
#include "aterm/common/clock.h"
#include "aterm/common/config.h"

namespace aterm::cloud::jobs {

inline constexpr std::int64_t k_day_s = 86400;

struct lifecycle_settings {
  std::int64_t audit_days = 365;                     // retention.audit_days
  std::int64_t inactive_reminder_days = 180;         // retention.inactive_reminder_days
  std::int64_t inactive_lock_days = 30;              // retention.inactive_lock_days
  std::int64_t inactive_delete_days = 90;            // retention.inactive_delete_days
  std::int64_t device_data_days = 90;                // retention.device_data_days
  std::int64_t technician_login_retention_s = 3600;  // retention.technician_login_retention_s
  std::int64_t mail_sent_days = 30;                  // retention.mail_sent_days
  // The administrators are told which accounts have no e-mail address at most this often.
  std::int64_t missing_email_notice_days = 30;  // retention.missing_email_notice_days
  std::string db_path;                          // db: what the backups copy
  // backup.pg_bin_dir: pg_dump and pg_restore of a PostgreSQL db (backup_port.h).
  std::string backup_pg_bin_dir = "/usr/lib/postgresql/15/bin";
  std::string backup_dir = "backups";           // backup.dir; "" disables the daily backup
  std::int64_t backup_keep_days = 7;            // backup.keep_days
  std::int64_t backup_minute_of_day = 18 * 60;  // backup.time "HH:MM" UTC (18:00 = 03:00 JST)
  // backup.key_file, security.audit_key_file, security.audit_anchor_file, loaded (each key file
  // created 0600 when missing).
  backup_keys keys;
};

// Reads the keys above, touching no file (`keys` stays empty). Error "bad_config" naming
// backup.time when it is not "HH:MM".
common::result<lifecycle_settings> parse_lifecycle_settings(const common::config& c);
// parse_lifecycle_settings, then loads the key files, creating a missing one: error "key_file"
// when a key file cannot be read or created.
common::result<lifecycle_settings> lifecycle_settings_from(const common::config& c);

// The backup engine of the settings' db (backup_port.h).
backup_engine_options backup_options_of(const lifecycle_settings& s);

enum class account_step { none, remind, lock, remove };

// The next step of the inactivity rule for `a` as of now_s (at most one step per sweep).
account_step next_account_step(const account& a, std::int64_t now_s, const lifecycle_settings& s);

// The reminder and the lock notice, in Japanese and English (UTF-8). nullopt without an address.
std::optional<mail_message> reminder_mail(const account& a, std::int64_t lock_at_s);
std::optional<mail_message> lock_notice_mail(const account& a);
// To `administrator`: the accounts of its company (login ids) that have no e-mail address, so
// the inactivity reminder cannot reach them. nullopt when the administrator has no address.
std::optional<mail_message> missing_email_mail(const account& administrator,
                                               const std::vector<std::string>& logins);

struct sweep_options {
  bool dry_run = false;  // report what would be done, change nothing
  bool backups = true;   // include the daily backup step
};

struct sweep_report {
  std::size_t actions = 0;   // done (or, in a dry run, that would be done)
  std::size_t failures = 0;  // steps that failed; the next sweep tries them again
};

// One line per action, e.g. "account.inactivity_lock company=acme login=alice".
using action_sink = std::function<void(const std::string& line)>;

// Runs every rule once as of `as_of`. Failures are reported through `sink` as
// "error <step> ..." lines and counted; they do not stop the other steps.
sweep_report run_sweep(lifecycle_port& port, const lifecycle_settings& s, common::wall_time as_of,
                       const sweep_options& options, const action_sink& sink);

// Runs only the technician-login rule (records deleted technician_login_retention_s after issue,
// each deletion audited) as of `as_of`. `serve` runs it every jobs.tick_ms so that the
// 60-minute rule of DESIGN.md section 4 holds whatever jobs.interval_s is.
sweep_report run_technician_login_sweep(lifecycle_port& port, const lifecycle_settings& s,
                                        common::wall_time as_of, const action_sink& sink);

}  // namespace aterm::cloud::jobs
