#include "aterm/common/json_reader.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <unordered_set>

#include "json_text.h"
#include "utf8.h"

namespace aterm::common {

namespace {

status bad_json(std::string message) {
  return status::error("bad_json", std::move(message));
}

bool is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The text between a string's quotes, escapes decoded. The escapes were checked by parse().
std::string unescape(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out += raw[i];
      continue;
    }
    const char e = raw[++i];
    switch (e) {
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        auto cp = static_cast<std::uint32_t>(detail::hex4(raw, i + 1));
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          auto low = static_cast<std::uint32_t>(detail::hex4(raw, i + 3));
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          i += 6;
        }
        append_utf8(out, cp);
        break;
      }
      default:  // '"', '\\', '/'
        out += e;
    }
  }
  return out;
}

// True for "-"? digits, at most 18 of them (number_length checked the grammar).
bool integral_literal(const char* p, std::size_t len) {
  std::size_t k = p[0] == '-' ? 1 : 0;
  if (len - k > 18) return false;
  for (; k < len; ++k) {
    if (p[k] < '0' || p[k] > '9') return false;
  }
  return true;
}

// Two keys' raw text, compared by length and first byte before the bytes.
bool same_raw(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || a[0] == b[0]) && a == b;
}

// Node array capacity kept between parses: a device message has a few dozen values.
constexpr std::size_t k_kept_nodes = 256;
// Objects up to this many members are checked for duplicate keys pairwise, without allocating.
constexpr std::size_t k_pairwise_keys_max = 16;

}  // namespace

struct json_reader::cursor {
  std::string_view s;
  std::vector<node>& nodes;
  int max_depth;
  std::size_t i = 0;
  int depth = 0;

  void skip_space() {
    while (i < s.size() && is_json_space(s[i])) ++i;
  }

  // At the opening quote; leaves i after the closing one.
  status string(std::uint32_t& at, std::uint32_t& len, bool& escaped) {
    const std::size_t start = ++i;
    while (true) {
      if (i >= s.size()) return bad_json("unterminated string");
      const auto c = static_cast<unsigned char>(s[i]);
      if (c == '"') break;
      if (c == '\\') {
        escaped = true;
        if (i + 1 >= s.size()) return bad_json("unterminated string");
        const char e = s[i + 1];
        if (e == 'u') {
          long cp = detail::hex4(s, i + 2);
          if (cp < 0) return bad_json("syntax error");
          if (cp == 0) return bad_json("NUL character in string");
          if (cp >= 0xDC00 && cp <= 0xDFFF) return bad_json("syntax error");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (i + 7 >= s.size() || s[i + 6] != '\\' || s[i + 7] != 'u') {
              return bad_json("syntax error");
            }
            long low = detail::hex4(s, i + 8);
            if (low < 0xDC00 || low > 0xDFFF) return bad_json("syntax error");
            i += 12;
          } else {
            i += 6;
          }
          continue;
        }
        if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
            e != 't') {
          return bad_json("syntax error");
        }
        i += 2;
        continue;
      }
      if (c < 0x20) return bad_json("control character in string");
      if (c >= 0x80) {
        std::uint32_t cp = 0;
        const std::size_t n = detail::utf8_sequence(s, i, cp);
        if (n == 0) return bad_json("invalid UTF-8");
        i += n;
        continue;
      }
      ++i;
    }
    at = static_cast<std::uint32_t>(start);
    len = static_cast<std::uint32_t>(i - start);
    ++i;
    return {};
  }

  status number(node& n) {
    const std::size_t len = detail::number_length(s, i);
    if (len == 0) return bad_json("malformed number");
    const char* first = s.data() + i;
    if (integral_literal(first, len)) {
      // At most 18 digits: exact in int64 and, below 2^53, in the double; above, rounded as
      // strtod rounds (nearest).
      std::int64_t v = 0;
      std::from_chars(first, first + len, v);
      n.number = static_cast<double>(v);
      n.type = kind::number;
      n.at = static_cast<std::uint32_t>(i);
      n.len = static_cast<std::uint32_t>(len);
      i += len;
      return {};
    }
    auto [end, ec] = std::from_chars(first, first + len, n.number);
    if (ec == std::errc::result_out_of_range) {
      // Underflow reads as strtod reads it (0 or a subnormal); overflow becomes infinite.
      n.number = std::strtod(std::string(first, len).c_str(), nullptr);
    } else if (ec != std::errc{} || end != first + len) {
      return bad_json("malformed number");
    }
    if (!std::isfinite(n.number)) return bad_json("number out of range");
    n.type = kind::number;
    n.at = static_cast<std::uint32_t>(i);
    n.len = static_cast<std::uint32_t>(len);
    i += len;
    return {};
  }

  status literal(std::uint32_t index, std::string_view word, kind type) {
    if (s.substr(i, word.size()) != word) return bad_json("syntax error");
    nodes[index].type = type;
    nodes[index].at = static_cast<std::uint32_t>(i);
    nodes[index].len = static_cast<std::uint32_t>(word.size());
    i += word.size();
    return {};
  }

  // A new node for a member or element of the container nodes[parent], linked after `prev`
  // (0: first); returns its index.
  std::uint32_t add_child(std::uint32_t parent, std::uint32_t prev) {
    nodes.emplace_back();
    const auto index = static_cast<std::uint32_t>(nodes.size() - 1);
    if (prev == 0) {
      nodes[parent].child = index;
    } else {
      nodes[prev].next = index;
    }
    return index;
  }

  status value(std::uint32_t index, const json_reader& reader) {
    if (i >= s.size()) return bad_json("syntax error");
    const char c = s[i];
    if (c == '"') {
      node& n = nodes[index];
      n.type = kind::string;
      return string(n.at, n.len, n.escaped);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(nodes[index]);
    if (c == 't') return literal(index, "true", kind::boolean);
    if (c == 'f') return literal(index, "false", kind::boolean);
    if (c == 'n') return literal(index, "null", kind::null);
    if (c != '{' && c != '[') return bad_json("syntax error");
    if (++depth > max_depth) return bad_json("nesting deeper than " + std::to_string(max_depth));
    const bool object = c == '{';
    const char close = object ? '}' : ']';
    nodes[index].type = object ? kind::object : kind::array;
    nodes[index].at = static_cast<std::uint32_t>(i);
    ++i;
    skip_space();
    std::uint32_t prev = 0;
    if (i < s.size() && s[i] == close) {
      ++i;
    } else {
      while (true) {
        const std::uint32_t child = add_child(index, prev);
        prev = child;
        if (object) {
          if (i >= s.size() || s[i] != '"') return bad_json("syntax error");
          std::uint32_t at = 0;
          std::uint32_t len = 0;
          bool escaped = false;
          if (auto st = string(at, len, escaped); !st.ok()) return st;
          nodes[child].key_at = at;
          nodes[child].key_len = len;
          nodes[child].key_escaped = escaped;
          skip_space();
          if (i >= s.size() || s[i] != ':') return bad_json("syntax error");
          ++i;
          skip_space();
        }
        if (auto st = value(child, reader); !st.ok()) return st;
        skip_space();
        if (i < s.size() && s[i] == ',') {
          ++i;
          skip_space();
          continue;
        }
        if (i < s.size() && s[i] == close) {
          ++i;
          break;
        }
        return bad_json("syntax error");
      }
    }
    nodes[index].len = static_cast<std::uint32_t>(i - nodes[index].at);
    --depth;
    if (object) return reader.check_duplicates(nodes[index]);
    return {};
  }
};

status json_reader::parse(std::string_view text, json_limits limits) {
  // A large message's node array is not kept for the next (the agent's memory floor).
  if (nodes_.capacity() > k_kept_nodes) std::vector<node>().swap(nodes_);
  nodes_.clear();
  text_ = {};
  if (text.empty()) return bad_json("empty input");
  if (text.size() > limits.max_bytes) {
    return bad_json("input larger than " + std::to_string(limits.max_bytes) + " bytes");
  }
  // Offsets are 32-bit.
  if (text.size() > UINT32_MAX) return bad_json("input too large");
  text_ = text;
  nodes_.emplace_back();
  cursor c{text, nodes_, limits.max_depth};
  if (text.substr(0, 3) == "\xEF\xBB\xBF") c.i = 3;
  c.skip_space();
  if (auto st = c.value(0, *this); !st.ok()) {
    nodes_.clear();
    return st;
  }
  c.skip_space();
  if (c.i != text.size()) {
    nodes_.clear();
    return bad_json("trailing characters after the JSON value");
  }
  return {};
}

const json_reader::node* json_reader::member(const node& obj, std::string_view key) const {
  if (obj.type != kind::object) return nullptr;
  for (const node* m = first(obj); m != nullptr; m = next(*m)) {
    if (m->key_escaped ? unescape(raw(m->key_at, m->key_len)) == key
                       : same_raw(raw(m->key_at, m->key_len), key)) {
      return m;
    }
  }
  return nullptr;
}

std::string json_reader::key(const node& n) const {
  auto r = raw(n.key_at, n.key_len);
  return n.key_escaped ? unescape(r) : std::string(r);
}

std::string json_reader::string_value(const node& n) const {
  auto r = raw(n.at, n.len);
  return n.escaped ? unescape(r) : std::string(r);
}

bool json_reader::is_integer(const node& n) {
  if (n.type != kind::number) return false;
  const double d = n.number;
  return std::trunc(d) == d && d >= -9223372036854775808.0 && d < 9223372036854775808.0;
}

void json_reader::print(const node& n, std::string& out) const {
  switch (n.type) {
    case kind::null:
      out += "null";
      return;
    case kind::boolean:
      out += raw(n.at, n.len);
      return;
    case kind::number:
      detail::append_json_number(out, n.number);
      return;
    case kind::string:
      if (n.escaped) {
        detail::append_json_string(out, unescape(raw(n.at, n.len)));
      } else {
        detail::append_json_string(out, raw(n.at, n.len));
      }
      return;
    case kind::array:
    case kind::object: {
      const bool object = n.type == kind::object;
      out += object ? '{' : '[';
      bool any = false;
      for (const node* m = first(n); m != nullptr; m = next(*m)) {
        if (any) out += ',';
        any = true;
        if (object) {
          detail::append_json_string(out, key(*m));
          out += ':';
        }
        print(*m, out);
      }
      out += object ? '}' : ']';
      return;
    }
  }
}

bool json_reader::same_key(const node& a, const node& b) const {
  if (!a.key_escaped && !b.key_escaped) {
    return same_raw(raw(a.key_at, a.key_len), raw(b.key_at, b.key_len));
  }
  return key(a) == key(b);
}

status json_reader::check_duplicates(const node& obj) const {
  std::size_t n = 0;
  for (const node* m = first(obj); m != nullptr; m = next(*m)) ++n;
  const auto duplicate = [&](const node& m) {
    return bad_json("duplicate key \"" + key(m) + "\"");
  };
  if (n <= k_pairwise_keys_max) {
    for (const node* a = first(obj); a != nullptr; a = next(*a)) {
      for (const node* b = next(*a); b != nullptr; b = next(*b)) {
        if (same_key(*a, *b)) return duplicate(*a);
      }
    }
    return {};
  }
  std::unordered_set<std::string> keys;
  keys.reserve(n);
  for (const node* m = first(obj); m != nullptr; m = next(*m)) {
    if (!keys.insert(key(*m)).second) return duplicate(*m);
  }
  return {};
}

}  // namespace aterm::common
