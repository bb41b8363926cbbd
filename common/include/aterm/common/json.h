// Owning cJSON handles and bounded parsing. Every external JSON text (MQTT payloads, HTTP bodies,
// configuration files) goes through parse_json, which checks size, nesting depth, UTF-8 and
// finite numbers before handing a tree to callers.
#pragma once

#include <cjson/cJSON.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aterm/common/limits.h"
#include "aterm/common/status.h"

namespace aterm::common {

struct json_deleter {
  void operator()(cJSON* p) const { cJSON_Delete(p); }
};
using json_ptr = std::unique_ptr<cJSON, json_deleter>;

struct json_limits {
  std::size_t max_bytes = limits::k_max_payload_bytes;  // Default: 64 KiB.
  int max_depth = limits::k_max_json_depth;             // Default: 16.
};

// Parses exactly `text` (explicit length, no NUL needed). Errors (code "bad_json"): empty, too
// large, too deep, invalid UTF-8, syntax error (including numbers outside the RFC 8259 grammar
// such as "01" or "1."), trailing garbage, a number that is not finite (1e400), a duplicate key
// in one object, a raw control character or "\u0000" in a string. A leading UTF-8 BOM is
// skipped (cJSON does). Thread-safe.
result<json_ptr> parse_json(std::string_view text, json_limits limits = {});

// Compact text of `node`: integral numbers in int64 range print as integers ("1767225600"),
// others in the fewest digits that read back exactly. REQUIRES: node != nullptr.
std::string print_json(const cJSON* node);

// Writes JSON text straight into a string, without building a tree, for answers whose size makes
// a cJSON tree's allocations count (a device list of 500 made about 20 nodes and 40 allocations
// per device). Strings are escaped and integers printed as print_json does. The caller nests
// begin/end correctly and gives every object member a key() first; raw() takes JSON text that
// is already valid (e.g. stored after parsing). Not thread-safe.
class json_writer {
 public:
  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  json_writer& key(std::string_view k);
  json_writer& string(std::string_view v);
  json_writer& number(std::int64_t v);
  json_writer& number(const std::optional<std::int64_t>& v);  // null when empty
  json_writer& boolean(bool v);
  json_writer& null();
  json_writer& raw(std::string_view json);
  // The text so far, moved out.
  std::string take() { return std::move(out_); }

 private:
  void separate();  // the comma before a value or key that follows another
  std::string out_;
  bool first_ = true;  // nothing written yet in the innermost object or array (or after a key)
};

// Typed field access on an object; nullopt when absent or of another type.
std::optional<std::string> json_string(const cJSON* obj, const char* key);
std::optional<int64_t> json_int(const cJSON* obj, const char* key);  // integral values only
std::optional<double> json_number(const cJSON* obj, const char* key);
std::optional<bool> json_bool(const cJSON* obj, const char* key);

// True when the double holds an integer representable as int64_t.
bool json_is_integer(const cJSON* node);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool valid_utf8(std::string_view s);

// The characters of `s` as one line of text a person typed (a name, a label): well-formed UTF-8
// without control characters. nullopt for anything else.
std::optional<std::size_t> line_characters(std::string_view s);

}  // namespace aterm::common
