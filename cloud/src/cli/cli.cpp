#include "aterm/cloud/cli.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <span>

#include "aterm/cloud/cloud_config.h"
#include "aterm/cloud/daemon.h"
#include "aterm/cloud/security/anchor_file.h"
#include "aterm/cloud/security/audit_chain.h"
#include "aterm/cloud/security/device_claim.h"
#include "aterm/cloud/security/email_address.h"
#include "aterm/cloud/security/key_file.h"
#include "aterm/cloud/security/login_id.h"
#include "aterm/cloud/security/password_change_rule.h"
#include "aterm/cloud/security/password_policy.h"
#include "aterm/cloud/security/settings.h"
#include "aterm/cloud/store.h"
#include "aterm/common/claim_code.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"
#include "jobs_verbs.h"

namespace aterm::cloud::cli {

namespace {

// Generated first passwords: longer than the 12-character minimum, from the look-alike-free
// alphabet.
constexpr std::size_t k_generated_password_length = 16;
constexpr std::size_t k_audit_page = 5000;
constexpr std::string_view k_default_destination = "default";

using verb_fn = std::function<int(const invocation&, std::ostream&, std::ostream&)>;

int refuse(std::ostream& err, const std::string& message, int code = k_exit_failed) {
  err << "aterm-cloud: " << message << "\n";
  return code;
}

// The value of --name, or nullptr after printing a usage error.
const std::string* option(const invocation& inv, const std::string& name, std::ostream& err) {
  auto it = inv.options.find(name);
  if (it == inv.options.end() || it->second.empty()) {
    err << "aterm-cloud: missing --" << name << "\n";
    return nullptr;
  }
  return &it->second;
}

std::string optional_option(const invocation& inv, const std::string& name,
                            const std::string& fallback = {}) {
  auto it = inv.options.find(name);
  return it == inv.options.end() ? fallback : it->second;
}

// Everything a verb needs from --config: the settings and an open store.
struct environment {
  common::config config;
  std::unique_ptr<store> db;
};

// Opens the store sealing access-log records under the audit key (created when missing), or,
// for a verb that only reads (`sealing` false), without writing anything.
std::unique_ptr<environment> open_environment(const invocation& inv, std::ostream& err,
                                              bool sealing = true) {
  const auto* path = option(inv, "config", err);
  if (!path) return nullptr;
  auto cfg = load_cloud_config(*path);
  if (!cfg.ok()) {
    refuse(err, cfg.error().message());
    return nullptr;
  }
  auto env = std::make_unique<environment>();
  env->config = std::move(cfg).value();
  store_options o = store_options_from(env->config);
  if (sealing) {
    auto ring =
        security::load_or_create_keyring(security::secret_files_from(env->config).audit_key);
    if (!ring.ok()) {
      refuse(err, ring.error().message());
      return nullptr;
    }
    o.audit_key = ring->back();
  }
  auto s = open_store(o, common::system_clock::instance());
  if (!s.ok()) {
    refuse(err, s.error().to_string());
    return nullptr;
  }
  env->db = std::move(s).value();
  return env;
}

void print_object(std::ostream& out,
                  std::initializer_list<std::pair<const char*, std::string>> fields) {
  common::json_ptr obj(cJSON_CreateObject());
  for (const auto& [k, v] : fields) cJSON_AddStringToObject(obj.get(), k, v.c_str());
  out << common::print_json(obj.get()) << "\n";
}

std::uint32_t password_iterations(const common::config& c) {
  return security::security_settings_from(c).password.iterations;
}

void audit(store& db, const std::string& company, const std::string& action,
           const std::string& target) {
  // The action already happened; a failed log write is reported in the daemon log by the store.
  (void)db.append_audit({company, "cli", action, target, "success", "", ""});
}

int admin_init(const invocation& inv, std::ostream& out, std::ostream& err) {
  auto env = open_environment(inv, err);
  if (!env) return k_exit_failed;
  std::string login = security::trim_login_id(optional_option(inv, "login", "admin"));
  std::string platform(k_platform_company);
  // open_environment made the audit key; the backups' key is made here too, both 0600.
  auto backup_key =
      security::load_or_create_keyring(security::secret_files_from(env->config).backup_key);
  if (!backup_key.ok()) return refuse(err, backup_key.error().message());
  if (env->db->get_company(platform).ok()) {
    return refuse(
        err, "already initialized: company \"platform\" exists in " + env->config.get_string("db"));
  }
  auto c = env->db->create_company(platform, "Platform");
  if (!c.ok()) return refuse(err, c.error().to_string());
  std::string password = common::crypto::generate_password(k_generated_password_length);
  auto a = env->db->create_account(
      {platform, login, optional_option(inv, "email"), std::string(k_role_administrator),
       security::make_password_hash(password, password_iterations(env->config)),
       security::change_required_after_set(false)});
  if (!a.ok()) return refuse(err, a.error().to_string());
  audit(*env->db, platform, "admin.init", login);
  print_object(out, {{"company_id", platform},
                     {"login_id", login},
                     {"role", std::string(k_role_administrator)},
                     {"password", password}});
  return k_exit_ok;
}

int admin_company_create(const invocation& inv, std::ostream& out, std::ostream& err) {
  const auto* id = option(inv, "id", err);
  const auto* name = option(inv, "name", err);
  if (!id || !name) return k_exit_usage;
  auto env = open_environment(inv, err);
  if (!env) return k_exit_failed;
  auto c = env->db->create_company(*id, *name);
  if (!c.ok()) return refuse(err, "company " + *id + ": " + c.error().to_string());
  audit(*env->db, *id, "company.create", *id);
  print_object(out, {{"company_id", c->id}, {"name", c->name}});
  return k_exit_ok;
}

int admin_account_create(const invocation& inv, std::ostream& out, std::ostream& err) {
  const auto* company = option(inv, "company", err);
  const auto* login = option(inv, "login", err);
  const auto* role_name = option(inv, "role", err);
  const auto* email = option(inv, "email", err);
  if (!company || !login || !role_name || !email) return k_exit_usage;
  // Every account has an address: the inactivity reminder has to reach it.
  if (!security::valid_email_address(*email)) {
    return refuse(err, "--email \"" + *email + "\" is not an address such as name@example.com",
                  k_exit_usage);
  }
  auto env = open_environment(inv, err);
  if (!env) return k_exit_failed;
  if (!env->db->get_company(*company).ok()) return refuse(err, "no company " + *company);
  if (!env->db->find_role(*company, *role_name).ok()) return refuse(err, "no role " + *role_name);
  std::string password = common::crypto::generate_password(k_generated_password_length);
  auto a = env->db->create_account(
      {*company, security::trim_login_id(*login), *email, *role_name,
       security::make_password_hash(password, password_iterations(env->config)),
       security::change_required_after_set(false)});
  if (!a.ok()) return refuse(err, "account " + *login + ": " + a.error().to_string());
  audit(*env->db, *company, "account.create", *login);
  print_object(out, {{"company_id", *company},
                     {"login_id", a->login_id},
                     {"role", a->role_name},
                     {"email", a->email},
                     {"password", password}});
  return k_exit_ok;
}

int admin_device_register(const invocation& inv, std::ostream& out, std::ostream& err) {
  const auto* company = option(inv, "company", err);
  const auto* device_id = option(inv, "device", err);
  if (!company || !device_id) return k_exit_usage;
  std::string dest_name = optional_option(inv, "destination", std::string(k_default_destination));
  auto env = open_environment(inv, err);
  if (!env) return k_exit_failed;
  if (!env->db->get_company(*company).ok()) return refuse(err, "no company " + *company);
  if (!common::protocol::valid_device_id(*device_id)) {
    return refuse(err, "device id \"" + *device_id + "\" breaks ^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$");
  }
  bool created = false;
  std::optional<destination> dest;
  if (auto all = env->db->list_destinations(*company); all.ok()) {
    for (const auto& t : *all) {
      if (t.name == dest_name) dest = t;
    }
  }
  if (!dest) {
    auto made = env->db->create_destination(*company, dest_name, "{}");
    if (!made.ok()) {
      return refuse(err, "destination " + dest_name + ": " + made.error().to_string());
    }
    dest = *made;
    created = true;
  }
  auto d = env->db->register_device(*company, *device_id, dest->id);
  if (!d.ok()) {
    // Nothing changed: the destination made for this registration goes again.
    if (created) (void)env->db->delete_destination(*company, dest->id);
    return refuse(err, "device " + *device_id + ": " + d.error().to_string());
  }
  audit(*env->db, *company, "device.register", *device_id);
  print_object(
      out, {{"company_id", *company}, {"device_id", d->id}, {"destination", d->destination_name}});
  return k_exit_ok;
}

// The device leaves its company without that tenancy's data (store::unassign_device).
int admin_device_unassign(const invocation& inv, std::ostream& out, std::ostream& err) {
  const auto* device_id = option(inv, "device", err);
  if (!device_id) return k_exit_usage;
  auto env = open_environment(inv, err);
  if (!env) return k_exit_failed;
  auto left = env->db->unassign_device(*device_id);
  if (!left.ok()) return refuse(err, "device " + *device_id + ": " + left.error().to_string());
  audit(*env->db, *left, "device.unassign", *device_id);
  print_object(out, {{"company_id", *left}, {"device_id", *device_id}});
  return k_exit_ok;
}

// The factory's record of a device's claim code (docs/device-claim.md), from
// device.claim_key_file: what the label of a device made with this key shows.
int admin_device_claim_code(const invocation& inv, std::ostream& out, std::ostream& err) {
  const auto* device_id = option(inv, "device", err);
  const auto* path = option(inv, "config", err);
  if (!device_id || !path) return k_exit_usage;
  if (!common::protocol::valid_device_id(*device_id)) {
    return refuse(err, "device id \"" + *device_id + "\" breaks ^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$");
  }
  auto config = load_cloud_config(*path);
  if (!config.ok()) return refuse(err, config.error().to_string());
  auto claim = security::device_claim_settings_from(*config);
  if (!claim.ok()) return refuse(err, claim.error().to_string());
  if (claim->key.empty()) return refuse(err, *path + ": device.claim_key_file is not set");
  print_object(
      out, {{"device_id", *device_id},
            {"claim_code", common::claim::format(common::claim::derive(claim->key, *device_id))}});
  return k_exit_ok;
}

int audit_verify(const invocation& inv, std::ostream& out, std::ostream& err) {
  auto env = open_environment(inv, err, false);
  if (!env) return k_exit_failed;
  auto files = security::secret_files_from(env->config);
  auto ring = security::load_keyring(files.audit_key);
  if (!ring.ok()) return refuse(err, "no audit key to verify with: " + ring.error().message());
  auto anchors = security::load_audit_anchors(files.audit_anchors);
  if (!anchors.ok()) return refuse(err, anchors.error().message());
  const std::size_t anchor_count = anchors->size();
  security::chain_verifier verifier(std::move(ring).value(), std::move(anchors).value());
  std::int64_t after = 0;
  for (;;) {
    auto page = env->db->read_audit_chain(after, k_audit_page);
    if (!page.ok()) return refuse(err, page.error().to_string());
    bool going = true;
    for (const auto& r : *page) {
      if (!verifier.add(r)) {
        going = false;
        break;
      }
    }
    if (!going || page->size() < k_audit_page) break;
    after = page->back().seq;
  }
  auto head = env->db->get_audit_head();
  if (!head.ok()) return refuse(err, head.error().to_string());
  auto report = verifier.finish(*head);
  common::json_ptr obj(cJSON_CreateObject());
  cJSON_AddBoolToObject(obj.get(), "intact", report.intact());
  cJSON_AddStringToObject(obj.get(), "result", std::string(to_string(report.problem)).c_str());
  cJSON_AddNumberToObject(obj.get(), "records", static_cast<double>(report.records));
  cJSON_AddNumberToObject(obj.get(), "head_seq", static_cast<double>(head->seq));
  cJSON_AddStringToObject(obj.get(), "head_hash", head->hash.c_str());
  cJSON_AddNumberToObject(obj.get(), "anchors", static_cast<double>(anchor_count));
  if (!report.intact()) {
    cJSON_AddNumberToObject(obj.get(), "first_bad_seq", static_cast<double>(report.first_bad_seq));
    cJSON_AddStringToObject(obj.get(), "message", report.message.c_str());
    err << "aterm-cloud: access log broken: " << report.message << "\n";
  }
  out << common::print_json(obj.get()) << "\n";
  return report.intact() ? k_exit_ok : k_exit_failed;
}

int serve_verb(const invocation& inv, std::ostream&, std::ostream& err) {
  const auto* path = option(inv, "config", err);
  if (!path) return k_exit_usage;
  auto cfg = load_cloud_config(*path);
  if (!cfg.ok()) return refuse(err, cfg.error().message());
  return serve(*cfg);
}

struct verb {
  std::vector<std::string> words;
  verb_fn fn;
  const char* synopsis;
};

const std::vector<verb>& verbs() {
  static const std::vector<verb> table = {
      {{"admin", "init"}, admin_init, "admin init --config F [--login L] [--email E]"},
      {{"admin", "company", "create"},
       admin_company_create,
       "admin company create --config F --id ID --name NAME"},
      {{"admin", "account", "create"},
       admin_account_create,
       "admin account create --config F --company ID --login L --role R --email E"},
      {{"admin", "device", "register"},
       admin_device_register,
       "admin device register --config F --company ID --device D [--destination NAME]"},
      {{"admin", "device", "unassign"},
       admin_device_unassign,
       "admin device unassign --config F --device D"},
      {{"admin", "device", "claim-code"},
       admin_device_claim_code,
       "admin device claim-code --config F --device D"},
      {{"admin", "account", "unlock"},
       jobs::account_unlock_verb,
       "admin account unlock --config F --company ID --login L"},
      {{"audit", "verify"}, audit_verify, "audit verify --config F"},
      {{"audit", "anchor"}, jobs::audit_anchor_verb, "audit anchor --config F"},
      {{"audit", "rotate-key"}, jobs::audit_rotate_key_verb, "audit rotate-key --config F"},
      {{"jobs", "run"}, jobs::jobs_run_verb, "jobs run --config F --as-of TIME [--dry-run]"},
      {{"backup"}, jobs::backup_verb, "backup --config F [--as-of TIME]"},
      {{"restore"}, jobs::restore_verb, "restore --config F FILE"},
      {{"serve"}, serve_verb, "serve --config F"},
  };
  return table;
}

const verb* find_verb(const invocation& inv) {
  const verb* best = nullptr;
  for (const auto& v : verbs()) {
    if (v.words.size() > inv.words.size()) continue;
    if (!std::equal(v.words.begin(), v.words.end(), inv.words.begin())) continue;
    if (!best || v.words.size() > best->words.size()) best = &v;
  }
  return best;
}

}  // namespace

std::vector<std::string> positional(const invocation& inv, std::size_t verb_words) {
  if (inv.words.size() <= verb_words) return {};
  return {inv.words.begin() + static_cast<std::ptrdiff_t>(verb_words), inv.words.end()};
}

std::string usage() {
  std::string u = "usage: aterm-cloud VERB [options]\n";
  for (const auto& v : verbs()) u += std::string("  aterm-cloud ") + v.synopsis + "\n";
  return u;
}

int run(const invocation& inv, std::ostream& out, std::ostream& err) {
  const verb* v = find_verb(inv);
  if (!v || inv.flags.count("help")) {
    err << usage();
    return inv.flags.count("help") ? k_exit_ok : k_exit_usage;
  }
  return v->fn(inv, out, err);
}

}  // namespace aterm::cloud::cli
