#include "daemon_tasks.h"

#include <memory>

#include "aterm/cloud/alerts/alert_evaluator.h"
#include "aterm/cloud/alerts/webhook.h"
#include "aterm/cloud/jobs/lifecycle.h"
#include "aterm/cloud/mail/mail.h"
#include "aterm/cloud/security/key_file.h"
#include "aterm/cloud/security/technician_delivery.h"
#include "aterm/common/log.h"

namespace aterm::cloud::jobs {

namespace {

// The state the tasks share for the daemon's lifetime (captured by the tasks' functions).
struct daemon_jobs {
  std::unique_ptr<lifecycle_port> port;
  lifecycle_settings settings;
  std::unique_ptr<mail::sender> smtp;
  std::unique_ptr<mail::outbox_worker> outbox;
  std::unique_ptr<alerts::alert_port> alert_port;
  std::unique_ptr<alerts::alert_evaluator> evaluator;
  std::unique_ptr<alerts::webhook_poster> poster;
  std::unique_ptr<alerts::webhook_worker> webhooks;
};

}  // namespace

common::result<std::vector<periodic_task>> daemon_tasks(const common::config& config, store& db,
                                                        const common::clock& clock) {
  auto settings = lifecycle_settings_from(config);
  if (!settings.ok()) return settings.error();
  auto port = open_lifecycle_store(db, settings->keys.audit_ring.back());
  if (!port.ok()) return port.error();
  auto jobs = std::make_shared<daemon_jobs>();
  jobs->port = std::move(port).value();
  jobs->settings = *settings;
  jobs->smtp = mail::make_smtp_sender(mail::smtp_settings_from(config));
  auto outbox = mail::outbox_settings_from(config);
  auto technician_key = security::technician_key_from(config);
  if (!technician_key.ok()) return technician_key.error();
  if (!technician_key->empty()) {
    outbox.sealed_body_key = security::technician_mail_key(*technician_key);
  }
  jobs->outbox =
      std::make_unique<mail::outbox_worker>(*jobs->port, *jobs->smtp, std::move(outbox), clock);
  bool mail_enabled = !config.get_string("mail.smtp_url").empty();
  auto alert_port = alerts::open_alert_store(db);
  if (!alert_port.ok()) return alert_port.error();
  jobs->alert_port = std::move(alert_port).value();
  jobs->evaluator = std::make_unique<alerts::alert_evaluator>(
      db, *jobs->alert_port, alerts::alert_settings_from(config), clock);
  auto webhook = alerts::webhook_settings_from(config);
  auto webhook_keys = security::load_or_create_keyring(webhook.key_file);
  if (!webhook_keys.ok()) return webhook_keys.error();
  jobs->poster = alerts::make_https_poster(webhook);
  jobs->webhooks = std::make_unique<alerts::webhook_worker>(*jobs->alert_port, *jobs->poster,
                                                            webhook_keys->back(), webhook, clock);

  std::vector<periodic_task> tasks;
  tasks.push_back(
      {"lifecycle", std::chrono::milliseconds(0), [jobs, &clock] {
         auto report =
             run_sweep(*jobs->port, jobs->settings, clock.now(), sweep_options{},
                       [](const std::string& line) {
                         common::log(common::log_level::info, "jobs", "action", {{"action", line}});
                       });
         if (report.failures > 0) {
           common::log(common::log_level::warn, "jobs", "sweep had failures",
                       {{"failures", report.failures}});
         }
       }});
  // The 60-minute deletion of technician-login records must not wait for the hourly sweep.
  tasks.push_back(
      {"technician_logins", std::chrono::milliseconds(config.get_int("jobs.tick_ms")),
       [jobs, &clock] {
         auto report = run_technician_login_sweep(
             *jobs->port, jobs->settings, clock.now(), [](const std::string& line) {
               common::log(common::log_level::info, "jobs", "action", {{"action", line}});
             });
         if (report.failures > 0) {
           common::log(common::log_level::warn, "jobs", "technician-login sweep had failures",
                       {{"failures", report.failures}});
         }
       }});
  if (mail_enabled) {
    tasks.push_back({"mail", std::chrono::milliseconds(config.get_int("jobs.tick_ms")),
                     [jobs] { (void)jobs->outbox->run_once(); }});
  }
  tasks.push_back(
      {"alerts", std::chrono::milliseconds(config.get_int("alerts.interval_ms")), [jobs] {
         auto e = jobs->evaluator->run_once();
         if (e.failures > 0) {
           common::log(common::log_level::warn, "alerts", "evaluation had failures",
                       {{"failures", e.failures}});
         }
       }});
  tasks.push_back({"webhooks", std::chrono::milliseconds(config.get_int("jobs.tick_ms")),
                   [jobs] { (void)jobs->webhooks->run_once(); }});
  return tasks;
}

}  // namespace aterm::cloud::jobs
