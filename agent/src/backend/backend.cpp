#include "aterm/agent/backend.h"

#include <algorithm>

namespace aterm::agent {

bool valid_diag_host(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '-') return false;
  return std::all_of(host.begin(), host.end(), [](char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == ':' || ch == '-';
  });
}

}  // namespace aterm::agent
