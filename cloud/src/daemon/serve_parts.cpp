#include "serve_parts.h"

#include "aterm/cloud/api/api.h"
#include "aterm/cloud/notices/notice_rules.h"
#include "aterm/cloud/security/password_hashing_pool.h"
#include "aterm/cloud/security/technician_delivery.h"
#include "aterm/common/log.h"
#include "daemon_tasks.h"

namespace aterm::cloud {

namespace {

struct api_holder final : api_handle {
  // The pool goes first: its dropped jobs release login tickets of the service's gate.
  ~api_holder() override {
    hashing.reset();
    service.reset();
  }
  std::unique_ptr<security::password_hashing_pool> hashing;
  std::unique_ptr<api::api_service> service;
};

}  // namespace

std::unique_ptr<api_handle> attach_api(http::router& r, const common::config& config, store& db,
                                       common::clock& clock, http::metrics_registry& metrics,
                                       std::function<void(const std::string&)> notify_command) {
  auto settings = api::api_settings_from(config);
  auto claim = security::device_claim_settings_from(config);
  if (!claim.ok()) {
    common::log(common::log_level::error, "serve", "cannot read device.claim_key_file",
                {{"error", claim.error().to_string()}});
    return nullptr;
  }
  settings.device_claim = std::move(*claim);
  if (settings.device_claim.key.empty()) {
    common::log(common::log_level::warn, "serve",
                "device.claim_key_file is not set: companies cannot register devices, only site "
                "administrators can assign them");
  }
  auto technician_key = security::technician_key_from(config);
  if (!technician_key.ok()) {
    common::log(common::log_level::error, "serve", "cannot read security.technician_key_file",
                {{"error", technician_key.error().to_string()}});
    return nullptr;
  }
  settings.technician_key = std::move(*technician_key);
  settings.technician_secret_delivery_s = config.get_int("security.technician_secret_delivery_s");
  auto holder = std::make_unique<api_holder>();
  holder->hashing = std::make_unique<security::password_hashing_pool>(
      security::hashing_pool_settings_from(config));
  settings.public_origin = config.get_string("http.public_origin");
  auto notice_rules = notices::notice_settings_from(config);
  if (!notice_rules.ok()) {
    common::log(common::log_level::error, "serve", "cannot read notices.holidays_file",
                {{"error", notice_rules.error().to_string()}});
    return nullptr;
  }
  settings.notices = std::move(*notice_rules);
  api::api_context ctx{db, clock, metrics, std::move(settings), std::move(notify_command)};
  ctx.password_hashing = holder->hashing.get();
  holder->service = api::register_api_routes(r, std::move(ctx));
  return holder;
}

std::vector<sweep> lifecycle_sweeps(const common::config& config, store& db,
                                    const common::clock& clock) {
  std::vector<sweep> out;
  auto tasks = jobs::daemon_tasks(config, db, clock);
  if (!tasks.ok()) {
    common::log(common::log_level::error, "serve", "lifecycle jobs not started",
                {{"error", tasks.error().to_string()}});
    return out;
  }
  for (auto& t : *tasks) out.push_back({std::move(t.name), std::move(t.fn), t.period});
  return out;
}

}  // namespace aterm::cloud
