// The tag rule (fleet.h): one check for every path that writes a router's tags.
#include <set>
#include <string_view>

#include "aterm/cloud/fleet.h"
#include "aterm/cloud/limits.h"
#include "aterm/common/json.h"

namespace aterm::cloud {

namespace {
// store.h's k_invalid: the store answers a refused tag list with the rule's own status.
constexpr std::string_view k_bad = "invalid";
}  // namespace

common::status check_tags(const std::vector<std::string>& tags) {
  if (tags.size() > limits::k_max_tags_per_device) {
    return common::status::error(
        std::string(k_bad), "at most " + std::to_string(limits::k_max_tags_per_device) + " tags");
  }
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < tags.size(); ++i) {
    const std::string& t = tags[i];
    auto bad = [&](std::string_view why) {
      return common::status::error(std::string(k_bad),
                                   "tag " + std::to_string(i + 1) + " " + std::string(why));
    };
    if (t.empty() || t.size() > limits::k_max_tag_bytes) {
      return bad("must be 1.." + std::to_string(limits::k_max_tag_bytes) + " bytes");
    }
    if (!common::valid_utf8(t)) return bad("is not UTF-8");
    if (t.front() == ' ' || t.back() == ' ') return bad("has surrounding spaces");
    if (std::string_view("=+-@").find(t.front()) != std::string_view::npos) {
      return bad("starts with a formula character");
    }
    for (char c : t) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f || c == ',' || c == ';') {
        return bad("holds a control character, comma or semicolon");
      }
    }
    if (!seen.insert(t).second) return bad("is a duplicate");
  }
  return {};
}

}  // namespace aterm::cloud
