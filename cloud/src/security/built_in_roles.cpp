#include "aterm/cloud/security/built_in_roles.h"

#include "aterm/cloud/model.h"

namespace aterm::cloud::security {

std::vector<std::string> built_in_permissions(std::string_view role_name) {
  if (role_name == k_role_administrator) {
    return {k_permissions.begin(), k_permissions.end()};
  }
  if (role_name == k_role_operator) {
    return {"device.read", "device.command", "device.technician_login", "account.read",
            "job.manage"};
  }
  if (role_name == k_role_viewer) return {"device.read"};
  return {};
}

}  // namespace aterm::cloud::security
