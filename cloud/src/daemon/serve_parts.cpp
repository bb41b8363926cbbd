#include "serve_parts.h"

#include "aterm/cloud/api/api.h"

namespace aterm::cloud {

namespace {

struct api_holder final : api_handle {
  std::unique_ptr<api::api_service> service;
};

}  // namespace

std::unique_ptr<api_handle> attach_api(http::router& r, const common::config& config, store& db,
                                       common::clock& clock, http::metrics_registry& metrics,
                                       std::function<void(const std::string&)> notify_command) {
  auto holder = std::make_unique<api_holder>();
  holder->service = api::register_api_routes(
      r, api::api_context{db, clock, metrics, api::api_settings_from(config),
                          std::move(notify_command)});
  return holder;
}

std::vector<sweep> lifecycle_sweeps(const common::config&, store&, const common::clock&) {
  return {};
}

}  // namespace aterm::cloud
