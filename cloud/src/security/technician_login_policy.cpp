#include "aterm/cloud/security/technician_login_policy.h"

#include <algorithm>

#include "aterm/cloud/limits.h"
#include "aterm/cloud/security/device_event_audit.h"
#include "aterm/cloud/security/password_policy.h"
#include "aterm/common/command_table.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"
#include "aterm/common/technician_credential.h"

namespace aterm::cloud::security {

namespace {

namespace crypto = common::crypto;
namespace tc = common::technician_credential;

// Login ids are read out over the phone: capitals and digits without look-alikes.
constexpr std::string_view k_login_id_alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
constexpr std::size_t k_login_id_chars = 8;
constexpr std::size_t k_password_chars = 12;
constexpr std::size_t k_salt_bytes = 16;
constexpr std::size_t k_hash_bytes = 32;
// A revoke is worth delivering for at least this long, even for a login about to expire.
constexpr std::int64_t k_min_revoke_life_s = 60;
// Names a key among the few an operator ever rotates through; reveals nothing of it.
constexpr std::size_t k_key_id_bytes = 8;

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

namespace {

// Sets the password of the login as it stands (its id included) and its hash.
void set_password(technician_login_issue& issue, std::span<const std::uint8_t> key,
                  std::uint32_t iterations) {
  technician_login& t = issue.login;
  if (key.empty()) {
    issue.password = crypto::generate_password(k_password_chars);
  } else {
    const auto secret = tc::device_secret(key, t.device_id);
    issue.password = tc::password(secret, t.device_id, t.login_id);
  }
  const auto salt = crypto::random_bytes(k_salt_bytes);
  t.salt_hex = crypto::to_hex(salt);
  t.iterations = iterations;
  t.hash_hex = crypto::to_hex(pbkdf2_sha256_fast(issue.password, salt, iterations, k_hash_bytes));
}

void set_login_id(technician_login_issue& issue, std::span<const std::uint8_t> key) {
  technician_login& t = issue.login;
  if (key.empty()) {
    t.login_id = new_login_id();
    return;
  }
  tc::fields f;
  f.issue_minute =
      std::clamp<std::int64_t>((t.issued_at_s - tc::k_epoch_s) / 60, 0, tc::k_max_issue_minute);
  f.ttl_class = tc::ttl_class_for(issue.ttl_s / 60);
  f.counter = crypto::random_below(tc::k_max_counter + 1);
  t.login_id = tc::encode_login_id(f);
  // The router counts the lifetime from the issue minute in the id.
  issue.ttl_s = f.ttl_s();
  t.expires_at_s = f.issued_at_s() + f.ttl_s();
}

}  // namespace

technician_login_issue issue_technician_login(const technician_login_request& r,
                                              std::span<const std::uint8_t> technician_key,
                                              std::uint32_t iterations, std::int64_t now_s,
                                              std::int64_t ttl_s) {
  technician_login_issue issue;
  issue.ttl_s = ttl_s;
  technician_login& t = issue.login;
  t.company_id = r.company_id;
  t.device_id = r.device_id;
  t.issued_at_s = now_s;
  t.expires_at_s = now_s + ttl_s;
  t.created_by = r.created_by;
  t.technician_name = r.technician_name;
  set_login_id(issue, technician_key);
  set_password(issue, technician_key, iterations);

  new_command& install = issue.install;
  install.device_id = r.device_id;
  install.op = std::string(to_string(common::commands::op_id::technician_login_install));
  // Dropped, not delivered, once the login itself has expired.
  install.deadline_s = t.expires_at_s;
  install.created_by = r.created_by;
  encode_install(issue);
  return issue;
}

void renew_login_id(technician_login_issue& issue, std::span<const std::uint8_t> technician_key,
                    std::uint32_t iterations) {
  set_login_id(issue, technician_key);
  if (!technician_key.empty()) set_password(issue, technician_key, iterations);
  issue.install.deadline_s = issue.login.expires_at_s;
  encode_install(issue);
}

std::string technician_key_id(std::span<const std::uint8_t> technician_key) {
  if (technician_key.empty()) return "";
  constexpr std::string_view label = "aterm-technician-key-id-v1";
  const auto d = crypto::hmac_sha256(
      technician_key, std::span(reinterpret_cast<const std::uint8_t*>(label.data()), label.size()));
  return crypto::to_hex(std::span(d.data(), k_key_id_bytes));
}

new_command technician_secret_command(const std::string& device_id, const std::string& created_by,
                                      std::int64_t now_s, std::int64_t delivery_s,
                                      const std::string& key_id) {
  new_command c;
  c.device_id = device_id;
  c.op = std::string(to_string(common::commands::op_id::technician_login_secret));
  // The secret itself is filled in when the command is published
  // (technician_secret_at_publish): whoever reads the database finds no secret in it, only
  // which key it is derived under, recorded on the device when the router confirms it.
  common::json_ptr args(cJSON_CreateObject());
  cJSON_AddStringToObject(args.get(), "key_id", key_id.c_str());
  c.args_json = common::print_json(args.get());
  c.deadline_s = now_s + delivery_s;
  c.created_by = created_by;
  return c;
}

technician_secret_rule technician_secret_rule_of(std::span<const std::uint8_t> technician_key,
                                                 std::int64_t delivery_s) {
  technician_secret_rule rule;
  rule.key_id = technician_key_id(technician_key);
  if (rule.key_id.empty()) return rule;
  rule.command = [key_id = rule.key_id, delivery_s](const std::string& device_id,
                                                    std::int64_t now_s) {
    return technician_secret_command(device_id, "system", now_s, delivery_s, key_id);
  };
  return rule;
}

command_args_at_publish technician_secret_at_publish(std::vector<std::uint8_t> technician_key) {
  const std::string secret_op(to_string(common::commands::op_id::technician_login_secret));
  return [key = std::move(technician_key), secret_op](
             std::string_view device_id, std::string_view op, const std::string& stored) {
    // Whatever the row holds, the router gets the secret of its own id under the key, or
    // nothing it could use (the daemon has no key now: the agent refuses the empty args).
    if (op != secret_op) return stored;
    if (key.empty()) return std::string("{}");
    const auto secret = tc::device_secret(key, std::string(device_id));
    common::json_ptr args(cJSON_CreateObject());
    cJSON_AddStringToObject(args.get(), "secret", crypto::to_hex(secret).c_str());
    return common::print_json(args.get());
  };
}

std::optional<std::string> technician_name_of(std::string_view typed) {
  while (!typed.empty() && (typed.front() == ' ' || typed.front() == '\t')) typed.remove_prefix(1);
  while (!typed.empty() && (typed.back() == ' ' || typed.back() == '\t')) typed.remove_suffix(1);
  const auto characters = common::line_characters(typed);
  if (!characters || *characters > limits::k_max_technician_name) return std::nullopt;
  return std::string(typed);
}

std::int64_t offline_usable_until_s(const technician_login& login, std::int64_t skew_s) {
  return login.expires_at_s + skew_s;
}

std::string technician_event_detail(std::string_view technician_name,
                                    std::string_view event_fields_json) {
  std::string out;
  auto add = [&](std::string_view k, const std::string& v) {
    if (!out.empty()) out += ' ';
    out += k;
    out += '=';
    out += v;
  };
  if (!technician_name.empty()) add("technician", std::string(technician_name));
  auto fields = common::parse_json(event_fields_json);
  if (!fields.ok()) return out;
  if (auto reason = common::json_string(fields->get(), "reason")) add("reason", *reason);
  if (auto n = common::json_int(fields->get(), "failures")) add("failures", std::to_string(*n));
  if (auto rev = common::json_int(fields->get(), "config_rev_before"))
    add("config_rev_before", std::to_string(*rev));
  if (auto rev = common::json_int(fields->get(), "config_rev_after"))
    add("config_rev_after", std::to_string(*rev));
  return out;
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
  } else if (f.type == "technician_login.ended") {
    change.outcome = "ended";  // the local session's end changes nothing of the login
  } else {
    change.status = technician_login_status::locked;
    change.outcome = "locked";
  }
  change.record = verdict == device_event_verdict::record;
  if (change.record) change.detail = technician_event_detail(f.technician_name, f.fields_json);
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
