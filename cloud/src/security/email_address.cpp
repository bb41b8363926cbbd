#include "aterm/cloud/security/email_address.h"

#include "aterm/cloud/limits.h"

namespace aterm::cloud::security {

bool valid_email_address(std::string_view s) {
  if (s.size() < 3 || s.size() > limits::k_max_name) return false;
  for (char ch : s) {
    if (ch <= ' ' || ch >= 0x7f) return false;
  }
  auto at = s.find('@');
  if (at == std::string_view::npos || at == 0 || s.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  auto domain = s.substr(at + 1);
  auto dot = domain.find('.');
  return dot != std::string_view::npos && dot != 0 && domain.back() != '.';
}

}  // namespace aterm::cloud::security
