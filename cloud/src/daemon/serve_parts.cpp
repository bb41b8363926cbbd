#include "serve_parts.h"

namespace aterm::cloud {

std::unique_ptr<api_handle> attach_api(http::router&, const common::config&, store&, common::clock&,
                                       http::metrics_registry&,
                                       std::function<void(const std::string&)>) {
  return std::make_unique<api_handle>();
}

std::vector<sweep> lifecycle_sweeps(const common::config&, store&, const common::clock&) {
  return {};
}

}  // namespace aterm::cloud
