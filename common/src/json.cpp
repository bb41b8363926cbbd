#include "aterm/common/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unordered_set>

#include "json_text.h"
#include "utf8.h"

namespace aterm::common {

namespace {

status bad_json(std::string message) {
  return status::error("bad_json", std::move(message));
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Checks nesting depth, number syntax and string contents before cJSON recurses, so hostile
// input (10k open brackets) fails here without deep recursion. Raw control characters in strings
// and "\u0000" (cJSON strings are C strings and would be silently cut) are refused too.
status prescan(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (in_string) {
      if (c == '"') {
        in_string = false;
      } else if (c == '\\') {
        if (i + 1 >= text.size()) return bad_json("unterminated string");
        if (text[i + 1] == 'u') {
          // cJSON reads a malformed "\\uXXXX" as U+0000 and cuts the string there.
          const long cp = detail::hex4(text, i + 2);
          if (cp < 0) return bad_json("malformed \\u escape");
          if (cp == 0) return bad_json("NUL character in string");
        }
        ++i;
      } else if (c < 0x20) {
        return bad_json("control character in string");
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c < 0x20 && !is_json_space(static_cast<char>(c))) {
      // cJSON takes any byte up to 0x20 between tokens; RFC 8259 only these four.
      return bad_json("control character outside a string");
    } else if (c == '-' || is_digit(static_cast<char>(c))) {
      const std::size_t n = detail::number_length(text, i);
      if (n == 0) return bad_json("malformed number");
      i += n - 1;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return bad_json("nesting deeper than " + std::to_string(max_depth));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return {};
}

// Device messages have objects of a handful of members: compare pairwise without allocating,
// and fall back to a hash set for large objects so hostile input stays linear.
status check_duplicate_keys(const cJSON* obj) {
  constexpr std::size_t k_pairwise_max = 16;
  std::size_t n = 0;
  for (const cJSON* c = obj->child; c != nullptr; c = c->next) {
    if (c->string == nullptr) return bad_json("object member without a key");
    ++n;
  }
  const auto duplicate = [](const char* key) {
    return bad_json(std::string("duplicate key \"") + key + "\"");
  };
  if (n <= k_pairwise_max) {
    for (const cJSON* a = obj->child; a != nullptr; a = a->next) {
      for (const cJSON* b = a->next; b != nullptr; b = b->next) {
        if (std::strcmp(a->string, b->string) == 0) return duplicate(a->string);
      }
    }
    return {};
  }
  std::unordered_set<std::string_view> keys;
  keys.reserve(n);
  for (const cJSON* c = obj->child; c != nullptr; c = c->next) {
    if (!keys.insert(c->string).second) return duplicate(c->string);
  }
  return {};
}

// Refuses non-finite numbers (cJSON turns 1e400 into inf) and duplicate object keys (two
// readers could disagree on which one counts). Depth is already bounded by prescan.
status check_tree(const cJSON* node) {
  if (cJSON_IsNumber(node) && !std::isfinite(node->valuedouble)) {
    return bad_json("number out of range");
  }
  if (cJSON_IsObject(node)) {
    if (auto s = check_duplicate_keys(node); !s.ok()) return s;
  }
  if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
    for (const cJSON* c = node->child; c != nullptr; c = c->next) {
      if (auto s = check_tree(c); !s.ok()) return s;
    }
  }
  return {};
}

void print_node(const cJSON* node, std::string& out);

void print_members(const cJSON* node, std::string& out) {
  bool first = true;
  for (const cJSON* c = node->child; c != nullptr; c = c->next) {
    if (!first) out += ',';
    first = false;
    if (cJSON_IsObject(node)) {
      detail::append_json_string(out, c->string ? c->string : "");
      out += ':';
    }
    print_node(c, out);
  }
}

void print_node(const cJSON* node, std::string& out) {
  if (cJSON_IsObject(node)) {
    out += '{';
    print_members(node, out);
    out += '}';
  } else if (cJSON_IsArray(node)) {
    out += '[';
    print_members(node, out);
    out += ']';
  } else if (cJSON_IsString(node)) {
    detail::append_json_string(out, node->valuestring ? node->valuestring : "");
  } else if (cJSON_IsNumber(node)) {
    detail::append_json_number(out, node->valuedouble);
  } else if (cJSON_IsTrue(node)) {
    out += "true";
  } else if (cJSON_IsFalse(node)) {
    out += "false";
  } else if (cJSON_IsRaw(node)) {
    out += node->valuestring ? node->valuestring : "null";
  } else {
    out += "null";
  }
}

}  // namespace

namespace detail {

long hex4(std::string_view s, std::size_t i) {
  if (i + 4 > s.size()) return -1;
  long v = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    const char c = s[i + k];
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

std::size_t number_length(std::string_view text, std::size_t i) {
  const std::size_t start = i;
  const auto at = [&](std::size_t k) { return k < text.size() ? text[k] : '\0'; };
  if (at(i) == '-') ++i;
  if (at(i) == '0') {
    ++i;
  } else if (is_digit(at(i))) {
    while (is_digit(at(i))) ++i;
  } else {
    return 0;
  }
  if (at(i) == '.') {
    if (!is_digit(at(++i))) return 0;
    while (is_digit(at(i))) ++i;
  }
  if (at(i) == 'e' || at(i) == 'E') {
    ++i;
    if (at(i) == '+' || at(i) == '-') ++i;
    if (!is_digit(at(i))) return 0;
    while (is_digit(at(i))) ++i;
  }
  const char next = at(i);
  if (is_digit(next) || next == '.' || next == 'e' || next == 'E' || next == '+' || next == '-') {
    return 0;
  }
  return i - start;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char k_hex[] = "0123456789abcdef";
  out += '"';
  std::size_t plain = 0;  // start of the run of characters that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s, plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out += k_hex[c >> 4];
        out += k_hex[c & 0xF];
    }
  }
  out.append(s, plain, s.size() - plain);
  out += '"';
}

void append_json_number(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  if (std::trunc(d) == d && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
    out += std::to_string(static_cast<int64_t>(d));
    return;
  }
  // The fewest of 15, 16 or 17 significant digits that read back as the same double (17 always
  // do), so 0.1 prints as 0.1.
  char buf[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  out += buf;
}

}  // namespace detail

result<json_ptr> parse_json(std::string_view text, json_limits limits) {
  if (text.empty()) return bad_json("empty input");
  if (text.size() > limits.max_bytes) {
    return bad_json("input larger than " + std::to_string(limits.max_bytes) + " bytes");
  }
  if (auto s = prescan(text, limits.max_depth); !s.ok()) return s;
  if (!valid_utf8(text)) return bad_json("invalid UTF-8");
  // The BOM is skipped here: cJSON's own skip miscounts the length, so a BOM and a one-digit
  // number failed. cJSON would also skip a second one, which is no JSON (json_reader refuses it).
  constexpr std::string_view bom = "\xEF\xBB\xBF";
  if (text.substr(0, 3) == bom) text.remove_prefix(3);
  if (text.empty() || text.substr(0, 3) == bom) return bad_json("syntax error");
  const char* end = nullptr;
  json_ptr root(cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, false));
  if (!root) return bad_json("syntax error");
  auto consumed = static_cast<std::size_t>(end - text.data());
  while (consumed < text.size() && is_json_space(text[consumed])) ++consumed;
  if (consumed != text.size()) return bad_json("trailing characters after the JSON value");
  if (auto s = check_tree(root.get()); !s.ok()) return s;
  return root;
}

std::string print_json(const cJSON* node) {
  std::string out;
  print_node(node, out);
  return out;
}

void json_writer::separate() {
  if (!first_) out_ += ',';
  first_ = false;
}

json_writer& json_writer::begin_object() {
  separate();
  out_ += '{';
  first_ = true;
  return *this;
}

json_writer& json_writer::end_object() {
  out_ += '}';
  first_ = false;
  return *this;
}

json_writer& json_writer::begin_array() {
  separate();
  out_ += '[';
  first_ = true;
  return *this;
}

json_writer& json_writer::end_array() {
  out_ += ']';
  first_ = false;
  return *this;
}

json_writer& json_writer::key(std::string_view k) {
  separate();
  detail::append_json_string(out_, k);
  out_ += ':';
  first_ = true;  // the value follows without a comma
  return *this;
}

json_writer& json_writer::string(std::string_view v) {
  separate();
  detail::append_json_string(out_, v);
  return *this;
}

json_writer& json_writer::number(std::int64_t v) {
  separate();
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  out_.append(buf, end);
  return *this;
}

json_writer& json_writer::number(const std::optional<std::int64_t>& v) {
  return v ? number(*v) : null();
}

json_writer& json_writer::boolean(bool v) {
  separate();
  out_ += v ? "true" : "false";
  return *this;
}

json_writer& json_writer::null() {
  separate();
  out_ += "null";
  return *this;
}

json_writer& json_writer::raw(std::string_view json) {
  separate();
  out_ += json;
  return *this;
}

std::optional<std::string> json_string(const cJSON* obj, const char* key) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsString(item) || item->valuestring == nullptr) return std::nullopt;
  return std::string(item->valuestring);
}

std::optional<int64_t> json_int(const cJSON* obj, const char* key) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!json_is_integer(item)) return std::nullopt;
  return static_cast<int64_t>(item->valuedouble);
}

std::optional<double> json_number(const cJSON* obj, const char* key) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsNumber(item) || !std::isfinite(item->valuedouble)) return std::nullopt;
  return item->valuedouble;
}

std::optional<bool> json_bool(const cJSON* obj, const char* key) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsBool(item)) return std::nullopt;
  return cJSON_IsTrue(item) != 0;
}

bool json_is_integer(const cJSON* node) {
  if (!cJSON_IsNumber(node)) return false;
  const double d = node->valuedouble;
  return std::isfinite(d) && std::trunc(d) == d && d >= -9223372036854775808.0 &&
         d < 9223372036854775808.0;
}

std::optional<std::size_t> line_characters(std::string_view s) {
  if (!valid_utf8(s)) return std::nullopt;
  std::size_t characters = 0;
  for (const char raw : s) {
    const auto ch = static_cast<unsigned char>(raw);
    if (ch < 0x20 || ch == 0x7f) return std::nullopt;
    // Every byte but a UTF-8 continuation byte starts a character.
    if ((ch & 0xc0) != 0x80) ++characters;
  }
  return characters;
}

bool valid_utf8(std::string_view s) {
  std::uint32_t cp = 0;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = detail::utf8_sequence(s, i, cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace aterm::common
