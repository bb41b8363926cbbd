// Domain types of the cloud (DESIGN.md sections 4-6): companies, destinations, devices,
// commands, technician logins, accounts, roles, sessions, access-log records, alarms and mail.
// The vocabulary the rules (cloud/src/security, jobs/lifecycle) and the store share: plain
// values, their names and the shapes of the decisions the rules hand the store; no rule and no
// persistence, so this header has no source file.
// Times are unix seconds (suffix _s) or milliseconds (_ms), always UTC.
// Secrets never appear here in plaintext: passwords and technician one-time passwords are
// PBKDF2 hashes, session tokens are SHA-256 hashes.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aterm::cloud {

namespace model_detail {

template <typename E, std::size_t N>
using enum_names = std::array<std::pair<E, std::string_view>, N>;

template <typename E, std::size_t N>
constexpr std::string_view name_of(const enum_names<E, N>& names, E v) {
  for (const auto& [value, name] : names) {
    if (value == v) return name;
  }
  return "unknown";
}

template <typename E, std::size_t N>
constexpr std::optional<E> value_of(const enum_names<E, N>& names, std::string_view s) {
  for (const auto& [value, name] : names) {
    if (name == s) return value;
  }
  return std::nullopt;
}

}  // namespace model_detail

// Site administrators log in with this reserved company id (DESIGN.md section 7).
inline constexpr std::string_view k_platform_company = "platform";

// ---- companies ----

struct company_settings {
  // Allowed client CIDRs (IPv4/IPv6); empty: no restriction.
  std::vector<std::string> ip_allowlist;
  // Lifetime of a technician login. Default: 60. 0 disables the feature for the company.
  std::int64_t technician_login_ttl_minutes = 60;
  // Unix seconds; nullopt: no contract end set.
  std::optional<std::int64_t> contract_end_s;
};

struct company {
  std::string id;  // e.g. "acme"; "platform" is the site administrators'
  std::string name;
  company_settings settings;
  std::int64_t created_at_s = 0;
};

// ---- destinations and devices ----

// A named group of devices of one company (仕向け). A device belongs to exactly one.
struct destination {
  std::int64_t id = 0;
  std::string company_id;
  std::string name;
  std::string settings_json = "{}";  // compact JSON object, free-form for now
  std::int64_t created_at_s = 0;
  std::int64_t device_count = 0;  // filled by reads
};

enum class presence_state { unknown, online, offline };
inline constexpr model_detail::enum_names<presence_state, 3> k_presence_names = {{
    {presence_state::unknown, "unknown"},
    {presence_state::online, "online"},
    {presence_state::offline, "offline"},
}};
constexpr std::string_view to_string(presence_state p) {
  return model_detail::name_of(k_presence_names, p);
}

// What the store knows of one router and its destination's configuration profile
// (security/config_profile.h decides from it).
struct device_profile {
  std::string wanted_hash;                   // the destination's profile; "" none
  std::optional<std::int64_t> reported_rev;  // config_rev of the router's latest state
  std::string sent_hash;                     // the profile of the last config.set queued; "" none
  std::optional<std::int64_t> sent_rev;      // the revision that config.set leads to
  // That command's status (command_status names); "" when there is none or it was deleted.
  std::string sent_status;
  std::string sent_error;  // its error, when it failed
};

struct device {
  std::string id;
  std::string company_id;  // empty: unassigned (seen but not registered)
  std::optional<std::int64_t> destination_id;
  std::string destination_name;  // "" when unassigned
  presence_state presence = presence_state::unknown;
  std::string agent_version;                 // from the last presence message
  std::optional<std::int64_t> last_seen_ms;  // last message of any kind
  std::string state_json;                    // latest state snapshot as received; "" when none
  std::optional<std::int64_t> state_received_ms;
  std::optional<std::int64_t> registered_at_s;  // nullopt while unassigned
  std::optional<std::int64_t> first_seen_ms;    // nullopt until the device connected once
  // From the latest state snapshot; "" when it has none.
  std::string model;
  std::string firmware;
  std::string wan_ip;
  device_profile profile;
};

// A company's wrong device claims inside the throttle's window (docs/device-claim.md).
struct claim_failures {
  std::int64_t count = 0;
  std::optional<std::int64_t> oldest_at_s;  // the oldest one counted; nullopt when none
};

struct device_query {
  std::string q;  // substring of the device id, case-insensitive; "" = all
  // Only devices whose presence is this (unknown: never heard a presence); nullopt = any.
  std::optional<presence_state> presence;
  std::size_t limit = 50;  // clamped to limits::k_max_page
  std::string cursor;      // next_cursor of the previous page; "" = first page
  // Fleet filters, all combinable (AND); nullopt = any. Model, firmware and WAN address are
  // those of the latest state snapshot; a device without one matches none of them.
  std::optional<std::string> model;     // exactly this model
  std::optional<std::string> firmware;  // exactly this firmware version
  std::optional<std::int64_t> destination_id;
  std::optional<std::int64_t> last_seen_before_ms;  // last_seen_ms < this; never seen: no match
  std::optional<std::int64_t> last_seen_after_ms;   // last_seen_ms >= this
  std::optional<std::string> wan_prefix;            // the WAN address starts with this text
  std::optional<std::string> tag;                   // carries this tag (exactly)
};

struct device_page {
  std::vector<device> devices;  // ordered by id
  // "" on the last page. A substring search (q) examines at most limits::k_max_device_scan
  // devices per page, so its page may hold fewer than `limit` devices (even none) and still
  // have a next_cursor: where it stopped.
  std::string next_cursor;
};

// A company's fleet at a glance (the dashboard's first page).
struct fleet_summary {
  std::int64_t devices = 0;
  std::int64_t online = 0;
  std::int64_t offline = 0;
  std::int64_t unknown = 0;
  // Devices per firmware version ("" : no state yet), most devices first, at most
  // limits::k_max_summary_firmware versions.
  std::vector<std::pair<std::string, std::int64_t>> firmware;
};

struct state_history_entry {
  std::int64_t received_ms = 0;
  std::string state_json;
};

// ---- commands ----

enum class command_status { queued, sent, succeeded, failed, timed_out, expired };
inline constexpr model_detail::enum_names<command_status, 6> k_command_status_names = {{
    {command_status::queued, "queued"},
    {command_status::sent, "sent"},
    {command_status::succeeded, "succeeded"},
    {command_status::failed, "failed"},
    {command_status::timed_out, "timed_out"},
    {command_status::expired, "expired"},
}};
constexpr std::string_view to_string(command_status s) {
  return model_detail::name_of(k_command_status_names, s);
}
constexpr std::optional<command_status> parse_command_status(std::string_view s) {
  return model_detail::value_of(k_command_status_names, s);
}
inline bool is_final(command_status s) {
  return s != command_status::queued && s != command_status::sent;
}

struct command_record {
  std::string id;  // "c-" + 24 hex characters, generated by the store
  std::string company_id;
  std::string device_id;
  std::string op;
  std::string args_json = "{}";
  command_status status = command_status::queued;
  // The device's final result: status text of protocol::result_status ("ok", "error", ...),
  // its result object and error text. Empty until a final result (or progress) arrived.
  std::string result_status;
  std::string result_json;
  std::string error;
  std::int64_t attempts = 0;  // times published
  std::int64_t created_at_s = 0;
  std::int64_t deadline_s = 0;
  std::optional<std::int64_t> sent_at_s;
  std::optional<std::int64_t> finished_at_s;
  std::string created_by;  // account login or "system"
};

struct new_command {
  std::string device_id;
  std::string op;
  std::string args_json = "{}";  // compact JSON object, validated by the caller
  std::int64_t deadline_s = 0;
  std::string created_by;
};

// ---- technician logins (DESIGN.md section 4) ----

enum class technician_login_status { active, used, locked, revoked, expired };
inline constexpr model_detail::enum_names<technician_login_status, 5> k_technician_login_names = {{
    {technician_login_status::active, "active"},
    {technician_login_status::used, "used"},
    {technician_login_status::locked, "locked"},
    {technician_login_status::revoked, "revoked"},
    {technician_login_status::expired, "expired"},
}};
constexpr std::string_view to_string(technician_login_status s) {
  return model_detail::name_of(k_technician_login_names, s);
}
constexpr std::optional<technician_login_status> parse_technician_login_status(std::string_view s) {
  return model_detail::value_of(k_technician_login_names, s);
}

struct technician_login {
  std::string login_id;  // "T-" + 8 characters
  std::string company_id;
  std::string device_id;
  std::string salt_hex;  // 16 bytes
  std::int64_t iterations = 10000;
  std::string hash_hex;  // PBKDF2-HMAC-SHA256(password, salt, iterations, 32)
  std::int64_t issued_at_s = 0;
  std::int64_t expires_at_s = 0;
  technician_login_status status = technician_login_status::active;
  std::int64_t failed_count = 0;   // technician_login.failed events seen
  std::string install_command_id;  // filled by the store
  std::string created_by;
  std::string technician_name;  // who it was issued to; "" when the operator named nobody
};

// What the store reads, in the ingest transaction, when a registered device reports a
// technician-login event (DESIGN.md section 4 step 4).
struct technician_event_facts {
  std::string_view type;               // e.g. "technician_login.used"
  bool login_held = false;             // the login id is one the company issued to this device
  std::int64_t records_in_window = 0;  // the device's event records within the rule's window
  std::string_view technician_name;    // of the login held ("" when none or unnamed)
  std::string_view fields_json;        // the event's fields
};

// What the rule decided from them; the store writes it in the same transaction.
struct technician_event_change {
  std::optional<technician_login_status> status;  // an active login takes this status
  bool count_failure = false;                     // the login's failed_count + 1
  // Append an access-log record (action: the event type, result: `outcome`).
  bool record = false;
  std::string_view outcome;
  std::string detail;  // the record's detail
};

// The cloud's rule for technician-login events, which the store applies in its ingest
// transaction (security/technician_login_policy.h makes it). Empty: no event is taken into
// account.
struct technician_event_rule {
  std::function<bool(std::string_view type)> handles;
  std::chrono::seconds window{0};  // how far back records_in_window counts
  std::function<technician_event_change(const technician_event_facts&)> decide;
};

// How the store gives each router of a company its per-device technician secret
// (security/technician_login_policy.h makes it): when a router comes online while it has not
// confirmed the secret of the key `key_id` names, one command() is queued for it, never two
// pending at once; its success records key_id on the device. Empty key_id: no secret is sent.
struct technician_secret_rule {
  std::string key_id;  // names the daemon's technician key; never the key or a secret
  std::function<new_command(const std::string& device_id, std::int64_t now_s)> command;
};

// Fills in a command's arguments when the bridge builds its message: (device_id, op, stored
// args) -> the args published. Called inside the claiming transaction; must be quick.
using command_args_at_publish = std::function<std::string(
    std::string_view device_id, std::string_view op, const std::string& stored_args)>;

// ---- roles, accounts, sessions ----

// The permission catalogue (DESIGN.md section 6).
inline constexpr std::array<std::string_view, 11> k_permissions = {
    "device.read",      "device.command",     "device.technician_login",
    "device.register",  "destination.manage", "account.read",
    "account.manage",   "role.manage",        "audit.read",
    "company.settings", "job.manage"};

// Built-in roles, present in every company (company_id "" in the store, read-only).
inline constexpr std::string_view k_role_administrator = "administrator";
inline constexpr std::string_view k_role_operator = "operator";
inline constexpr std::string_view k_role_viewer = "viewer";

struct role {
  std::int64_t id = 0;
  std::string company_id;  // "" for the built-in roles
  std::string name;
  std::vector<std::string> permissions;  // each from k_permissions
  bool built_in = false;
};

enum class lock_reason { none, failed_logins, inactivity, administrator };
inline constexpr model_detail::enum_names<lock_reason, 4> k_lock_reason_names = {{
    {lock_reason::none, "none"},
    {lock_reason::failed_logins, "failed_logins"},
    {lock_reason::inactivity, "inactivity"},
    {lock_reason::administrator, "administrator"},
}};
constexpr std::string_view to_string(lock_reason r) {
  return model_detail::name_of(k_lock_reason_names, r);
}
constexpr std::optional<lock_reason> parse_lock_reason(std::string_view s) {
  return model_detail::value_of(k_lock_reason_names, s);
}

// The lock fields of an account: what the lock rule (security/lockout_policy.h) reads and decides.
struct account_lock_state {
  std::int64_t failed_count = 0;  // consecutive failures since the last success or unlock
  // End of a failed_logins lock (unix seconds). The other locks have no end.
  std::optional<std::int64_t> locked_until_s;
  lock_reason locked = lock_reason::none;

  friend bool operator==(const account_lock_state&, const account_lock_state&) = default;
};

struct account {
  std::int64_t id = 0;
  std::string company_id;
  std::string login_id;
  std::string email;
  std::int64_t role_id = 0;
  std::string role_name;  // filled by reads
  // "pbkdf2-sha256$<iter>$<salt hex>$<hash hex>" (security/password_policy.h).
  std::string password_hash;
  // The previous password hashes, newest first, at most limits::k_password_history (3).
  std::vector<std::string> password_history;
  std::int64_t failed_count = 0;               // consecutive failed logins
  std::optional<std::int64_t> locked_until_s;  // for lock_reason::failed_logins
  lock_reason locked = lock_reason::none;
  std::optional<std::int64_t> last_login_at_s;
  std::int64_t created_at_s = 0;
  std::optional<std::int64_t> reminder_sent_at_s;  // inactivity reminder mail
  std::optional<std::int64_t> locked_at_s;         // when the current lock started
  // The password was set by someone other than its owner and must be replaced before the
  // account may do anything else (security/password_change_rule.h).
  bool password_change_required = false;
  // True for accounts whose role is the built-in administrator.
  bool is_administrator() const { return role_name == k_role_administrator; }
};

inline account_lock_state lock_state_of(const account& a) {
  return {a.failed_count, a.locked_until_s, a.locked};
}

struct new_account {
  std::string company_id;
  std::string login_id;
  std::string email;
  std::string role_name;  // built-in or the company's own role
  std::string password_hash;
  bool password_change_required = false;  // the password was chosen by someone else
};

struct account_update {
  std::optional<std::string> email;
  std::optional<std::string> role_name;
  // true: an administrator lock (its sessions end); false: no lock and a zero failure count.
  std::optional<bool> locked;
};

// An account as the store transaction that changes it reads it, for the rule deciding whether
// the change may go ahead (security/delegation_policy.h).
struct account_facts {
  account target;                               // as stored before the change
  std::vector<std::string> target_permissions;  // of its current role
  std::optional<role> new_role;                 // the role the change gives it, if any
  // The company's other accounts holding the administrator role, as stored now.
  std::vector<account> other_administrators;
};

struct session {
  std::string token_hash;  // hex SHA-256 of the cookie token; the token itself is never stored
  std::string csrf_token;
  std::int64_t account_id = 0;
  std::string company_id;
  std::int64_t created_at_s = 0;
  std::int64_t last_seen_at_s = 0;
  std::string source_ip;
};

// ---- access log (DESIGN.md section 5) ----

// What a caller appends; the store assigns seq, ts and the chain hashes.
struct audit_entry {
  std::string company_id;  // "platform" for site-level records
  std::string actor;       // account login id, "device:<id>", "system"
  std::string action;      // e.g. "login", "command.create", "technician_login.used"
  std::string target;      // e.g. device id, account login, command id
  std::string result;      // "success", "failure", "denied", ...
  std::string detail;      // free text (user-supplied parts included; escaped by the chain)
  std::string source_ip;
};

struct audit_record {
  std::int64_t seq = 0;    // gap-free, from 1, over all companies
  std::int64_t ts_ms = 0;  // UTC
  std::string company_id;
  std::string actor;
  std::string action;
  std::string target;
  std::string result;
  std::string detail;
  std::string source_ip;
  std::string prev_hash;  // hex; 64 zeros for the first record
  std::string hash;       // hex HMAC-SHA-256(key, prev_hash bytes || canonical record)
};

// The chain's latest (seq, hash), kept apart from the records so a cut tail is detected. An
// empty chain's head is {0, k_empty_chain_hash}: h(0), 32 zero bytes as hex.
inline constexpr std::string_view k_empty_chain_hash =
    "0000000000000000000000000000000000000000000000000000000000000000";
struct audit_head {
  std::int64_t seq = 0;
  std::string hash;
};

// A key kept outside the database (security/key_file.h): the access log's chain key or the
// backups' sidecar key. `secret` holds the raw key bytes; never logged or printed.
struct secret_key {
  std::string id;  // 16 hex digits naming the key
  std::string secret;
};

struct audit_query {
  std::optional<std::int64_t> from_ms;  // inclusive
  std::optional<std::int64_t> to_ms;    // exclusive
  std::string actor;                    // "" = any
  std::string action;                   // "" = any
  std::int64_t after_seq = 0;           // paging: records with seq > after_seq
  std::size_t limit = 1000;             // clamped to limits::k_max_audit_page
  // Newest first (descending seq), paged by before_seq: records with seq < before_seq.
  bool newest_first = false;
  std::optional<std::int64_t> before_seq;
};

// ---- alarms and mail (later issues; the tables exist now) ----

// One company as the site administrator's first page shows it (store::company_summaries).
struct company_summary {
  company comp;
  std::int64_t devices = 0;          // registered to the company
  std::int64_t online = 0;           // of those, presence online
  std::int64_t open_alarms = 0;      // neither acknowledged nor cleared
  std::int64_t locked_accounts = 0;  // locked now (a failed-logins lock that ran out is none)
};

struct alarm {
  std::int64_t id = 0;
  std::string company_id;  // "platform" for platform-wide
  std::string kind;        // e.g. "login_failure_burst"
  std::string detail;
  std::int64_t created_at_s = 0;
  std::optional<std::int64_t> acknowledged_at_s;
};

struct mail_message {
  std::int64_t id = 0;
  std::string to;
  std::string subject;
  std::string body;  // UTF-8 text
  std::int64_t created_at_s = 0;
  std::optional<std::int64_t> sent_at_s;
  std::int64_t attempts = 0;
  std::int64_t next_attempt_s = 0;
  std::string last_error;
};

}  // namespace aterm::cloud
