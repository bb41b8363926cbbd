#include "aterm/cloud/security/login_id.h"

namespace aterm::cloud::security {

std::string trim_login_id(std::string_view typed) {
  constexpr std::string_view k_space = " \t\r\n";
  auto first = typed.find_first_not_of(k_space);
  if (first == std::string_view::npos) return {};
  auto last = typed.find_last_not_of(k_space);
  return std::string(typed.substr(first, last - first + 1));
}

}  // namespace aterm::cloud::security
