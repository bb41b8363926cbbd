#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <optional>

#include "aterm/bridge/bridge.h"
#include "aterm/cloud/cloud_config.h"
#include "aterm/cloud/daemon.h"
#include "aterm/cloud/http/metrics.h"
#include "aterm/cloud/http/metrics_listener.h"
#include "aterm/cloud/http/router.h"
#include "aterm/cloud/http/server.h"
#include "aterm/cloud/http/static_files.h"
#include "aterm/cloud/security/key_file.h"
#include "aterm/cloud/security/settings.h"
#include "aterm/cloud/security/technician_delivery.h"
#include "aterm/cloud/security/technician_login_policy.h"
#include "aterm/cloud/store.h"
#include "aterm/common/crypto.h"
#include "aterm/common/log.h"
#include "scheduler.h"
#include "serve_parts.h"

namespace aterm::cloud {

namespace {

using common::log_level;

bridge::bridge_config bridge_config_from(const common::config& c) {
  bridge::bridge_config b;
  b.uri = c.get_string("mqtt.uri");
  b.ca = c.get_string("mqtt.ca");
  b.cert = c.get_string("mqtt.cert");
  b.key = c.get_string("mqtt.key");
  b.client_id = c.get_string("mqtt.client_id");
  b.shared_subscription = c.get_bool("mqtt.shared_subscription");
  b.batch_max = static_cast<std::size_t>(c.get_int("mqtt.batch_max"));
  b.batch_delay = std::chrono::milliseconds(c.get_int("mqtt.batch_delay_ms"));
  b.dispatch_poll = std::chrono::milliseconds(c.get_int("mqtt.dispatch_poll_ms"));
  b.result_timeout = std::chrono::seconds(c.get_int("mqtt.result_timeout_s"));
  return b;
}

// Copies the bridge's counters into the registry that /metrics renders.
void publish_bridge_metrics(const bridge::metrics_snapshot& s, http::metrics_registry& m) {
  static constexpr const char* k_kinds[] = {"presence", "state", "result", "event"};
  for (std::size_t i = 0; i < bridge::k_ingest_kinds; ++i) {
    m.get_gauge("aterm_bridge_ingested_total", "Device messages stored, by kind",
                {{"kind", k_kinds[i]}})
        .set(static_cast<double>(s.ingested[i]));
  }
  for (std::size_t i = 0; i < bridge::k_bad_reasons; ++i) {
    m.get_gauge("aterm_bridge_dropped_total", "Device messages dropped, by reason",
                {{"reason", std::string(bridge::to_string(static_cast<bridge::bad_reason>(i)))}})
        .set(static_cast<double>(s.bad[i]));
  }
  auto g = [&](const char* name, const char* help, std::uint64_t v) {
    m.get_gauge(name, help).set(static_cast<double>(v));
  };
  g("aterm_bridge_batches_total", "Batches committed", s.batches);
  g("aterm_bridge_batch_messages_total", "Messages in committed batches", s.batch_messages);
  g("aterm_bridge_batch_commit_us_total", "Time inside apply_batch, microseconds",
    s.batch_commit_us_sum);
  g("aterm_bridge_batch_commit_us_max", "Longest apply_batch, microseconds", s.batch_commit_us_max);
  g("aterm_bridge_batch_age_us_total", "Sum over batches of first receive to commit, microseconds",
    s.batch_age_us_sum);
  g("aterm_bridge_batch_age_us_max", "Longest receive-to-commit, microseconds", s.batch_age_us_max);
  g("aterm_bridge_commands_published_total", "Commands accepted by the broker",
    s.commands_published);
  g("aterm_bridge_commands_expired_total", "Commands moved to expired or timed_out",
    s.commands_expired);
  g("aterm_bridge_store_failures_total", "apply_batch failures", s.store_failures);
  g("aterm_bridge_queue_depth", "Messages waiting for ingest", s.queue_depth);
  g("aterm_bridge_received_total", "Messages the broker delivered to the bridge", s.received);
  g("aterm_bridge_queue_waits_total", "Times the MQTT thread waited for ingest queue room",
    s.queue_waits);
  g("aterm_bridge_states_coalesced_total",
    "State snapshots that replaced their device's queued one (ingest behind)", s.states_coalesced);
  g("aterm_bridge_states_shed_total", "State snapshots dropped because the ingest queue was full",
    s.states_shed);
  g("aterm_bridge_connected", "1 when connected and subscribed", s.connected ? 1 : 0);
}

}  // namespace

int serve(const common::config& config) {
  // Every thread started from here inherits the blocked set; only sigwait below takes them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto& clock = common::system_clock::instance();
  store_options so = store_options_from(config);
  so.technician_events =
      security::technician_event_rule_of(security::security_settings_from(config).device_events);
  auto ring = security::load_or_create_keyring(security::secret_files_from(config).audit_key);
  if (!ring.ok()) {
    common::log(log_level::error, "serve", "cannot load the audit key",
                {{"error", ring.error().to_string()}});
    return 1;
  }
  so.audit_key = ring->back();
  auto technician_key = security::technician_key_from(config);
  if (!technician_key.ok()) {
    common::log(log_level::error, "serve", "cannot read security.technician_key_file",
                {{"error", technician_key.error().to_string()}});
    return 1;
  }
  so.technician_secret = security::technician_secret_rule_of(
      *technician_key, config.get_int("security.technician_secret_delivery_s"));
  so.publish_args = security::technician_secret_at_publish(std::move(*technician_key));
  auto opened = open_store(so, clock);
  if (!opened.ok()) {
    common::log(log_level::error, "serve", "cannot open the store",
                {{"error", opened.error().to_string()}});
    return 1;
  }
  std::unique_ptr<store> db = std::move(opened).value();

  bridge::bridge mqtt(bridge_config_from(config), *db, clock);
  if (auto s = mqtt.start(); !s.ok()) {
    common::log(log_level::error, "serve", "cannot start the bridge", {{"error", s.to_string()}});
    return 1;
  }

  http::metrics_registry metrics;
  http::router routes(&metrics);
  http::register_health(routes);
  auto api = attach_api(routes, config, *db, clock, metrics,
                        [&mqtt](const std::string& device_id) { mqtt.notify_command(device_id); });
  if (!api) return 1;
  http::static_files files(http::static_dir_from(config));
  http::register_static_files(routes, files);
  // The public status page (docs/http-api.md): a page of the dashboard's folder at a fixed path.
  routes.add("GET", "/status", [&files](http::request& req) {
    http::request page = req;
    page.path = "/status.html";
    return files.serve(page);
  });
  auto settings = http::server_settings_from(config);
  if (!settings.ok()) {
    common::log(log_level::error, "serve", "bad http settings",
                {{"error", settings.error().to_string()}});
    return 1;
  }
  auto metrics_settings = http::metrics_listener_settings_from(config);
  if (!metrics_settings.ok()) {
    common::log(log_level::error, "serve", "bad http settings",
                {{"error", metrics_settings.error().to_string()}});
    return 1;
  }
  // /metrics counts logins by outcome: it is served only on its own listener.
  http::router metrics_routes;
  http::register_health_and_metrics(metrics_routes, metrics);
  http::metrics_listener metrics_http(*metrics_settings, metrics_routes);
  if (auto s = metrics_http.start(); !s.ok()) {
    common::log(log_level::error, "serve", "cannot start the metrics listener",
                {{"error", s.to_string()}});
    return 1;
  }
  http::server https(*settings, routes, metrics);
  if (auto s = https.start(); !s.ok()) {
    common::log(log_level::error, "serve", "cannot start the HTTPS server",
                {{"error", s.to_string()}});
    return 1;
  }

  auto sec = security::security_settings_from(config);
  auto timing = scheduler_settings_from(config);
  // This process among the instances on the database: the holder of the job leases it takes.
  const std::string instance_id =
      std::to_string(getpid()) + "-" + common::crypto::to_hex(common::crypto::random_bytes(8));
  scheduler jobs(clock, [&](const std::string& name, std::chrono::milliseconds duration) {
    const std::int64_t now = clock.now_ms();
    auto taken = db->take_lease(name, instance_id, now, now + duration.count());
    if (!taken.ok()) {
      common::log(log_level::error, "serve", "job lease not taken",
                  {{"job", name}, {"error", taken.error().to_string()}});
    }
    return taken.ok() && *taken;
  });
  jobs.every("sessions", timing.tick, [&] {
    auto now = clock.now_s();
    (void)db->purge_sessions(now - sec.session.idle.count(), now - sec.session.lifetime.count());
  });
  jobs.every(
      "metrics", timing.tick, [&] { publish_bridge_metrics(mqtt.metrics(), metrics); },
      scheduler::run_scope::each_instance);
  // Fleet jobs release their routers' commands into the outbox; the store's transaction keeps
  // two instances from releasing one router twice, and the bridge publishes what was released.
  jobs.every("fleet_jobs", timing.fleet_tick, [&] {
    const auto minute_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(timing.fleet_minute).count();
    auto tick = db->release_jobs(clock.now_ms(), minute_ms);
    if (!tick.ok()) {
      common::log(log_level::error, "serve", "fleet jobs not released",
                  {{"error", tick.error().to_string()}});
      return;
    }
    if (tick->released > 0) mqtt.notify_command("");
    for (auto id : tick->finished) {
      common::log(log_level::info, "serve", "fleet job ended", {{"job", id}});
    }
  });
  for (auto& sweep : lifecycle_sweeps(config, *db, clock)) {
    auto period =
        sweep.period.count() > 0
            ? sweep.period
            : std::chrono::duration_cast<std::chrono::milliseconds>(timing.sweep_interval);
    // Runs per task, so an operator (and the two-instance test) sees which instance sweeps.
    auto& runs = metrics.get_counter("aterm_jobs_runs_total",
                                     "Lifecycle task runs of this instance, by task",
                                     {{"task", sweep.name}});
    jobs.every(sweep.name, period, [&runs, fn = std::move(sweep.fn)] {
      fn();
      runs.inc();
    });
  }
  jobs.start();

  common::log(log_level::info, "serve", "started",
              {{"https_port", static_cast<std::int64_t>(https.port())},
               {"metrics_port", static_cast<std::int64_t>(metrics_http.port())},
               {"mqtt", config.get_string("mqtt.uri")},
               {"db", printable_db(so.db)}});

  int sig = 0;
  sigwait(&signals, &sig);
  common::log(log_level::info, "serve", "stopping", {{"signal", sig}});
  https.stop();
  metrics_http.stop();
  jobs.stop();
  mqtt.stop();
  api.reset();
  db.reset();
  common::log(log_level::info, "serve", "stopped");
  return 0;
}

}  // namespace aterm::cloud
