#include "aterm/cloud/security/technician_login_policy.h"

#include <algorithm>

#include "aterm/cloud/security/device_event_audit.h"
#include "aterm/cloud/security/password_policy.h"
#include "aterm/common/command_table.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"

namespace aterm::cloud::security {

namespace {

namespace crypto = common::crypto;

// Login ids are read out over the phone: capitals and digits without look-alikes.
constexpr std::string_view k_login_id_alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
constexpr std::size_t k_login_id_chars = 8;
constexpr std::size_t k_password_chars = 12;
constexpr std::size_t k_salt_bytes = 16;
constexpr std::size_t k_hash_bytes = 32;
// A revoke is worth delivering for at least this long, even for a login about to expire.
constexpr std::int64_t k_min_revoke_life_s = 60;

std::string new_login_id() {
  return "T-" + crypto::generate_from(k_login_id_alphabet, k_login_id_chars);
}

// The install command of the login as it stands (its id included).
void encode_install(technician_login_issue& issue) {
  const technician_login& t = issue.login;
  common::commands::technician_login_install args;
  args.login_id = t.login_id;
  args.salt_hex = t.salt_hex;
  args.iterations = t.iterations;
  args.hash_hex = t.hash_hex;
  args.expires_at = t.expires_at_s;
  args.ttl_s = issue.ttl_s;
  issue.install.args_json = common::commands::encode(args);
}

}  // namespace

std::optional<std::int64_t> technician_login_ttl_s(const company_settings& s) {
  if (s.technician_login_ttl_minutes <= 0) return std::nullopt;
  return s.technician_login_ttl_minutes * 60;
}

technician_login_issue issue_technician_login(const std::string& company_id,
                                              const std::string& device_id,
                                              const std::string& created_by,
                                              std::uint32_t iterations, std::int64_t now_s,
                                              std::int64_t ttl_s) {
  technician_login_issue issue;
  issue.password = crypto::generate_password(k_password_chars);
  const auto salt = crypto::random_bytes(k_salt_bytes);
  const auto hash = pbkdf2_sha256_fast(issue.password, salt, iterations, k_hash_bytes);
  issue.ttl_s = ttl_s;

  technician_login& t = issue.login;
  t.login_id = new_login_id();
  t.company_id = company_id;
  t.device_id = device_id;
  t.salt_hex = crypto::to_hex(salt);
  t.iterations = iterations;
  t.hash_hex = crypto::to_hex(hash);
  t.issued_at_s = now_s;
  t.expires_at_s = now_s + ttl_s;
  t.created_by = created_by;

  new_command& install = issue.install;
  install.device_id = device_id;
  install.op = std::string(to_string(common::commands::op_id::technician_login_install));
  // Dropped, not delivered, once the login itself has expired.
  install.deadline_s = t.expires_at_s;
  install.created_by = created_by;
  encode_install(issue);
  return issue;
}

void renew_login_id(technician_login_issue& issue) {
  issue.login.login_id = new_login_id();
  encode_install(issue);
}

new_command revoke_command(const technician_login& login, const std::string& created_by,
                           std::int64_t now_s) {
  common::json_ptr args(cJSON_CreateObject());
  cJSON_AddStringToObject(args.get(), "login_id", login.login_id.c_str());
  new_command revoke;
  revoke.device_id = login.device_id;
  revoke.op = std::string(to_string(common::commands::op_id::technician_login_revoke));
  revoke.args_json = common::print_json(args.get());
  revoke.deadline_s = std::max(login.expires_at_s, now_s + k_min_revoke_life_s);
  revoke.created_by = created_by;
  return revoke;
}

technician_event_change technician_event_effect(const technician_event_facts& f,
                                                const device_event_settings& s) {
  const auto verdict = judge_device_event(device_event_facts{f.login_held, f.records_in_window}, s);
  technician_event_change change;
  if (verdict == device_event_verdict::unknown_login) return change;
  if (f.type == "technician_login.used") {
    change.status = technician_login_status::used;
    change.outcome = "success";
  } else if (f.type == "technician_login.failed") {
    change.count_failure = true;
    change.outcome = "failure";
  } else {
    change.status = technician_login_status::locked;
    change.outcome = "locked";
  }
  change.record = verdict == device_event_verdict::record;
  return change;
}

technician_event_rule technician_event_rule_of(const device_event_settings& s) {
  technician_event_rule rule;
  rule.handles = [](std::string_view type) { return technician_login_event(type); };
  rule.window = s.window;
  rule.decide = [s](const technician_event_facts& f) { return technician_event_effect(f, s); };
  return rule;
}

std::int64_t technician_login_purge_before_s(std::int64_t now_s, std::int64_t retention_s) {
  return now_s - retention_s;
}

}  // namespace aterm::cloud::security
