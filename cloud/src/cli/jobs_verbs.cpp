#include "jobs_verbs.h"

#include <memory>

#include "aterm/cloud/cloud_config.h"
#include "aterm/cloud/jobs/backup.h"
#include "aterm/cloud/jobs/lifecycle.h"
#include "aterm/cloud/security/anchor_file.h"
#include "aterm/cloud/security/audit_chain.h"
#include "aterm/cloud/security/key_file.h"
#include "aterm/cloud/security/login_id.h"
#include "aterm/cloud/store.h"
#include "aterm/common/json.h"

namespace aterm::cloud::jobs {

namespace {

// The store's options of the configuration, the access log sealed under `key`.
store_options sealed_under(const common::config& c, const secret_key& key) {
  store_options o = store_options_from(c);
  o.audit_key = key;
  return o;
}

int refuse(std::ostream& err, const std::string& message, int code = cli::k_exit_failed) {
  err << "aterm-cloud: " << message << "\n";
  return code;
}

const std::string* option(const cli::invocation& inv, const std::string& name) {
  auto it = inv.options.find(name);
  return it == inv.options.end() || it->second.empty() ? nullptr : &it->second;
}

// --as-of TIME, or now when absent and `required` is false.
std::optional<common::wall_time> as_of(const cli::invocation& inv, bool required,
                                       std::ostream& err) {
  const auto* t = option(inv, "as-of");
  if (t == nullptr) {
    if (!required) return common::system_clock::instance().now();
    err << "aterm-cloud: missing --as-of\n";
    return std::nullopt;
  }
  auto parsed = common::parse_iso8601(*t);
  if (!parsed.ok()) {
    err << "aterm-cloud: --as-of: " << parsed.error().message() << "\n";
    return std::nullopt;
  }
  return *parsed;
}

std::optional<common::config> config_of(const cli::invocation& inv, std::ostream& err) {
  const auto* path = option(inv, "config");
  if (path == nullptr) {
    err << "aterm-cloud: missing --config\n";
    return std::nullopt;
  }
  auto cfg = load_cloud_config(*path);
  if (!cfg.ok()) {
    err << "aterm-cloud: " << cfg.error().message() << "\n";
    return std::nullopt;
  }
  return std::move(cfg).value();
}

void print_backup(std::ostream& out, const backup_info& b, const char* verb) {
  common::json_ptr obj(cJSON_CreateObject());
  cJSON_AddStringToObject(obj.get(), verb, b.file.string().c_str());
  cJSON_AddNumberToObject(obj.get(), "head_seq", static_cast<double>(b.head.seq));
  cJSON_AddStringToObject(obj.get(), "head_hash", b.head.hash.c_str());
  cJSON_AddStringToObject(obj.get(), "sha256", b.sha256.c_str());
  cJSON_AddNumberToObject(obj.get(), "bytes", static_cast<double>(b.bytes));
  out << common::print_json(obj.get()) << "\n";
}

}  // namespace

int jobs_run_verb(const cli::invocation& inv, std::ostream& out, std::ostream& err) {
  auto t = as_of(inv, true, err);
  if (!t) return cli::k_exit_usage;
  auto cfg = config_of(inv, err);
  if (!cfg) return cli::k_exit_usage;
  auto settings = lifecycle_settings_from(*cfg);
  if (!settings.ok()) return refuse(err, settings.error().message());
  // The store migrates the file first (and is what the daemon uses); the port then works on it.
  common::manual_clock clock(*t);
  store_options so = store_options_from(*cfg);
  so.audit_key = settings->keys.audit_ring.back();
  auto db = open_store(so, clock);
  if (!db.ok()) return refuse(err, db.error().to_string());
  auto port = open_lifecycle_store(**db, settings->keys.audit_ring.back());
  if (!port.ok()) return refuse(err, port.error().to_string());
  sweep_options options;
  options.dry_run = inv.flags.count("dry-run") != 0;
  auto report = run_sweep(**port, *settings, *t, options,
                          [&out](const std::string& line) { out << line << "\n"; });
  out.flush();
  if (report.failures > 0) {
    return refuse(err, std::to_string(report.failures) + " step(s) failed; see the error lines");
  }
  return cli::k_exit_ok;
}

int backup_verb(const cli::invocation& inv, std::ostream& out, std::ostream& err) {
  auto t = as_of(inv, false, err);
  if (!t) return cli::k_exit_usage;
  auto cfg = config_of(inv, err);
  if (!cfg) return cli::k_exit_usage;
  auto settings = lifecycle_settings_from(*cfg);
  if (!settings.ok()) return refuse(err, settings.error().message());
  auto port = open_lifecycle_store(sealed_under(*cfg, settings->keys.audit_ring.back()));
  if (!port.ok()) return refuse(err, port.error().to_string());
  auto engine = open_backup_engine(backup_options_of(*settings));
  if (!engine.ok()) return refuse(err, engine.error().to_string());
  auto b = make_backup(**engine, settings->backup_dir, *t, settings->keys);
  if (!b.ok()) return refuse(err, b.error().to_string());
  auto now_ms = common::to_unix_ms(*t);
  (void)(*port)->append_audit(
      {std::string(k_platform_company), "cli", "backup.create", b->file.filename().string(),
       "success", "head_seq=" + std::to_string(b->head.seq) + " sha256=" + b->sha256, ""},
      now_ms);
  auto pruned = prune_backups(settings->backup_dir, *t, settings->backup_keep_days);
  if (!pruned.ok()) return refuse(err, pruned.error().to_string());
  for (const auto& f : *pruned) {
    (void)(*port)->append_audit({std::string(k_platform_company), "cli", "backup.delete",
                                 f.filename().string(), "success", "", ""},
                                now_ms);
  }
  print_backup(out, *b, "backup");
  return cli::k_exit_ok;
}

int restore_verb(const cli::invocation& inv, std::ostream& out, std::ostream& err) {
  // The words are "restore FILE".
  if (inv.words.size() != 2)
    return refuse(err, "usage: restore --config F FILE", cli::k_exit_usage);
  auto cfg = config_of(inv, err);
  if (!cfg) return cli::k_exit_usage;
  std::string db_path = cfg->get_string("db");
  auto keys = load_backup_keys(*cfg);
  if (!keys.ok()) return refuse(err, keys.error().message());
  backup_engine_options o;
  o.db = db_path;
  o.pg_bin_dir = cfg->get_string("backup.pg_bin_dir");
  auto engine = open_backup_engine(o);
  if (!engine.ok()) return refuse(err, engine.error().to_string());
  auto b = restore_backup(**engine, inv.words[1], *keys);
  if (!b.ok()) return refuse(err, "restore refused: " + b.error().message());
  auto port = open_lifecycle_store(sealed_under(*cfg, keys->audit_ring.back()));
  if (!port.ok()) return refuse(err, port.error().to_string());
  (void)(*port)->append_audit(
      {std::string(k_platform_company), "cli", "backup.restore", b->file.filename().string(),
       "success", "head_seq=" + std::to_string(b->head.seq), ""},
      common::system_clock::instance().now_ms());
  print_backup(out, *b, "restored");
  return cli::k_exit_ok;
}

int account_unlock_verb(const cli::invocation& inv, std::ostream& out, std::ostream& err) {
  const auto* company = option(inv, "company");
  const auto* login = option(inv, "login");
  if (company == nullptr || login == nullptr) {
    return refuse(err, "missing --company or --login", cli::k_exit_usage);
  }
  auto cfg = config_of(inv, err);
  if (!cfg) return cli::k_exit_usage;
  auto ring = security::load_or_create_keyring(security::secret_files_from(*cfg).audit_key);
  if (!ring.ok()) return refuse(err, ring.error().message());
  auto db = open_store(sealed_under(*cfg, ring->back()), common::system_clock::instance());
  if (!db.ok()) return refuse(err, db.error().to_string());
  auto a = (*db)->find_account(*company, security::trim_login_id(*login));
  if (!a.ok())
    return refuse(err, "account " + *company + "/" + *login + ": " + a.error().to_string());
  if (a->locked == lock_reason::none) return refuse(err, "account " + *login + " is not locked");
  std::string reason(to_string(a->locked));
  if (auto s = (*db)->unlock_account(*company, a->id); !s.ok()) return refuse(err, s.to_string());
  (void)(*db)->append_audit(
      {*company, "cli", "account.unlock", *login, "success", "lock_reason=" + reason, ""});
  common::json_ptr obj(cJSON_CreateObject());
  cJSON_AddStringToObject(obj.get(), "company_id", company->c_str());
  cJSON_AddStringToObject(obj.get(), "login_id", login->c_str());
  cJSON_AddStringToObject(obj.get(), "unlocked", reason.c_str());
  out << common::print_json(obj.get()) << "\n";
  return cli::k_exit_ok;
}

int audit_anchor_verb(const cli::invocation& inv, std::ostream& out, std::ostream& err) {
  auto cfg = config_of(inv, err);
  if (!cfg) return cli::k_exit_usage;
  auto keys = load_backup_keys(*cfg);
  if (!keys.ok()) return refuse(err, keys.error().message());
  // Opening the port first seals the chain under the key if it is not yet.
  auto port = open_lifecycle_store(sealed_under(*cfg, keys->audit_ring.back()));
  if (!port.ok()) return refuse(err, port.error().to_string());
  auto head = (*port)->audit_head_now();
  if (!head.ok()) return refuse(err, head.error().to_string());
  security::audit_anchor a;
  a.time = common::format_utc(common::system_clock::instance().now());
  a.seq = head->seq;
  a.mac = head->seq == 0 ? std::string(security::k_genesis_hash) : head->hash;
  a.key_id = keys->audit_ring.back().id;
  if (auto st = security::append_audit_anchor(keys->anchor_file, a); !st.ok()) {
    return refuse(err, st.message());
  }
  common::json_ptr obj(cJSON_CreateObject());
  cJSON_AddStringToObject(obj.get(), "anchor_file", keys->anchor_file.string().c_str());
  cJSON_AddNumberToObject(obj.get(), "head_seq", static_cast<double>(a.seq));
  cJSON_AddStringToObject(obj.get(), "head_hash", a.mac.c_str());
  cJSON_AddStringToObject(obj.get(), "key_id", a.key_id.c_str());
  out << common::print_json(obj.get()) << "\n";
  return cli::k_exit_ok;
}

int audit_rotate_key_verb(const cli::invocation& inv, std::ostream& out, std::ostream& err) {
  auto cfg = config_of(inv, err);
  if (!cfg) return cli::k_exit_usage;
  auto files = security::secret_files_from(*cfg);
  auto old_ring = security::load_keyring(files.audit_key);
  if (!old_ring.ok()) return refuse(err, old_ring.error().message());
  const secret_key old_key = old_ring->back();
  // Under the old key: seals the chain under it first if it is not yet.
  auto port = open_lifecycle_store(sealed_under(*cfg, old_key));
  if (!port.ok()) return refuse(err, port.error().to_string());
  // The new key is on disk before the chain names it: if the rotation record then fails, the
  // next opening of the store starts the chain under the new key instead (audit_rows.h).
  auto ring = security::add_key(files.audit_key);
  if (!ring.ok()) return refuse(err, ring.error().message());
  const std::string new_id = ring->back().id;
  auto now_ms = common::system_clock::instance().now_ms();
  if (auto st = (*port)->rotate_audit_key(new_id, now_ms); !st.ok()) {
    return refuse(err, st.to_string());
  }
  common::json_ptr obj(cJSON_CreateObject());
  cJSON_AddStringToObject(obj.get(), "old_key_id", old_key.id.c_str());
  cJSON_AddStringToObject(obj.get(), "key_id", new_id.c_str());
  cJSON_AddStringToObject(obj.get(), "key_file", files.audit_key.string().c_str());
  out << common::print_json(obj.get()) << "\n";
  return cli::k_exit_ok;
}

}  // namespace aterm::cloud::jobs
