// The built-in roles' permissions (DESIGN.md section 6): every company has the roles
// administrator, operator and viewer, read-only. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace aterm::cloud::security {

// administrator: every permission of k_permissions (model.h); operator: device.read,
// device.command, device.technician_login, account.read; viewer: device.read. Empty for a name
// that is no built-in role.
std::vector<std::string> built_in_permissions(std::string_view role_name);

}  // namespace aterm::cloud::security
