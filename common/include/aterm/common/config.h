// JSON configuration files (DESIGN.md section 7). A program declares its keys (dotted names,
// types and defaults); load_config accepts both nested objects ({"http":{"listen":..}}) and
// dotted keys ({"http.listen":..}), and refuses an unknown key or a wrong type with an error
// naming the file and the key. Immutable after loading; safe to read from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "aterm/common/status.h"

namespace aterm::common {

enum class config_type { string, integer, number, boolean, string_list };

using config_value =
    std::variant<std::monostate, std::string, std::int64_t, double, bool, std::vector<std::string>>;

struct config_key {
  std::string name;  // dotted, e.g. "security.lockout_s"
  config_type type;
  config_value fallback;  // std::monostate: no default
  bool required = false;
  // For integer keys: inclusive bounds checked at load.
  std::optional<std::int64_t> min;
  std::optional<std::int64_t> max;
};

using config_schema = std::vector<config_key>;

class config {
 public:
  config() = default;
  // True when the file set the key or the schema gave it a default.
  bool has(std::string_view key) const;
  // REQUIRES: the key is in the schema with that type and has() is true (asserts otherwise).
  const std::string& get_string(std::string_view key) const;
  std::int64_t get_int(std::string_view key) const;
  double get_number(std::string_view key) const;  // integers are widened
  bool get_bool(std::string_view key) const;
  const std::vector<std::string>& get_list(std::string_view key) const;
  // Where the values came from (file path or "<text>").
  const std::string& source() const { return source_; }

 private:
  friend result<config> parse_config(std::string_view, std::string_view, const config_schema&);
  std::string source_;
  std::map<std::string, config_value, std::less<>> values_;
};

// Errors: "config_io" (unreadable file), "config_syntax", "config_unknown_key",
// "config_wrong_type", "config_missing_key", "config_out_of_range". Messages read like
// "agent.json: unknown key \"broker.urx\"".
result<config> parse_config(std::string_view text, std::string_view source_name,
                            const config_schema& schema);
result<config> load_config(const std::string& path, const config_schema& schema);

}  // namespace aterm::common
