#include "aterm/cloud/jobs/lifecycle.h"

#include <map>
#include <set>

#include "aterm/cloud/jobs/backup.h"
#include "aterm/cloud/security/delegation_policy.h"
#include "aterm/cloud/security/technician_login_policy.h"
#include "aterm/common/log.h"

namespace aterm::cloud::jobs {

namespace {

std::string kv(std::string_view key, std::string_view value) {
  // Names come from operators and devices: escaped so none can forge another line.
  return std::string(key) + "=" + common::escape_log_value(value);
}

class reporter {
 public:
  reporter(const sweep_options& o, const action_sink& sink) : options_(o), sink_(sink) {}

  void action(const std::string& line) {
    ++report_.actions;
    if (sink_) sink_(options_.dry_run ? "dry-run " + line : line);
  }
  void failure(std::string_view step, const std::string& subject, const common::status& s) {
    ++report_.failures;
    if (sink_)
      sink_("error " + std::string(step) + " " + subject + " " + kv("reason", s.to_string()));
  }
  bool dry() const { return options_.dry_run; }
  const sweep_report& report() const { return report_; }

 private:
  // Held by value: a reporter made from a temporary sweep_options once read it after its end
  // (as dry_run, under -O2).
  const sweep_options options_;
  const action_sink& sink_;
  sweep_report report_;
};

std::string account_subject(const account& a) {
  return kv("company", a.company_id) + " " + kv("login", a.login_id);
}

std::string jst_date(std::int64_t s) {
  return common::format_jst(common::from_unix_s(s));
}

void contract_end_step(lifecycle_port& port, const lifecycle_settings& s, std::int64_t now_s,
                       reporter& out, std::set<std::string>& ended) {
  auto companies = port.ended_companies(now_s);
  if (!companies.ok()) return out.failure("company.contract_end", "", companies.error());
  std::int64_t cutoff_ms = (now_s - s.device_data_days * k_day_s) * 1000;
  for (const auto& c : *companies) {
    ended.insert(c.id);
    std::string subject = kv("company", c.id);
    if (out.dry()) {
      out.action("company.contract_end " + subject);
      if (auto accounts = port.all_accounts(); accounts.ok()) {
        for (const auto& a : *accounts) {
          if (a.company_id == c.id) out.action("account.delete " + account_subject(a));
        }
      }
      if (auto devices = port.company_devices(c.id); devices.ok()) {
        for (const auto& d : *devices) {
          bool gone =
              d.presence != presence_state::online && d.last_seen_ms.value_or(0) < cutoff_ms;
          out.action(std::string(gone ? "device.data_delete " : "device.unassign ") +
                     kv("device", d.id) + " " + subject);
        }
      }
      continue;
    }
    auto r = port.end_contract(c.id, cutoff_ms, now_s);
    if (!r.ok()) {
      out.failure("company.contract_end", subject, r.error());
      continue;
    }
    out.action("company.contract_end " + subject);
    for (const auto& login : r->accounts) {
      out.action("account.delete " + subject + " " + kv("login", login));
    }
    for (const auto& d : r->devices_deleted) {
      out.action("device.data_delete " + kv("device", d) + " " + subject);
    }
    for (const auto& d : r->devices_unassigned) {
      out.action("device.unassign " + kv("device", d) + " " + subject);
    }
  }
}

void account_step_all(lifecycle_port& port, const lifecycle_settings& s, std::int64_t now_s,
                      reporter& out, const std::set<std::string>& ended) {
  auto accounts = port.all_accounts();
  if (!accounts.ok()) return out.failure("account", "", accounts.error());
  for (const auto& a : *accounts) {
    if (ended.count(a.company_id) != 0) continue;
    std::string subject = account_subject(a);
    switch (next_account_step(a, now_s, s)) {
      case account_step::none:
        break;
      case account_step::remind: {
        if (!out.dry()) {
          std::int64_t lock_at = now_s + s.inactive_lock_days * k_day_s;
          if (auto st = port.record_reminder(a, reminder_mail(a, lock_at), now_s); !st.ok()) {
            out.failure("account.inactivity_reminder", subject, st);
            break;
          }
        }
        out.action("account.inactivity_reminder " + subject);
        break;
      }
      case account_step::lock:
        if (!out.dry()) {
          if (auto st = port.lock_inactive(a, lock_notice_mail(a), now_s); !st.ok()) {
            out.failure("account.inactivity_lock", subject, st);
            break;
          }
        }
        out.action("account.inactivity_lock " + subject);
        break;
      case account_step::remove:
        if (!out.dry()) {
          if (auto st = port.delete_inactive(a, now_s); !st.ok()) {
            out.failure("account.inactivity_delete", subject, st);
            break;
          }
        }
        out.action("account.inactivity_delete " + subject);
        break;
    }
  }
}

// Every account has an e-mail address for the inactivity reminder; accounts made before that
// was required may lack one. Their company's active administrators are told which, once per
// missing_email_notice_days.
void missing_email_step(lifecycle_port& port, const lifecycle_settings& s, std::int64_t now_s,
                        reporter& out, const std::set<std::string>& ended) {
  auto accounts = port.all_accounts();
  if (!accounts.ok()) return out.failure("account.missing_email_notice", "", accounts.error());
  struct company_accounts {
    std::vector<std::string> without_email;
    std::vector<const account*> administrators;
  };
  std::map<std::string, company_accounts> companies;
  for (const auto& a : *accounts) {
    if (ended.count(a.company_id) != 0) continue;
    auto& c = companies[a.company_id];
    if (a.email.empty()) c.without_email.push_back(a.login_id);
    if (security::is_active_administrator(a) && !a.email.empty()) c.administrators.push_back(&a);
  }
  for (const auto& [company_id, c] : companies) {
    if (c.without_email.empty()) continue;
    std::string subject = kv("company", company_id);
    auto last = port.last_missing_email_notice(company_id);
    if (!last.ok()) {
      out.failure("account.missing_email_notice", subject, last.error());
      continue;
    }
    if (*last && now_s < **last + s.missing_email_notice_days * k_day_s) continue;
    std::vector<mail_message> mails;
    std::string to;
    for (const auto* admin : c.administrators) {
      if (auto m = missing_email_mail(*admin, c.without_email)) mails.push_back(std::move(*m));
      to += (to.empty() ? "" : ",") + admin->email;
    }
    std::string logins;
    for (const auto& l : c.without_email) logins += (logins.empty() ? "" : ",") + l;
    std::string line = "account.missing_email_notice " + subject + " " + kv("accounts", logins) +
                       " " + kv("to", to.empty() ? "-" : to);
    if (!out.dry()) {
      std::string detail = std::to_string(c.without_email.size()) + " accounts without e-mail; " +
                           (mails.empty() ? "no administrator address" : "mail queued");
      if (auto st = port.record_missing_email_notice(company_id, mails, detail, now_s); !st.ok()) {
        out.failure("account.missing_email_notice", subject, st);
        continue;
      }
    }
    out.action(line);
  }
}

void device_step(lifecycle_port& port, const lifecycle_settings& s, std::int64_t now_s,
                 reporter& out, const std::set<std::string>& ended) {
  std::int64_t cutoff_ms = (now_s - s.device_data_days * k_day_s) * 1000;
  auto devices = port.stale_devices(cutoff_ms);
  if (!devices.ok()) return out.failure("device.data_delete", "", devices.error());
  for (const auto& d : *devices) {
    if (ended.count(d.company_id) != 0) continue;
    std::string subject =
        kv("device", d.id) + " " + kv("company", d.company_id.empty() ? "-" : d.company_id);
    if (!out.dry()) {
      if (auto st = port.delete_device_data(d.id, cutoff_ms, now_s); !st.ok()) {
        out.failure("device.data_delete", subject, st);
        continue;
      }
    }
    out.action("device.data_delete " + subject);
  }
}

void technician_login_step(lifecycle_port& port, const lifecycle_settings& s, std::int64_t now_s,
                           reporter& out) {
  auto logins = port.expired_technician_logins(
      security::technician_login_purge_before_s(now_s, s.technician_login_retention_s), now_s);
  if (!logins.ok()) return out.failure("technician_login.delete", "", logins.error());
  for (const auto& t : *logins) {
    std::string subject = kv("login", t.login_id) + " " + kv("device", t.device_id) + " " +
                          kv("company", t.company_id);
    if (!out.dry()) {
      if (auto st = port.delete_technician_login(t, now_s); !st.ok()) {
        out.failure("technician_login.delete", subject, st);
        continue;
      }
    }
    out.action("technician_login.delete " + subject);
  }
}

void audit_step(lifecycle_port& port, const lifecycle_settings& s, std::int64_t now_ms,
                reporter& out) {
  std::int64_t before_ms = now_ms - s.audit_days * k_day_s * 1000;
  if (out.dry()) {
    auto n = port.audit_purge_candidates(before_ms);
    if (!n.ok()) return out.failure("audit.purge", "", n.error());
    if (*n > 0) out.action("audit.purge " + kv("records", std::to_string(*n)));
    return;
  }
  auto r = port.purge_audit(before_ms, now_ms);
  if (!r.ok()) return out.failure("audit.purge", "", r.error());
  if (r->deleted == 0) return;
  out.action("audit.purge " + kv("records", std::to_string(r->deleted)) + " " +
             kv("start_seq", std::to_string(r->start_seq)) + " " +
             kv("checkpoint_seq", std::to_string(r->checkpoint_seq)));
}

void mail_step(lifecycle_port& port, const lifecycle_settings& s, std::int64_t now_s,
               reporter& out) {
  std::int64_t until_s = now_s - s.mail_sent_days * k_day_s;
  if (out.dry()) {
    auto n = port.sent_mail_purge_candidates(until_s);
    if (!n.ok()) return out.failure("mail.purge", "", n.error());
    if (*n > 0) out.action("mail.purge " + kv("records", std::to_string(*n)));
    return;
  }
  auto n = port.purge_sent_mail(until_s, now_s);
  if (!n.ok()) return out.failure("mail.purge", "", n.error());
  if (*n > 0) out.action("mail.purge " + kv("records", std::to_string(*n)));
}

void backup_step(lifecycle_port& port, const lifecycle_settings& s, common::wall_time as_of,
                 reporter& out) {
  if (s.backup_dir.empty()) return;
  std::int64_t now_s = common::to_unix_s(as_of);
  std::int64_t minute = (now_s % k_day_s) / 60;
  auto engine = open_backup_engine(backup_options_of(s));
  if (!engine.ok()) return out.failure("backup.create", "", engine.error());
  if (minute >= s.backup_minute_of_day && !has_backup_for(**engine, s.backup_dir, as_of)) {
    std::string name = backup_file_name(**engine, as_of);
    if (out.dry()) {
      out.action("backup.create " + kv("file", name));
    } else {
      auto b = make_backup(**engine, s.backup_dir, as_of, s.keys);
      if (!b.ok()) {
        out.failure("backup.create", kv("file", name), b.error());
      } else {
        (void)port.append_audit(
            {std::string(k_platform_company), "system", "backup.create", name, "success",
             "head_seq=" + std::to_string(b->head.seq) + " sha256=" + b->sha256, ""},
            now_s * 1000);
        out.action("backup.create " + kv("file", name) + " " +
                   kv("head_seq", std::to_string(b->head.seq)));
      }
    }
  }
  if (out.dry()) return;
  auto pruned = prune_backups(s.backup_dir, as_of, s.backup_keep_days);
  if (!pruned.ok()) return out.failure("backup.delete", "", pruned.error());
  for (const auto& f : *pruned) {
    std::string name = f.filename().string();
    (void)port.append_audit(
        {std::string(k_platform_company), "system", "backup.delete", name, "success", "", ""},
        now_s * 1000);
    out.action("backup.delete " + kv("file", name));
  }
}

}  // namespace

common::result<lifecycle_settings> parse_lifecycle_settings(const common::config& c) {
  lifecycle_settings s;
  s.audit_days = c.get_int("retention.audit_days");
  s.inactive_reminder_days = c.get_int("retention.inactive_reminder_days");
  s.inactive_lock_days = c.get_int("retention.inactive_lock_days");
  s.inactive_delete_days = c.get_int("retention.inactive_delete_days");
  s.device_data_days = c.get_int("retention.device_data_days");
  s.technician_login_retention_s = c.get_int("retention.technician_login_retention_s");
  s.mail_sent_days = c.get_int("retention.mail_sent_days");
  s.missing_email_notice_days = c.get_int("retention.missing_email_notice_days");
  s.db_path = c.get_string("db");
  s.backup_pg_bin_dir = c.get_string("backup.pg_bin_dir");
  s.backup_dir = c.get_string("backup.dir");
  s.backup_keep_days = c.get_int("backup.keep_days");
  const std::string& t = c.get_string("backup.time");
  auto digit = [&](std::size_t i) { return t[i] >= '0' && t[i] <= '9'; };
  if (t.size() != 5 || t[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4)) {
    return common::status::error("bad_config", "backup.time must be \"HH:MM\" (UTC)");
  }
  int h = (t[0] - '0') * 10 + (t[1] - '0');
  int m = (t[3] - '0') * 10 + (t[4] - '0');
  if (h > 23 || m > 59) return common::status::error("bad_config", "backup.time out of range");
  s.backup_minute_of_day = h * 60 + m;
  return s;
}

common::result<lifecycle_settings> lifecycle_settings_from(const common::config& c) {
  auto s = parse_lifecycle_settings(c);
  if (!s.ok()) return s;
  auto keys = load_backup_keys(c);
  if (!keys.ok()) return keys.error();
  s->keys = std::move(keys).value();
  return s;
}

backup_engine_options backup_options_of(const lifecycle_settings& s) {
  backup_engine_options o;
  o.db = s.db_path;
  o.pg_bin_dir = s.backup_pg_bin_dir;
  return o;
}

account_step next_account_step(const account& a, std::int64_t now_s, const lifecycle_settings& s) {
  switch (a.locked) {
    case lock_reason::administrator:
      return account_step::none;
    case lock_reason::inactivity:
      // An administrator account waits for its company's contract end.
      if (a.is_administrator() || !a.locked_at_s) return account_step::none;
      return now_s >= *a.locked_at_s + s.inactive_delete_days * k_day_s ? account_step::remove
                                                                        : account_step::none;
    case lock_reason::none:
    case lock_reason::failed_logins:
      break;
  }
  if (a.reminder_sent_at_s) {
    return now_s >= *a.reminder_sent_at_s + s.inactive_lock_days * k_day_s ? account_step::lock
                                                                           : account_step::none;
  }
  std::int64_t base = a.last_login_at_s.value_or(a.created_at_s);
  return now_s >= base + s.inactive_reminder_days * k_day_s ? account_step::remind
                                                            : account_step::none;
}

std::optional<mail_message> reminder_mail(const account& a, std::int64_t lock_at_s) {
  if (a.email.empty()) return std::nullopt;
  mail_message m;
  m.to = a.email;
  m.subject = "【Aterm Cloud】ログインのお願い / Please sign in to keep your account";
  m.body = a.login_id + " 様\n\n" + "Aterm Cloud のアカウント「" + a.login_id +
           "」（会社ID: " + a.company_id + "）は長期間ログインされていません。\n" +
           jst_date(lock_at_s) + " までにログインがない場合、このアカウントはロックされます。\n\n" +
           "Dear " + a.login_id + ",\n\n" + "your Aterm Cloud account \"" + a.login_id +
           "\" (company ID " + a.company_id + ") has not signed in for a long time.\n" +
           "If it does not sign in by " + jst_date(lock_at_s) + ", it will be locked.\n";
  return m;
}

std::optional<mail_message> lock_notice_mail(const account& a) {
  if (a.email.empty()) return std::nullopt;
  mail_message m;
  m.to = a.email;
  m.subject = "【Aterm Cloud】アカウントをロックしました / Your account has been locked";
  m.body = a.login_id + " 様\n\n" + "Aterm Cloud のアカウント「" + a.login_id +
           "」（会社ID: " + a.company_id +
           "）は長期間ログインがなかったため、ロックされました。\n" +
           "ロックの解除はサイト管理者にご依頼ください。\n\n" + "Dear " + a.login_id + ",\n\n" +
           "your Aterm Cloud account \"" + a.login_id + "\" (company ID " + a.company_id +
           ") was locked because it was not used for a long time.\n" +
           "Only a site administrator can unlock it.\n";
  return m;
}

std::optional<mail_message> missing_email_mail(const account& administrator,
                                               const std::vector<std::string>& logins) {
  if (administrator.email.empty()) return std::nullopt;
  std::string list;
  for (const auto& l : logins) list += "  - " + l + "\n";
  mail_message m;
  m.to = administrator.email;
  m.subject =
      "【Aterm Cloud】メールアドレス未登録のアカウント / Accounts without an e-mail address";
  m.body = administrator.login_id + " 様\n\n" + "会社ID " + administrator.company_id +
           " の次のアカウントにはメールアドレスが登録されていません。\n" +
           "長期間ログインがない場合のお知らせが届かないまま、アカウントがロックされます。\n" +
           "メールアドレスを登録してください。\n\n" + list + "\n" + "Dear " +
           administrator.login_id + ",\n\n" + "these accounts of company ID " +
           administrator.company_id + " have no e-mail address:\n\n" + list + "\n" +
           "The reminder before an inactive account is locked cannot reach them. "
           "Please give each an address.\n";
  return m;
}

sweep_report run_sweep(lifecycle_port& port, const lifecycle_settings& s, common::wall_time as_of,
                       const sweep_options& options, const action_sink& sink) {
  reporter out(options, sink);
  std::int64_t now_s = common::to_unix_s(as_of);
  std::set<std::string> ended;
  contract_end_step(port, s, now_s, out, ended);
  account_step_all(port, s, now_s, out, ended);
  missing_email_step(port, s, now_s, out, ended);
  device_step(port, s, now_s, out, ended);
  technician_login_step(port, s, now_s, out);
  audit_step(port, s, common::to_unix_ms(as_of), out);
  mail_step(port, s, now_s, out);
  if (options.backups) backup_step(port, s, as_of, out);
  return out.report();
}

sweep_report run_technician_login_sweep(lifecycle_port& port, const lifecycle_settings& s,
                                        common::wall_time as_of, const action_sink& sink) {
  reporter out(sweep_options{}, sink);
  technician_login_step(port, s, common::to_unix_s(as_of), out);
  return out.report();
}

}  // namespace aterm::cloud::jobs
