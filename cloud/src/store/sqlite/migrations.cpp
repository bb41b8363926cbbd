#include "migrations.h"

#include <string>
#include <string_view>
#include <utility>

#include "aterm/cloud/limits.h"
#include "aterm/cloud/model.h"
#include "aterm/common/json.h"
#include "sql/account_login_ids.h"

namespace aterm::cloud::sqlite {

namespace {

// The built-in roles as schema 1 stores them, as PostgreSQL's schema does
// (postgres/pg_migrations.cpp). Their permissions are the rule's (security/built_in_roles.h); a
// later change of the rule needs a migration of its own, and the store's tests hold the stored
// rows to the rule.
void seed_built_in_roles(sql::connection& db) {
  constexpr std::pair<std::string_view, std::string_view> k_roles[] = {
      {k_role_administrator,
       R"(["device.read","device.command","device.technician_login","device.register",)"
       R"("destination.manage","account.read","account.manage","role.manage","audit.read",)"
       R"("company.settings"])"},
      {k_role_operator,
       R"(["device.read","device.command","device.technician_login","account.read"])"},
      {k_role_viewer, R"(["device.read"])"},
  };
  for (const auto& [name, permissions] : k_roles) {
    db.prepare("INSERT INTO roles(company_id, name, permissions, built_in) VALUES('', ?, ?, 1)")
        .bind(name)
        .bind(permissions)
        .exec();
  }
}

// Schema 1: every table of issue 4 plus the ones later issues fill (alarms, mail_outbox).
// The access log refuses UPDATE and DELETE by trigger (DESIGN.md section 5); the 365-day purge
// will go through a documented path that first writes a checkpoint (not in this schema).
constexpr const char* k_schema_1 = R"sql(
CREATE TABLE companies (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  ip_allowlist TEXT NOT NULL DEFAULT '[]',
  technician_login_ttl_minutes INTEGER NOT NULL DEFAULT 60,
  contract_end_s INTEGER,
  created_at_s INTEGER NOT NULL
);
CREATE TABLE destinations (
  id INTEGER PRIMARY KEY,
  company_id TEXT NOT NULL REFERENCES companies(id),
  name TEXT NOT NULL,
  settings_json TEXT NOT NULL DEFAULT '{}',
  created_at_s INTEGER NOT NULL,
  UNIQUE (company_id, name)
);
CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  company_id TEXT,
  destination_id INTEGER,
  presence TEXT NOT NULL DEFAULT 'unknown',
  agent_version TEXT NOT NULL DEFAULT '',
  last_seen_ms INTEGER,
  state_json TEXT,
  state_received_ms INTEGER,
  registered_at_s INTEGER,
  first_seen_ms INTEGER
);
CREATE INDEX devices_company ON devices(company_id, id);
CREATE TABLE state_history (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL,
  received_ms INTEGER NOT NULL,
  state_json TEXT NOT NULL
);
CREATE INDEX state_history_device ON state_history(device_id, id);
CREATE TABLE commands (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  op TEXT NOT NULL,
  args_json TEXT NOT NULL,
  status TEXT NOT NULL,
  result_status TEXT NOT NULL DEFAULT '',
  result_json TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at_s INTEGER NOT NULL,
  deadline_s INTEGER NOT NULL,
  sent_at_s INTEGER,
  finished_at_s INTEGER,
  created_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX commands_device ON commands(device_id, status);
CREATE INDEX commands_open ON commands(status, deadline_s);
CREATE INDEX commands_company ON commands(company_id, device_id);
CREATE TABLE technician_logins (
  login_id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  salt_hex TEXT NOT NULL,
  iterations INTEGER NOT NULL,
  hash_hex TEXT NOT NULL,
  issued_at_s INTEGER NOT NULL,
  expires_at_s INTEGER NOT NULL,
  status TEXT NOT NULL,
  failed_count INTEGER NOT NULL DEFAULT 0,
  install_command_id TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX technician_logins_device ON technician_logins(company_id, device_id);
CREATE TABLE roles (
  id INTEGER PRIMARY KEY,
  company_id TEXT NOT NULL,
  name TEXT NOT NULL,
  permissions TEXT NOT NULL,
  built_in INTEGER NOT NULL DEFAULT 0,
  UNIQUE (company_id, name)
);
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,
  company_id TEXT NOT NULL,
  login_id TEXT NOT NULL,
  email TEXT NOT NULL DEFAULT '',
  role_id INTEGER NOT NULL REFERENCES roles(id),
  password_hash TEXT NOT NULL,
  password_history TEXT NOT NULL DEFAULT '[]',
  failed_count INTEGER NOT NULL DEFAULT 0,
  locked_until_s INTEGER,
  lock_reason TEXT NOT NULL DEFAULT 'none',
  locked_at_s INTEGER,
  last_login_at_s INTEGER,
  created_at_s INTEGER NOT NULL,
  reminder_sent_at_s INTEGER,
  UNIQUE (company_id, login_id)
);
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  csrf_token TEXT NOT NULL,
  account_id INTEGER NOT NULL,
  company_id TEXT NOT NULL,
  created_at_s INTEGER NOT NULL,
  last_seen_at_s INTEGER NOT NULL,
  source_ip TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_account ON sessions(account_id);
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  company_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  result TEXT NOT NULL,
  detail TEXT NOT NULL,
  source_ip TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_company ON audit_log(company_id, seq);
CREATE INDEX audit_action_ts ON audit_log(action, ts_ms);
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'access log records cannot be changed'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'access log records cannot be deleted'); END;
CREATE TABLE alarms (
  id INTEGER PRIMARY KEY,
  company_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT NOT NULL,
  created_at_s INTEGER NOT NULL,
  acknowledged_at_s INTEGER
);
CREATE TABLE mail_outbox (
  id INTEGER PRIMARY KEY,
  recipient TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at_s INTEGER NOT NULL,
  sent_at_s INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_s INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT ''
);
)sql";

// Schema 2 (issue 6, jobs): the 365-day purge of the access log. audit_head gains purge_before,
// the start of the chain after the last purge (0 before any); a DELETE is refused for every
// record at or after it, so only the purge's rows can go, and the head's numbers never go back
// (audit_chain.h).
constexpr const char* k_schema_2 = R"sql(
ALTER TABLE audit_head ADD COLUMN purge_before INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN old.seq >= COALESCE((SELECT purge_before FROM audit_head WHERE id = 1), 0)
BEGIN SELECT RAISE(ABORT, 'access log records cannot be deleted'); END;
CREATE TRIGGER audit_head_no_lowering BEFORE UPDATE ON audit_head
WHEN new.seq < old.seq OR new.purge_before < old.purge_before
BEGIN SELECT RAISE(ABORT, 'the access log head cannot go back'); END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, 'the access log head cannot be deleted'); END;
)sql";

// Schema 3: device pages filtered on presence (GET /devices?online=) walk an index in id order
// instead of every device of the company; at 100k devices a page of the few online ones would
// otherwise read the whole fleet.
constexpr const char* k_schema_3 = R"sql(
CREATE INDEX devices_company_presence ON devices(company_id, presence, id);
)sql";

// Schema 4: state history as a ring of slots per device. A stored state overwrites the slot
// (n - 1) % bound of its device in place (n: the device's state counter, devices.state_count)
// instead of appending a row and deleting the oldest: the (device_id, slot) index is only read,
// so a state costs one row write rather than an index insert, an index delete and a row delete
// (bench_store_ingest). Reads order by n. Rows of older schemas keep their order as n = 1..count.
constexpr const char* k_schema_4 = R"sql(
ALTER TABLE devices ADD COLUMN state_count INTEGER NOT NULL DEFAULT 0;
CREATE TABLE state_history_ring (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL,
  slot INTEGER NOT NULL,
  n INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  state_json TEXT NOT NULL
);
INSERT INTO state_history_ring(id, device_id, slot, n, received_ms, state_json)
  SELECT id, device_id, n - 1, n, received_ms, state_json FROM
  (SELECT *, row_number() OVER (PARTITION BY device_id ORDER BY id) AS n FROM state_history);
UPDATE devices SET state_count =
  COALESCE((SELECT max(h.n) FROM state_history_ring h WHERE h.device_id = devices.id), 0);
DROP TABLE state_history;
ALTER TABLE state_history_ring RENAME TO state_history;
CREATE UNIQUE INDEX state_history_slot ON state_history(device_id, slot);
)sql";

// Schema 5: wrong device claims per company (docs/device-claim.md), counted in the store so
// every instance throttles the same company alike. Rows older than the window are deleted as
// new ones arrive, so a company holds at most about the throttle's limit.
constexpr const char* k_schema_5 = R"sql(
CREATE TABLE device_claim_failures (
  id INTEGER PRIMARY KEY,
  company_id TEXT NOT NULL,
  at_s INTEGER NOT NULL
);
CREATE INDEX device_claim_failures_company ON device_claim_failures(company_id, at_s);
)sql";

// Schema 6: commands keep their creation order in a column of their own (seq, SQLite's rowid
// under a name), so the store orders them by a column every engine has instead of by rowid.
// The table is rebuilt: an alias of the rowid can only be declared with the table.
constexpr const char* k_schema_6 = R"sql(
CREATE TABLE commands_seq (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  company_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  op TEXT NOT NULL,
  args_json TEXT NOT NULL,
  status TEXT NOT NULL,
  result_status TEXT NOT NULL DEFAULT '',
  result_json TEXT NOT NULL DEFAULT '',
  error TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at_s INTEGER NOT NULL,
  deadline_s INTEGER NOT NULL,
  sent_at_s INTEGER,
  finished_at_s INTEGER,
  created_by TEXT NOT NULL DEFAULT ''
);
INSERT INTO commands_seq(seq, id, company_id, device_id, op, args_json, status, result_status,
  result_json, error, attempts, created_at_s, deadline_s, sent_at_s, finished_at_s, created_by)
  SELECT rowid, id, company_id, device_id, op, args_json, status, result_status, result_json,
  error, attempts, created_at_s, deadline_s, sent_at_s, finished_at_s, created_by FROM commands;
DROP TABLE commands;
ALTER TABLE commands_seq RENAME TO commands;
CREATE INDEX commands_device ON commands(device_id, status);
CREATE INDEX commands_open ON commands(status, deadline_s);
CREATE INDEX commands_company ON commands(company_id, device_id);
)sql";

// Schema 7: the security rules' counters and leases, shared by every instance on the database
// (shared_counters.h): timed events per counter (a failed login of an address or a
// company), named leases with a holder and an end (an alarm raised, a job run), and the
// password verifications in flight per account. Expired rows are deleted as new ones arrive.
constexpr const char* k_schema_7 = R"sql(
CREATE TABLE counter_events (
  id INTEGER PRIMARY KEY,
  counter TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER NOT NULL
);
CREATE INDEX counter_events_counter ON counter_events(counter, at_ms);
CREATE INDEX counter_events_expiry ON counter_events(expires_at_ms);
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  until_ms INTEGER NOT NULL
);
CREATE TABLE verification_leases (
  id INTEGER PRIMARY KEY,
  company_id TEXT NOT NULL,
  account_id INTEGER NOT NULL,
  until_ms INTEGER NOT NULL
);
CREATE INDEX verification_leases_account ON verification_leases(company_id, account_id);
CREATE INDEX verification_leases_expiry ON verification_leases(until_ms);
)sql";

// Schema 8: commands are claimed by one instance before they are published (store_port.h):
// the claimer's name, the claim time and the device connection it was claimed in. A device's
// online_epoch counts its changes to online presence, so a command claimed in an earlier
// connection is due again (and claimed once) when the device reconnects.
constexpr const char* k_schema_8 = R"sql(
ALTER TABLE commands ADD COLUMN claimed_by TEXT;
ALTER TABLE commands ADD COLUMN claimed_at_ms INTEGER;
ALTER TABLE commands ADD COLUMN claim_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN online_epoch INTEGER NOT NULL DEFAULT 0;
)sql";

// Schema 9: a password someone other than its owner set is replaced at the next login; login ids
// trimmed and unique without regard to case (sql/account_login_ids.h, in the data step).
constexpr const char* k_schema_9 = R"sql(
ALTER TABLE accounts ADD COLUMN password_change_required INTEGER NOT NULL DEFAULT 0;
)sql";

// Schema 11: alerts (docs/alerts.md). An alarm names its router and its life (acknowledged by
// whom, with a comment; cleared); at most one alarm per company, router and rule is active
// (not cleared), a unique key so instances judging the same router raise it once. A company's
// rules, its notification channels and the webhook outbox. A webhook's secret is derived from
// its salt under a key outside the database (alerts/alert_port.h); the salt alone signs nothing.
constexpr const char* k_schema_11 = R"sql(
ALTER TABLE alarms ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN acknowledged_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN ack_comment TEXT NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN cleared_at_s INTEGER;
CREATE UNIQUE INDEX alarms_active_router ON alarms(company_id, device_id, kind)
  WHERE cleared_at_s IS NULL AND device_id <> '';
CREATE INDEX alarms_company ON alarms(company_id, id);
CREATE TABLE alert_rules (
  company_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  threshold INTEGER NOT NULL,
  window_s INTEGER NOT NULL,
  PRIMARY KEY (company_id, kind)
);
CREATE TABLE notification_channels (
  id INTEGER PRIMARY KEY,
  company_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  account_ids TEXT NOT NULL DEFAULT '[]',
  url TEXT NOT NULL DEFAULT '',
  salt TEXT NOT NULL DEFAULT '',
  created_at_s INTEGER NOT NULL,
  failing_since_s INTEGER,
  disabled_at_s INTEGER
);
CREATE INDEX notification_channels_company ON notification_channels(company_id);
CREATE TABLE webhook_outbox (
  id INTEGER PRIMARY KEY,
  channel_id INTEGER NOT NULL,
  payload TEXT NOT NULL,
  created_at_s INTEGER NOT NULL,
  sent_at_s INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_s INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  test_event INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(sent_at_s, next_attempt_s);
)sql";

// Schema 12: the service document's notices, planned maintenance windows and incidents with
// their updates (site-level: no company column).
constexpr const char* k_schema_12 = R"sql(
CREATE TABLE notices (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('maintenance', 'incident')),
  status TEXT NOT NULL,
  urgent INTEGER NOT NULL DEFAULT 0,
  starts_at_s INTEGER NOT NULL DEFAULT 0,
  ends_at_s INTEGER NOT NULL DEFAULT 0,
  text_ja TEXT NOT NULL,
  text_en TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at_s INTEGER NOT NULL,
  updated_at_s INTEGER NOT NULL
);
CREATE INDEX notices_updated ON notices(updated_at_s);
CREATE TABLE notice_updates (
  id INTEGER PRIMARY KEY,
  notice_id INTEGER NOT NULL REFERENCES notices(id),
  status TEXT NOT NULL,
  text_ja TEXT NOT NULL,
  text_en TEXT NOT NULL,
  at_s INTEGER NOT NULL
);
CREATE INDEX notice_updates_notice ON notice_updates(notice_id, id);
)sql";

// Schema 13: offline technician credentials name the technician they were issued to, so the
// access log records their issue and the router's reports under that name.
constexpr const char* k_schema_13 = R"sql(
ALTER TABLE technician_logins ADD COLUMN technician_name TEXT NOT NULL DEFAULT '';
)sql";

// Schema 10: the fleet. The device list's filters read columns of the latest state (model,
// firmware, WAN address; written with the state, filled here from the stored one) through
// indexes that hold the company, the column and the id, so a filtered page walks its rows in
// id order. A destination's configuration profile is applied by one config.set at a time: the
// device keeps that command's id and what it carries (the profile's hash, the config_rev it
// leads to); a destination keeps its profile's hash (security/config_profile.h), set when its
// settings are saved.
constexpr const char* k_schema_10 = R"sql(
ALTER TABLE devices ADD COLUMN model TEXT;
ALTER TABLE devices ADD COLUMN firmware TEXT;
ALTER TABLE devices ADD COLUMN wan_ip TEXT;
ALTER TABLE devices ADD COLUMN profile_command_id TEXT;
ALTER TABLE devices ADD COLUMN profile_hash TEXT;
ALTER TABLE devices ADD COLUMN profile_rev INTEGER;
ALTER TABLE destinations ADD COLUMN profile_hash TEXT;
UPDATE devices SET model = json_extract(state_json, '$.model'),
  firmware = json_extract(state_json, '$.fw'), wan_ip = json_extract(state_json, '$.wan.ip')
  WHERE state_json IS NOT NULL AND json_valid(state_json);
CREATE INDEX devices_company_destination ON devices(company_id, destination_id, id);
CREATE INDEX devices_company_model ON devices(company_id, model, id);
CREATE INDEX devices_company_firmware ON devices(company_id, firmware, id);
)sql";

// Schema 14: fleet jobs (a job and one row per router it names, released into commands by the
// scheduler's tick) and device tags, each looked up by company and tag in device id order; the
// built-in administrator and operator roles gain job.manage.
constexpr const char* k_schema_14 = R"sql(
CREATE TABLE fleet_jobs (
  id INTEGER PRIMARY KEY,
  company_id TEXT NOT NULL,
  op TEXT NOT NULL,
  args_json TEXT NOT NULL,
  target_json TEXT NOT NULL,
  per_minute INTEGER NOT NULL,
  max_in_flight INTEGER NOT NULL,
  abort_pct INTEGER,
  abort_min INTEGER NOT NULL,
  deadline_s INTEGER NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL,
  created_at_s INTEGER NOT NULL,
  finished_at_s INTEGER
);
CREATE INDEX fleet_jobs_company ON fleet_jobs(company_id, id);
CREATE INDEX fleet_jobs_state ON fleet_jobs(state, id);
CREATE TABLE fleet_job_devices (
  job_id INTEGER NOT NULL,
  device_id TEXT NOT NULL,
  company_id TEXT NOT NULL,
  state TEXT NOT NULL,
  command_id TEXT,
  released_at_ms INTEGER,
  PRIMARY KEY (job_id, device_id)
);
CREATE INDEX fleet_job_devices_state ON fleet_job_devices(job_id, state, device_id);
CREATE INDEX fleet_job_devices_device ON fleet_job_devices(device_id);
CREATE TABLE device_tags (
  company_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  tag TEXT NOT NULL,
  PRIMARY KEY (device_id, tag)
);
CREATE INDEX device_tags_company_tag ON device_tags(company_id, tag, device_id);
UPDATE roles SET permissions = replace(permissions, '"company.settings"]',
  '"company.settings","job.manage"]') WHERE company_id = '' AND name = 'administrator';
UPDATE roles SET permissions = replace(permissions, '"account.read"]',
  '"account.read","job.manage"]') WHERE company_id = '' AND name = 'operator';
)sql";

// Schema 15: a router's technician secret is sent when it comes online until it confirms it;
// the device keeps the id of the key whose secret it confirmed (never the key or the secret).
// A purged technician login leaves who it was issued to until the access log's retention, so
// the router's late reports on it are still recorded under the technician's name.
constexpr const char* k_schema_15 = R"sql(
ALTER TABLE devices ADD COLUMN technician_secret_key_id TEXT NOT NULL DEFAULT '';
CREATE TABLE technician_login_tombstones (
  company_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  login_id TEXT NOT NULL,
  technician_name TEXT NOT NULL,
  deleted_at_ms INTEGER NOT NULL,
  PRIMARY KEY (company_id, device_id, login_id)
);
CREATE INDEX technician_login_tombstones_deleted ON technician_login_tombstones(deleted_at_ms);
)sql";

// Schema 16: a job's progress as counters per status (fleet_job_counts), kept by triggers in the
// transaction of every change to a router's row or to its command's status, whichever code makes
// it, so reading a job's progress reads six rows, not each of its routers. The status is the one
// job_store.cpp derives from a row and its command (k_status_expr); a command changes the status
// of a released row only. The jobs already stored are counted once here.
constexpr const char* k_schema_16 = R"sql(
CREATE TABLE fleet_job_counts (
  job_id INTEGER NOT NULL,
  status TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (job_id, status)
);
CREATE INDEX fleet_job_devices_command ON fleet_job_devices(command_id)
  WHERE command_id IS NOT NULL;
CREATE INDEX fleet_job_devices_released ON fleet_job_devices(job_id, released_at_ms)
  WHERE released_at_ms IS NOT NULL;
INSERT INTO fleet_job_counts(job_id, status, n)
  SELECT j.job_id, CASE WHEN j.state = 'pending' THEN 'queued'
    WHEN j.state <> 'released' THEN j.state WHEN c.status IS NULL THEN 'cancelled'
    WHEN c.status IN ('queued', 'sent') THEN 'sent' WHEN c.status = 'expired' THEN 'timed_out'
    ELSE c.status END, count(*)
  FROM fleet_job_devices j LEFT JOIN commands c ON c.id = j.command_id GROUP BY 1, 2;
CREATE TRIGGER fleet_job_devices_counted AFTER INSERT ON fleet_job_devices BEGIN
  INSERT INTO fleet_job_counts(job_id, status, n)
    SELECT NEW.job_id, CASE WHEN NEW.state = 'pending' THEN 'queued'
      WHEN NEW.state <> 'released' THEN NEW.state WHEN c.status IS NULL THEN 'cancelled'
      WHEN c.status IN ('queued', 'sent') THEN 'sent' WHEN c.status = 'expired' THEN 'timed_out'
      ELSE c.status END, 1
    FROM (SELECT 1) LEFT JOIN commands c ON c.id = NEW.command_id WHERE true
    ON CONFLICT(job_id, status) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER fleet_job_devices_uncounted AFTER DELETE ON fleet_job_devices BEGIN
  INSERT INTO fleet_job_counts(job_id, status, n)
    SELECT OLD.job_id, CASE WHEN OLD.state = 'pending' THEN 'queued'
      WHEN OLD.state <> 'released' THEN OLD.state WHEN c.status IS NULL THEN 'cancelled'
      WHEN c.status IN ('queued', 'sent') THEN 'sent' WHEN c.status = 'expired' THEN 'timed_out'
      ELSE c.status END, -1
    FROM (SELECT 1) LEFT JOIN commands c ON c.id = OLD.command_id WHERE true
    ON CONFLICT(job_id, status) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER fleet_job_devices_recounted AFTER UPDATE OF state, command_id ON fleet_job_devices
BEGIN
  INSERT INTO fleet_job_counts(job_id, status, n)
    SELECT OLD.job_id, CASE WHEN OLD.state = 'pending' THEN 'queued'
      WHEN OLD.state <> 'released' THEN OLD.state WHEN c.status IS NULL THEN 'cancelled'
      WHEN c.status IN ('queued', 'sent') THEN 'sent' WHEN c.status = 'expired' THEN 'timed_out'
      ELSE c.status END, -1
    FROM (SELECT 1) LEFT JOIN commands c ON c.id = OLD.command_id WHERE true
    ON CONFLICT(job_id, status) DO UPDATE SET n = n + excluded.n;
  INSERT INTO fleet_job_counts(job_id, status, n)
    SELECT NEW.job_id, CASE WHEN NEW.state = 'pending' THEN 'queued'
      WHEN NEW.state <> 'released' THEN NEW.state WHEN c.status IS NULL THEN 'cancelled'
      WHEN c.status IN ('queued', 'sent') THEN 'sent' WHEN c.status = 'expired' THEN 'timed_out'
      ELSE c.status END, 1
    FROM (SELECT 1) LEFT JOIN commands c ON c.id = NEW.command_id WHERE true
    ON CONFLICT(job_id, status) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER fleet_job_commands_recounted AFTER UPDATE OF status ON commands
WHEN OLD.status IS NOT NEW.status BEGIN
  INSERT INTO fleet_job_counts(job_id, status, n)
    SELECT job_id, CASE WHEN OLD.status IN ('queued', 'sent') THEN 'sent'
      WHEN OLD.status = 'expired' THEN 'timed_out' ELSE OLD.status END, -1
    FROM fleet_job_devices WHERE command_id = OLD.id AND state = 'released'
    ON CONFLICT(job_id, status) DO UPDATE SET n = n + excluded.n;
  INSERT INTO fleet_job_counts(job_id, status, n)
    SELECT job_id, CASE WHEN NEW.status IN ('queued', 'sent') THEN 'sent'
      WHEN NEW.status = 'expired' THEN 'timed_out' ELSE NEW.status END, 1
    FROM fleet_job_devices WHERE command_id = NEW.id AND state = 'released'
    ON CONFLICT(job_id, status) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER fleet_job_commands_uncounted AFTER DELETE ON commands BEGIN
  INSERT INTO fleet_job_counts(job_id, status, n)
    SELECT job_id, CASE WHEN OLD.status IN ('queued', 'sent') THEN 'sent'
      WHEN OLD.status = 'expired' THEN 'timed_out' ELSE OLD.status END, -1
    FROM fleet_job_devices WHERE command_id = OLD.id AND state = 'released'
    ON CONFLICT(job_id, status) DO UPDATE SET n = n + excluded.n;
  INSERT INTO fleet_job_counts(job_id, status, n)
    SELECT job_id, 'cancelled', 1
    FROM fleet_job_devices WHERE command_id = OLD.id AND state = 'released'
    ON CONFLICT(job_id, status) DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER fleet_jobs_uncounted AFTER DELETE ON fleet_jobs BEGIN
  DELETE FROM fleet_job_counts WHERE job_id = OLD.id;
END;
)sql";

// Schema 17: the dispatcher's sweep (claim_for_online, every poll) looks up the router of every
// open command, also of the thousands queued for offline routers. This index answers the
// router's presence and online epoch without reading its row, which its state snapshot makes
// large.
constexpr const char* k_schema_17 = R"sql(
CREATE INDEX devices_claim_check ON devices(id, presence, online_epoch);
)sql";

// Schema 18 is PostgreSQL's index of online routers, which its sweep hashes (pg_migrations.cpp).
// SQLite has no hash join and looks up each open command's router either way; its planner takes
// devices_claim_check for that lookup, and a partial index of online routers only with INDEXED
// BY (it read the routers' rows instead: bench_api's sweep took 32 ms, not 12). Nothing changes
// here; the number keeps both engines' versions alike.
constexpr const char* k_schema_18 = "";

const migration k_migrations[] = {
    {1, "issue 4 schema: tenants, devices, commands, technician logins, accounts, access log",
     k_schema_1, &seed_built_in_roles},
    {2, "issue 6: access-log purge path (audit_head.purge_before and its triggers)", k_schema_2},
    {3, "device list filtered on presence by index (devices_company_presence)", k_schema_3},
    {4, "state history as a per-device ring of slots (devices.state_count, state_history.slot)",
     k_schema_4},
    {5, "wrong device claims per company for the claim throttle (device_claim_failures)",
     k_schema_5},
    {6, "commands ordered by an explicit column (commands.seq) rather than the rowid", k_schema_6},
    {7,
     "counters and leases shared by every instance (counter_events, leases, verification_leases)",
     k_schema_7},
    {8,
     "command claims by one instance (commands.claimed_by, claimed_at_ms, claim_epoch; "
     "devices.online_epoch)",
     k_schema_8},
    {9,
     "forced password change (accounts.password_change_required); login ids trimmed and unique "
     "without regard to case (accounts_login_id_folded)",
     k_schema_9, &sql::fold_account_login_ids},
    {10,
     "fleet: device list filters by index (devices.model, firmware, wan_ip), configuration "
     "profiles applied per device (devices.profile_*)",
     k_schema_10},
    {11,
     "alerts: alarms per router with acknowledgement and clearing (alarms_active_router), "
     "alert_rules, notification_channels, webhook_outbox",
     k_schema_11},
    {12, "planned maintenance and incident notices (notices, notice_updates)", k_schema_12},
    {13, "technician logins name their technician (technician_logins.technician_name)",
     k_schema_13},
    {14,
     "fleet jobs and their routers (fleet_jobs, fleet_job_devices); device tags (device_tags); "
     "job.manage for the built-in administrator and operator",
     k_schema_14},
    {15,
     "technician secrets confirmed per device (devices.technician_secret_key_id); purged "
     "technician logins' tombstones (technician_login_tombstones)",
     k_schema_15},
    {16,
     "fleet job progress as counters per status kept by triggers (fleet_job_counts); job rows "
     "found by command (fleet_job_devices_command) and by release time "
     "(fleet_job_devices_released)",
     k_schema_16},
    {17, "the dispatcher's sweep checks a router's presence by index (devices_claim_check)",
     k_schema_17},
    {18, "PostgreSQL's index of online routers (devices_online); no change on SQLite", k_schema_18},
};

int user_version(sql::connection& db) {
  auto q = db.prepare("PRAGMA user_version");
  q.step();
  return static_cast<int>(q.i64(0));
}

}  // namespace

std::span<const migration> migrations() {
  return k_migrations;
}

int migrate(sql::connection& db) {
  return migrate(db, migrations().back().version);
}

int migrate(sql::connection& db, int up_to) {
  int current = user_version(db);
  int latest = migrations().back().version;
  if (current > latest) {
    throw db_error("database schema version " + std::to_string(current) +
                       " is newer than this program's " + std::to_string(latest),
                   std::to_string(SQLITE_ERROR));
  }
  for (const auto& m : migrations()) {
    if (m.version <= current || m.version > up_to) continue;
    db.begin(true, sql::durability::durable);
    try {
      db.exec_script(m.sql);
      if (m.after) m.after(db);
      db.exec_script(("PRAGMA user_version = " + std::to_string(m.version)).c_str());
      db.commit();
    } catch (...) {
      db.rollback();
      throw;
    }
    current = m.version;
  }
  return current;
}

}  // namespace aterm::cloud::sqlite
