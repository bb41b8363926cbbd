// A strict reader of one JSON text into a flat array of nodes, for the hot path of device
// messages: no heap allocation per value (cJSON makes one per value and one per key) and numbers
// read by std::from_chars. It accepts exactly what parse_json (json.h) accepts, with the same
// limits: RFC 8259 syntax and numbers, valid UTF-8, no raw control character and no "\u0000" in a
// string, no duplicate key in an object, finite numbers, at most `max_depth` nested containers,
// a leading UTF-8 BOM skipped. print() writes a value as print_json does. The fuzz target
// fuzz_protocol_decode holds the two to that on every input.
//
// Nodes refer into the text given to parse(), which must outlive the reader's use. Not
// thread-safe; cheap to reuse (parse() keeps the node array's capacity).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/common/json.h"
#include "aterm/common/status.h"

namespace aterm::common {

class json_reader {
 public:
  enum class kind : std::uint8_t { null, boolean, number, string, array, object };
  struct node {
    kind type = kind::null;
    bool escaped = false;      // a string value with escapes (text() is then the raw form)
    bool key_escaped = false;  // an object member's key with escapes
    std::uint32_t key_at = 0;  // an object member's key: the text between its quotes
    std::uint32_t key_len = 0;
    std::uint32_t at = 0;  // string: between the quotes; number, true/false/null: the literal
    std::uint32_t len = 0;
    std::uint32_t child = 0;  // containers: index of the first member or element, 0 when empty
    std::uint32_t next = 0;   // index of the next sibling, 0 for the last
    double number = 0;
  };

  // Errors (code "bad_json") as parse_json's.
  status parse(std::string_view text, json_limits limits = {});

  // REQUIRES: the last parse() succeeded.
  const node& root() const { return nodes_[0]; }
  const node* first(const node& container) const {
    return container.child != 0 ? &nodes_[container.child] : nullptr;
  }
  const node* next(const node& n) const { return n.next != 0 ? &nodes_[n.next] : nullptr; }
  // The member `key` of `obj`, or nullptr (also when `obj` is no object).
  const node* member(const node& obj, std::string_view key) const;
  // A member's key and a string's value, unescaped.
  std::string key(const node& n) const;
  std::string string_value(const node& n) const;
  // True for a number with an integral value in int64 range (json_is_integer).
  static bool is_integer(const node& n);
  // True for the literal true.
  static bool is_true(const node& n) { return n.type == kind::boolean && n.len == 4; }
  // Appends `n` as print_json prints the same value.
  void print(const node& n, std::string& out) const;

 private:
  struct cursor;
  std::string_view raw(std::uint32_t at, std::uint32_t len) const { return text_.substr(at, len); }
  bool same_key(const node& a, const node& b) const;
  status check_duplicates(const node& obj) const;

  std::string_view text_;
  std::vector<node> nodes_;
};

}  // namespace aterm::common
