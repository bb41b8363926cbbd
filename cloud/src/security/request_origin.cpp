#include "aterm/cloud/security/request_origin.h"

#include <cctype>

namespace aterm::cloud::security {

namespace {

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// An origin's default port is not written ("https://h:443" and "https://h" are one origin).
std::string normalise(std::string_view origin) {
  auto o = lowercase(trim(origin));
  while (!o.empty() && o.back() == '/') o.pop_back();
  if (o.starts_with("https://") && o.ends_with(":443")) o.resize(o.size() - 4);
  return o;
}

}  // namespace

std::string own_origin(std::string_view public_origin, std::string_view host) {
  if (!public_origin.empty()) return normalise(public_origin);
  return normalise("https://" + std::string(trim(host)));
}

bool from_own_origin(std::optional<std::string_view> origin,
                     std::optional<std::string_view> sec_fetch_site, std::string_view own) {
  if (sec_fetch_site) {
    auto site = lowercase(trim(*sec_fetch_site));
    if (site != "same-origin" && site != "none") return false;
  }
  if (origin) {
    auto o = normalise(*origin);
    if (o.empty() || o == "null" || o != normalise(own)) return false;
  }
  return true;
}

}  // namespace aterm::cloud::security
