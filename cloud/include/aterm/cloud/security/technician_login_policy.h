// The cloud's rules of one-time technician logins (DESIGN.md section 4), in one place:
//   issue    a login of one device: an id read out over the phone, a one-time password shown
//            once, its salted PBKDF2 hash (the only form stored or sent to the router), a lifetime
//            from the company's settings (0 minutes: the feature is off), and the install
//            command, dropped undelivered once the login expired;
//   revoke   the revoke command, worth delivering for a minute even for a login about to expire;
//   events   what a router's technician_login.used / .failed / .locked does to the login's record
//            (which of them become access-log records: device_event_audit.h);
//   purge    records are deleted `retention` after issue, never before they expire.
// The store reads and writes; these functions decide. Pure except for the random id and secret
// of issue_technician_login(); thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/cloud/model.h"
#include "aterm/cloud/security/settings.h"

namespace aterm::cloud::security {

// ---- issue and revoke ----

// A new login and its install command, as the store takes them (create_technician_login).
struct technician_login_issue {
  technician_login login;  // install_command_id is the store's
  new_command install;     // technician_login.install to the device
  std::string password;    // the one-time password: answered once, never stored or logged
  std::int64_t ttl_s = 0;
};

// The lifetime of the company's technician logins; nullopt when it turned the feature off.
std::optional<std::int64_t> technician_login_ttl_s(const company_settings& s);

// Who asks and for whom: the operator's login and the technician's name (may be empty).
struct technician_login_request {
  std::string company_id;
  std::string device_id;
  std::string created_by;
  std::string technician_name;
};

// A login of the request's device issued at now_s, hashed with `iterations`. With a technician
// key (security.technician_key_file) the login is an offline credential
// (common/technician_credential.h) under the device's secret, so the router also verifies it
// without the install: its lifetime is the company's ttl rounded down to a ttl class. Without a
// key the id and password are random and only the install delivers them.
technician_login_issue issue_technician_login(const technician_login_request& r,
                                              std::span<const std::uint8_t> technician_key,
                                              std::uint32_t iterations, std::int64_t now_s,
                                              std::int64_t ttl_s);

// The same login under a fresh id (the store found the id taken): a random login gets a new id,
// an offline credential a new counter and so a new password.
void renew_login_id(technician_login_issue& issue, std::span<const std::uint8_t> technician_key,
                    std::uint32_t iterations);

// Names the technician key (16 hex digits of an HMAC under it), so the store knows which
// key's secret a router confirmed and sends it again after a key change; "" for no key.
std::string technician_key_id(std::span<const std::uint8_t> technician_key);

// The technician_login.secret command giving `device_id` its per-device secret under the key
// `key_id` names, deliverable until now_s + delivery_s. It is stored with the key id and
// without the secret: technician_secret_at_publish() fills it in when the bridge publishes it.
new_command technician_secret_command(const std::string& device_id, const std::string& created_by,
                                      std::int64_t now_s, std::int64_t delivery_s,
                                      const std::string& key_id);

// The store's rule (store_options::technician_secret): every router of a company gets the
// secret under `technician_key` when it is registered or comes online, until it confirms it;
// each command deliverable for delivery_s. Empty (no secret sent) without a key.
technician_secret_rule technician_secret_rule_of(std::span<const std::uint8_t> technician_key,
                                                 std::int64_t delivery_s);

// The store's publish hook (store_options::publish_args) that gives a technician_login.secret
// command the device's secret under `technician_key` (common/technician_credential.h) in the
// message only; every other command is published as stored.
command_args_at_publish technician_secret_at_publish(std::vector<std::uint8_t> technician_key);

// A technician's name as typed: trimmed, 1..64 characters
// without control characters; nullopt otherwise. Empty input gives "".
std::optional<std::string> technician_name_of(std::string_view typed);

// Until when an offline router could still accept a revoked credential: its issue time + ttl,
// plus the clock skew routers allow.
std::int64_t offline_usable_until_s(const technician_login& login, std::int64_t skew_s);

// The access-log detail of a router's report on a login: the technician's name and the
// reason, failures and configuration revisions the router gave.
std::string technician_event_detail(std::string_view technician_name,
                                    std::string_view event_fields_json);

// The technician_login.revoke command of `login`.
new_command revoke_command(const technician_login& login, const std::string& created_by,
                           std::int64_t now_s);

// ---- events ----

// What a technician-login event changes, from the facts the store read: nothing for a login the
// device does not hold; otherwise used -> status used, locked -> status locked (each from active
// only), failed -> one more failure, ended (the local session a use opened) -> no change; and an
// access-log record unless the device is past its rate (device_event_audit.h).
technician_event_change technician_event_effect(const technician_event_facts& f,
                                                const device_event_settings& s);

// The rule the store applies (sqlite_options::technician_events) under `s`.
technician_event_rule technician_event_rule_of(const device_event_settings& s);

// ---- purge ----

// Records issued at or before this are deleted (once they expired) at now_s.
std::int64_t technician_login_purge_before_s(std::int64_t now_s, std::int64_t retention_s);

}  // namespace aterm::cloud::security
