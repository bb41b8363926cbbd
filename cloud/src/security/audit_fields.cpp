#include "aterm/cloud/security/audit_fields.h"

#include <cassert>

#include "aterm/cloud/security/limits.h"

namespace aterm::cloud::security {

namespace {

bool continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

}  // namespace

std::string cut_audit_text(std::string_view text, std::size_t max_bytes) {
  assert(max_bytes >= k_audit_cut_marker.size());
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t keep = max_bytes - k_audit_cut_marker.size();
  // Back off to the start of the character the cut would split (at most 3 bytes for UTF-8).
  while (keep > 0 && continuation_byte(text[keep])) --keep;
  std::string out(text.substr(0, keep));
  out += k_audit_cut_marker;
  return out;
}

audit_entry bounded_audit_entry(const audit_entry& e) {
  auto cut = [](const std::string& s) { return cut_audit_text(s, limits::k_max_audit_field); };
  return audit_entry{cut(e.company_id), cut(e.actor),  cut(e.action),   cut(e.target),
                     cut(e.result),     cut(e.detail), cut(e.source_ip)};
}

}  // namespace aterm::cloud::security
