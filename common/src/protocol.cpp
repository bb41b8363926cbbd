#include "aterm/common/protocol.h"

#include <cassert>
#include <cmath>

#include "aterm/common/json.h"
#include "aterm/common/json_reader.h"
#include "aterm/common/limits.h"
#include "json_text.h"

namespace aterm::common::protocol {

namespace {

bool is_alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_lower_or_digit(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

struct kind_name {
  topic_kind kind;
  std::string_view name;
};
constexpr kind_name k_kinds[] = {{topic_kind::presence, "presence"},
                                 {topic_kind::state, "state"},
                                 {topic_kind::cmd, "cmd"},
                                 {topic_kind::result, "result"},
                                 {topic_kind::event, "event"}};

struct status_name {
  result_status status;
  std::string_view name;
};
constexpr status_name k_statuses[] = {{result_status::ok, "ok"},
                                      {result_status::error, "error"},
                                      {result_status::rejected, "rejected"},
                                      {result_status::expired, "expired"},
                                      {result_status::unsupported, "unsupported"},
                                      {result_status::progress, "progress"}};

status missing(std::string_view field) {
  return status::error("missing_field", "missing field \"" + std::string(field) + "\"");
}
status wrong_type(std::string_view field, std::string_view want) {
  return status::error("wrong_type",
                       "field \"" + std::string(field) + "\" must be " + std::string(want));
}
status bad_value(std::string_view field, std::string_view why) {
  return status::error("bad_value", "field \"" + std::string(field) + "\": " + std::string(why));
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
std::string truncate_utf8(std::string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

// The reader of the calling thread: its node array is kept from message to message, so a decode
// allocates only the strings it returns.
json_reader& thread_reader() {
  thread_local json_reader reader;
  return reader;
}

// The field readers see a message through one of two views of its parsed JSON: json_reader's
// nodes, for the messages the cloud decodes on its ingest path, or cJSON's tree, for the one
// message a router decodes (a command), so the router's binary carries no second JSON parser.
struct reader_view {
  using item = json_reader::node;
  const json_reader& r;
  const item* member(const item& obj, const char* key) const { return r.member(obj, key); }
  static bool is_integer(const item& i) { return json_reader::is_integer(i); }
  static bool is_number(const item& i) { return i.type == json_reader::kind::number; }
  static double number(const item& i) { return i.number; }
  static bool is_string(const item& i) { return i.type == json_reader::kind::string; }
  std::string string(const item& i) const { return r.string_value(i); }
  static bool is_bool(const item& i) { return i.type == json_reader::kind::boolean; }
  static bool is_true(const item& i) { return json_reader::is_true(i); }
  static bool is_object(const item& i) { return i.type == json_reader::kind::object; }
  void print(const item& i, std::string& out) const { r.print(i, out); }
};

struct cjson_view {
  using item = cJSON;
  static const item* member(const item& obj, const char* key) {
    return cJSON_GetObjectItemCaseSensitive(&obj, key);
  }
  static bool is_integer(const item& i) { return json_is_integer(&i); }
  static bool is_number(const item& i) { return cJSON_IsNumber(&i); }
  static double number(const item& i) { return i.valuedouble; }
  static bool is_string(const item& i) { return cJSON_IsString(&i) && i.valuestring != nullptr; }
  static std::string string(const item& i) { return i.valuestring; }
  static bool is_bool(const item& i) { return cJSON_IsBool(&i); }
  static bool is_true(const item& i) { return cJSON_IsTrue(&i); }
  static bool is_object(const item& i) { return cJSON_IsObject(&i); }
  static void print(const item& i, std::string& out) { out += print_json(&i); }
};

using node = json_reader::node;

// Field readers on object `obj` of view `v`: `name` is the dotted path used in messages
// ("wan.ip"), `key` the member name.
template <typename View>
status read_int(const View& v, const typename View::item& obj, const char* key,
                std::string_view name, bool required, int64_t min, int64_t max,
                std::optional<int64_t>& out) {
  const auto* item = v.member(obj, key);
  if (item == nullptr) return required ? missing(name) : status{};
  if (!v.is_integer(*item)) return wrong_type(name, "an integer");
  const auto n = static_cast<int64_t>(v.number(*item));
  if (n < min || n > max) {
    return bad_value(name,
                     "out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  out = n;
  return {};
}

template <typename View>
status read_required_int(const View& v, const typename View::item& obj, const char* key,
                         int64_t min, int64_t max, int64_t& out) {
  std::optional<int64_t> n;
  if (auto s = read_int(v, obj, key, key, true, min, max, n); !s.ok()) return s;
  out = *n;
  return {};
}

template <typename View>
status read_timestamp(const View& v, const typename View::item& obj, const char* key,
                      int64_t& out) {
  return read_required_int(v, obj, key, 0, limits::k_max_timestamp_s, out);
}

template <typename View>
status read_string(const View& v, const typename View::item& obj, const char* key,
                   std::string_view name, bool required, std::optional<std::string>& out) {
  const auto* item = v.member(obj, key);
  if (item == nullptr) return required ? missing(name) : status{};
  if (!v.is_string(*item)) return wrong_type(name, "a string");
  out = v.string(*item);
  return {};
}

template <typename View>
status read_required_string(const View& v, const typename View::item& obj, const char* key,
                            std::string& out) {
  std::optional<std::string> text;
  if (auto s = read_string(v, obj, key, key, true, text); !s.ok()) return s;
  out = std::move(*text);
  return {};
}

template <typename View>
status read_bool(const View& v, const typename View::item& obj, const char* key,
                 std::string_view name, bool required, std::optional<bool>& out) {
  const auto* item = v.member(obj, key);
  if (item == nullptr) return required ? missing(name) : status{};
  if (!v.is_bool(*item)) return wrong_type(name, "a boolean");
  out = v.is_true(*item);
  return {};
}

// An optional member that must be an object when present; nullptr when absent.
template <typename View>
status read_object(const View& v, const typename View::item& obj, const char* key,
                   std::string_view name, const typename View::item*& out) {
  out = v.member(obj, key);
  if (out != nullptr && !v.is_object(*out)) return wrong_type(name, "an object");
  return {};
}

status check_size(std::string_view payload) {
  if (payload.size() <= limits::k_max_payload_bytes) return {};
  return status::error("too_large", "payload of " + std::to_string(payload.size()) +
                                        " bytes exceeds " +
                                        std::to_string(limits::k_max_payload_bytes));
}

// Object, "v" == 1 and the device_id cross-check common to every message.
template <typename View>
status check_envelope(const View& v, const typename View::item& obj,
                      std::string_view topic_device_id) {
  if (!v.is_object(obj)) return status::error("bad_json", "payload is not a JSON object");
  const auto* version = v.member(obj, "v");
  if (version == nullptr) return missing("v");
  if (!v.is_integer(*version)) return wrong_type("v", "an integer");
  if (v.number(*version) != k_version) {
    return status::error("bad_version", "unsupported protocol version in field \"v\"");
  }
  const auto* dev = v.member(obj, "device_id");
  if (dev != nullptr) {
    if (!v.is_string(*dev)) return wrong_type("device_id", "a string");
    if (!topic_device_id.empty() && topic_device_id != v.string(*dev)) {
      return status::error("id_mismatch", "field \"device_id\" does not match the topic");
    }
  }
  return {};
}

// Size, JSON and envelope, read by the thread's reader; the message is then r.root().
status open_message(json_reader& r, std::string_view payload, std::string_view topic_device_id) {
  if (auto s = check_size(payload); !s.ok()) return s;
  if (auto s = r.parse(payload); !s.ok()) return s;
  return check_envelope(reader_view{r}, r.root(), topic_device_id);
}

// Compact text of a JSON object given as text; "{}" when it is not a JSON object (a caller bug).
std::string canonical_object(std::string_view json_text) {
  auto parsed = parse_json(json_text);
  const bool is_object = parsed && cJSON_IsObject(parsed->get());
  assert(is_object && "encode: *_json must hold a JSON object");
  return is_object ? print_json(parsed->get()) : "{}";
}

void add_key(std::string& out, std::string_view key) {
  out += ',';
  detail::append_json_string(out, key);
  out += ':';
}
void add_int(std::string& out, std::string_view key, int64_t v) {
  add_key(out, key);
  out += std::to_string(v);
}
void add_string(std::string& out, std::string_view key, std::string_view v) {
  add_key(out, key);
  detail::append_json_string(out, v);
}
void add_bool(std::string& out, std::string_view key, bool v) {
  add_key(out, key);
  out += v ? "true" : "false";
}
void add_raw(std::string& out, std::string_view key, std::string_view raw) {
  add_key(out, key);
  out += raw;
}

constexpr int64_t k_int_max = INT64_MAX;

}  // namespace

std::string_view to_string(topic_kind k) {
  for (const auto& e : k_kinds) {
    if (e.kind == k) return e.name;
  }
  return "?";
}

bool valid_device_id(std::string_view id) {
  if (id.size() < 3 || id.size() > limits::k_max_device_id || !is_alnum(id[0])) return false;
  for (char c : id.substr(1)) {
    if (!is_alnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

bool valid_command_id(std::string_view id) {
  if (id.empty() || id.size() > limits::k_max_command_id || !is_alnum(id[0])) return false;
  for (char c : id.substr(1)) {
    if (!is_alnum(c) && c != '_' && c != '.' && c != ':' && c != '-') return false;
  }
  return true;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > limits::k_max_name || !(name[0] >= 'a' && name[0] <= 'z')) {
    return false;
  }
  for (char c : name.substr(1)) {
    if (!is_lower_or_digit(c) && c != '_' && c != '.') return false;
  }
  return true;
}

std::string topic(std::string_view device_id, topic_kind kind) {
  assert(valid_device_id(device_id));
  std::string t(k_topic_root);
  t += device_id;
  t += '/';
  t += to_string(kind);
  return t;
}

std::string topic_filter(topic_kind kind) {
  std::string t(k_topic_root);
  t += "+/";
  t += to_string(kind);
  return t;
}

result<parsed_topic> parse_topic(std::string_view t) {
  if (t.substr(0, k_topic_root.size()) != k_topic_root) {
    return status::error("bad_topic", "topic does not start with aterm/v1/");
  }
  const std::string_view rest = t.substr(k_topic_root.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return status::error("bad_topic", "topic has no kind");
  const std::string_view id = rest.substr(0, slash);
  const std::string_view kind = rest.substr(slash + 1);
  if (!valid_device_id(id)) return status::error("bad_topic", "invalid device id in topic");
  for (const auto& e : k_kinds) {
    if (e.name == kind) return parsed_topic{std::string(id), e.kind};
  }
  return status::error("bad_topic", "unknown topic kind");
}

std::string_view to_string(result_status s) {
  for (const auto& e : k_statuses) {
    if (e.status == s) return e.name;
  }
  return "?";
}

std::optional<result_status> parse_result_status(std::string_view s) {
  for (const auto& e : k_statuses) {
    if (e.name == s) return e.status;
  }
  return std::nullopt;
}

std::string encode(const presence& p) {
  std::string out = "{\"v\":1";
  add_bool(out, "online", p.online);
  add_string(out, "agent", p.agent);
  add_int(out, "ts", p.ts);
  out += '}';
  return out;
}

std::string encode(const state_snapshot& s) {
  std::string out = "{\"v\":1";
  add_int(out, "ts", s.ts);
  add_int(out, "seq", s.seq);
  if (s.model) add_string(out, "model", *s.model);
  if (s.fw) add_string(out, "fw", *s.fw);
  if (s.uptime_s) add_int(out, "uptime_s", *s.uptime_s);
  if (s.wan_ip || s.wan_up) {
    std::string wan = "{";
    if (s.wan_ip) {
      detail::append_json_string(wan, "ip");
      wan += ':';
      detail::append_json_string(wan, *s.wan_ip);
    }
    if (s.wan_up) {
      if (s.wan_ip) wan += ',';
      wan += *s.wan_up ? "\"up\":true" : "\"up\":false";
    }
    wan += '}';
    add_raw(out, "wan", wan);
  }
  if (s.lan_clients) add_raw(out, "lan", "{\"clients\":" + std::to_string(*s.lan_clients) + "}");
  if (s.cpu_load1 && std::isfinite(*s.cpu_load1)) {
    std::string cpu = "{\"load1\":";
    detail::append_json_number(cpu, *s.cpu_load1);
    cpu += '}';
    add_raw(out, "cpu", cpu);
  }
  if (s.mem_total_kb || s.mem_free_kb) {
    std::string mem = "{";
    if (s.mem_total_kb) mem += "\"total_kb\":" + std::to_string(*s.mem_total_kb);
    if (s.mem_free_kb) {
      if (s.mem_total_kb) mem += ',';
      mem += "\"free_kb\":" + std::to_string(*s.mem_free_kb);
    }
    mem += '}';
    add_raw(out, "mem", mem);
  }
  if (s.config_rev) add_int(out, "config_rev", *s.config_rev);
  out += '}';
  return out;
}

std::string encode(const command& c) {
  std::string out = "{\"v\":1";
  add_string(out, "id", c.id);
  add_string(out, "op", c.op);
  add_raw(out, "args", canonical_object(c.args_json));
  add_int(out, "deadline", c.deadline);
  out += '}';
  return out;
}

std::string encode(const command_result& r) {
  std::string out = "{\"v\":1";
  add_string(out, "id", r.id);
  add_string(out, "status", to_string(r.status));
  add_raw(out, "result", canonical_object(r.result_json));
  if (!r.error.empty()) add_string(out, "error", truncate_utf8(r.error, limits::k_max_error_text));
  out += '}';
  return out;
}

std::string encode(const event& e) {
  std::string out = "{\"v\":1";
  add_int(out, "ts", e.ts);
  add_string(out, "type", e.type);
  auto fields = parse_json(e.fields_json);
  const bool is_object = fields && cJSON_IsObject(fields->get());
  assert(is_object && "encode: event.fields_json must hold a JSON object");
  if (is_object) {
    for (const cJSON* c = fields->get()->child; c != nullptr; c = c->next) {
      const std::string_view key = c->string ? c->string : "";
      if (key == "v" || key == "ts" || key == "type") continue;
      add_raw(out, key, print_json(c));
    }
  }
  out += '}';
  return out;
}

result<presence> decode_presence(std::string_view payload, std::string_view topic_device_id) {
  auto& r = thread_reader();
  if (auto s = open_message(r, payload, topic_device_id); !s.ok()) return s;
  const reader_view v{r};
  const node& obj = r.root();
  presence p;
  std::optional<bool> online;
  if (auto s = read_bool(v, obj, "online", "online", true, online); !s.ok()) return s;
  p.online = *online;
  if (auto s = read_required_string(v, obj, "agent", p.agent); !s.ok()) return s;
  if (p.agent.size() > limits::k_max_name) return bad_value("agent", "too long");
  if (auto s = read_timestamp(v, obj, "ts", p.ts); !s.ok()) return s;
  return p;
}

result<state_snapshot> decode_state(std::string_view payload, std::string_view topic_device_id) {
  auto& r = thread_reader();
  if (auto s = open_message(r, payload, topic_device_id); !s.ok()) return s;
  const reader_view v{r};
  const node& obj = r.root();
  state_snapshot st;
  if (auto s = read_timestamp(v, obj, "ts", st.ts); !s.ok()) return s;
  if (auto s = read_required_int(v, obj, "seq", 0, k_int_max, st.seq); !s.ok()) return s;
  if (auto s = read_string(v, obj, "model", "model", false, st.model); !s.ok()) return s;
  if (auto s = read_string(v, obj, "fw", "fw", false, st.fw); !s.ok()) return s;
  if (auto s = read_int(v, obj, "uptime_s", "uptime_s", false, 0, k_int_max, st.uptime_s);
      !s.ok()) {
    return s;
  }
  const node* wan = nullptr;
  if (auto s = read_object(v, obj, "wan", "wan", wan); !s.ok()) return s;
  if (wan != nullptr) {
    if (auto s = read_string(v, *wan, "ip", "wan.ip", false, st.wan_ip); !s.ok()) return s;
    if (auto s = read_bool(v, *wan, "up", "wan.up", false, st.wan_up); !s.ok()) return s;
  }
  const node* lan = nullptr;
  if (auto s = read_object(v, obj, "lan", "lan", lan); !s.ok()) return s;
  if (lan != nullptr) {
    if (auto s = read_int(v, *lan, "clients", "lan.clients", false, 0, k_int_max, st.lan_clients);
        !s.ok()) {
      return s;
    }
  }
  const node* cpu = nullptr;
  if (auto s = read_object(v, obj, "cpu", "cpu", cpu); !s.ok()) return s;
  if (cpu != nullptr) {
    const node* load = r.member(*cpu, "load1");
    if (load != nullptr) {
      if (load->type != json_reader::kind::number) return wrong_type("cpu.load1", "a number");
      if (load->number < 0) return bad_value("cpu.load1", "negative");
      st.cpu_load1 = load->number;
    }
  }
  const node* mem = nullptr;
  if (auto s = read_object(v, obj, "mem", "mem", mem); !s.ok()) return s;
  if (mem != nullptr) {
    if (auto s =
            read_int(v, *mem, "total_kb", "mem.total_kb", false, 0, k_int_max, st.mem_total_kb);
        !s.ok()) {
      return s;
    }
    if (auto s = read_int(v, *mem, "free_kb", "mem.free_kb", false, 0, k_int_max, st.mem_free_kb);
        !s.ok()) {
      return s;
    }
  }
  if (auto s = read_int(v, obj, "config_rev", "config_rev", false, 0, k_int_max, st.config_rev);
      !s.ok()) {
    return s;
  }
  return st;
}

result<command> decode_command(std::string_view payload, std::string_view topic_device_id) {
  if (auto s = check_size(payload); !s.ok()) return s;
  auto root = parse_json(payload);
  if (!root) return root.error();
  const cjson_view v;
  const cJSON& obj = *root->get();
  if (auto s = check_envelope(v, obj, topic_device_id); !s.ok()) return s;
  command c;
  if (auto s = read_required_string(v, obj, "id", c.id); !s.ok()) return s;
  if (!valid_command_id(c.id)) return bad_value("id", "not a valid command id");
  if (auto s = read_required_string(v, obj, "op", c.op); !s.ok()) return s;
  if (!valid_name(c.op)) return bad_value("op", "not a valid op name");
  const cJSON* args = nullptr;
  if (auto s = read_object(v, obj, "args", "args", args); !s.ok()) return s;
  if (args != nullptr) c.args_json = print_json(args);
  if (auto s = read_timestamp(v, obj, "deadline", c.deadline); !s.ok()) return s;
  return c;
}

result<command_result> decode_result(std::string_view payload, std::string_view topic_device_id) {
  auto& r = thread_reader();
  if (auto s = open_message(r, payload, topic_device_id); !s.ok()) return s;
  const reader_view v{r};
  const node& obj = r.root();
  command_result res;
  if (auto s = read_required_string(v, obj, "id", res.id); !s.ok()) return s;
  if (!valid_command_id(res.id)) return bad_value("id", "not a valid command id");
  std::string st;
  if (auto s = read_required_string(v, obj, "status", st); !s.ok()) return s;
  const auto parsed = parse_result_status(st);
  if (!parsed) return bad_value("status", "unknown status");
  res.status = *parsed;
  const node* body = nullptr;
  if (auto s = read_object(v, obj, "result", "result", body); !s.ok()) return s;
  if (body != nullptr) {
    res.result_json.clear();
    r.print(*body, res.result_json);
  }
  std::optional<std::string> error;
  if (auto s = read_string(v, obj, "error", "error", false, error); !s.ok()) return s;
  if (error) res.error = truncate_utf8(*error, limits::k_max_error_text);
  return res;
}

result<event> decode_event(std::string_view payload, std::string_view topic_device_id) {
  auto& r = thread_reader();
  if (auto s = open_message(r, payload, topic_device_id); !s.ok()) return s;
  const reader_view v{r};
  const node& obj = r.root();
  event e;
  if (auto s = read_timestamp(v, obj, "ts", e.ts); !s.ok()) return s;
  if (auto s = read_required_string(v, obj, "type", e.type); !s.ok()) return s;
  if (!valid_name(e.type)) return bad_value("type", "not a valid event type");
  std::string fields = "{";
  for (const node* c = r.first(obj); c != nullptr; c = r.next(*c)) {
    const std::string key = r.key(*c);
    if (key == "v" || key == "ts" || key == "type") continue;
    if (fields.size() > 1) fields += ',';
    detail::append_json_string(fields, key);
    fields += ':';
    r.print(*c, fields);
  }
  fields += '}';
  e.fields_json = std::move(fields);
  return e;
}

std::optional<std::string> peek_command_id(std::string_view payload) {
  if (payload.size() > limits::k_max_payload_bytes) return std::nullopt;
  auto root = parse_json(payload);
  if (!root || !cJSON_IsObject(root->get())) return std::nullopt;
  auto id = json_string(root->get(), "id");
  if (!id || !valid_command_id(*id)) return std::nullopt;
  return id;
}

}  // namespace aterm::common::protocol
