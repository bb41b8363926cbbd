#include "aterm/common/config.h"

#include <cassert>
#include <fstream>
#include <sstream>

#include "aterm/common/json.h"
#include "aterm/common/limits.h"

namespace aterm::common {

namespace {

status config_error(std::string code, std::string_view source, const std::string& what) {
  return status::error(std::move(code), std::string(source) + ": " + what);
}

std::string quoted(std::string_view key) {
  return "\"" + std::string(key) + "\"";
}

// Flattens nested objects into dotted keys; a key reached twice (nested and dotted) is an error.
status flatten(const cJSON* obj, const std::string& prefix, std::string_view source,
               std::map<std::string, const cJSON*, std::less<>>& out) {
  for (const cJSON* c = obj->child; c != nullptr; c = c->next) {
    const std::string key = prefix + (c->string ? c->string : "");
    if (cJSON_IsObject(c)) {
      if (auto s = flatten(c, key + ".", source, out); !s.ok()) return s;
      continue;
    }
    if (!out.emplace(key, c).second) {
      return config_error("config_syntax", source, "key " + quoted(key) + " given twice");
    }
  }
  return {};
}

const char* type_name(config_type t) {
  switch (t) {
    case config_type::string:
      return "a string";
    case config_type::integer:
      return "an integer";
    case config_type::number:
      return "a number";
    case config_type::boolean:
      return "a boolean";
    case config_type::string_list:
      return "a list of strings";
  }
  return "?";
}

std::optional<config_value> convert(const cJSON* node, config_type type) {
  switch (type) {
    case config_type::string:
      if (cJSON_IsString(node) && node->valuestring) return std::string(node->valuestring);
      return std::nullopt;
    case config_type::integer:
      if (json_is_integer(node)) return static_cast<std::int64_t>(node->valuedouble);
      return std::nullopt;
    case config_type::number:
      if (cJSON_IsNumber(node)) return node->valuedouble;
      return std::nullopt;
    case config_type::boolean:
      if (cJSON_IsBool(node)) return cJSON_IsTrue(node) != 0;
      return std::nullopt;
    case config_type::string_list: {
      if (!cJSON_IsArray(node)) return std::nullopt;
      std::vector<std::string> list;
      for (const cJSON* c = node->child; c != nullptr; c = c->next) {
        if (!cJSON_IsString(c) || c->valuestring == nullptr) return std::nullopt;
        list.emplace_back(c->valuestring);
      }
      return list;
    }
  }
  return std::nullopt;
}

const config_value& lookup(const std::map<std::string, config_value, std::less<>>& values,
                           std::string_view key) {
  const auto it = values.find(key);
  assert(it != values.end() && "config: key not set and without default");
  return it->second;
}

}  // namespace

bool config::has(std::string_view key) const {
  return values_.find(key) != values_.end();
}

const std::string& config::get_string(std::string_view key) const {
  const auto* v = std::get_if<std::string>(&lookup(values_, key));
  assert(v != nullptr && "config: not a string key");
  return *v;
}

std::int64_t config::get_int(std::string_view key) const {
  const auto* v = std::get_if<std::int64_t>(&lookup(values_, key));
  assert(v != nullptr && "config: not an integer key");
  return *v;
}

double config::get_number(std::string_view key) const {
  const config_value& v = lookup(values_, key);
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  const auto* d = std::get_if<double>(&v);
  assert(d != nullptr && "config: not a number key");
  return *d;
}

bool config::get_bool(std::string_view key) const {
  const auto* v = std::get_if<bool>(&lookup(values_, key));
  assert(v != nullptr && "config: not a boolean key");
  return *v;
}

const std::vector<std::string>& config::get_list(std::string_view key) const {
  const auto* v = std::get_if<std::vector<std::string>>(&lookup(values_, key));
  assert(v != nullptr && "config: not a string list key");
  return *v;
}

result<config> parse_config(std::string_view text, std::string_view source_name,
                            const config_schema& schema) {
  auto root = parse_json(text, {limits::k_max_config_bytes, limits::k_max_config_depth});
  if (!root) return config_error("config_syntax", source_name, root.error().message());
  if (!cJSON_IsObject(root->get())) {
    return config_error("config_syntax", source_name, "the top level must be a JSON object");
  }
  std::map<std::string, const cJSON*, std::less<>> given;
  if (auto s = flatten(root->get(), "", source_name, given); !s.ok()) return s;

  std::map<std::string_view, const config_key*> by_name;
  for (const config_key& k : schema) by_name.emplace(k.name, &k);

  config cfg;
  cfg.source_ = std::string(source_name);
  for (const auto& [key, node] : given) {
    const auto it = by_name.find(key);
    if (it == by_name.end()) {
      return config_error("config_unknown_key", source_name, "unknown key " + quoted(key));
    }
    const config_key& k = *it->second;
    auto value = convert(node, k.type);
    if (!value) {
      return config_error("config_wrong_type", source_name,
                          "key " + quoted(key) + " must be " + type_name(k.type));
    }
    if (const auto* i = std::get_if<std::int64_t>(&*value)) {
      if ((k.min && *i < *k.min) || (k.max && *i > *k.max)) {
        std::string range = "[" + (k.min ? std::to_string(*k.min) : std::string("-inf")) + ", " +
                            (k.max ? std::to_string(*k.max) : std::string("inf")) + "]";
        return config_error("config_out_of_range", source_name,
                            "key " + quoted(key) + " must be in " + range);
      }
    }
    cfg.values_.emplace(key, std::move(*value));
  }
  for (const config_key& k : schema) {
    if (cfg.values_.find(k.name) != cfg.values_.end()) continue;
    if (k.required) {
      return config_error("config_missing_key", source_name, "missing key " + quoted(k.name));
    }
    if (!std::holds_alternative<std::monostate>(k.fallback)) {
      config_value v = k.fallback;
      if (k.type == config_type::number) {
        if (const auto* i = std::get_if<std::int64_t>(&v)) v = static_cast<double>(*i);
      }
      cfg.values_.emplace(k.name, std::move(v));
    }
  }
  return cfg;
}

result<config> load_config(const std::string& path, const config_schema& schema) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return config_error("config_io", path, "cannot open the file");
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > limits::k_max_config_bytes) {
      return config_error("config_syntax", path, "file larger than the configuration limit");
    }
  }
  if (in.bad()) return config_error("config_io", path, "read error");
  return parse_config(text, path, schema);
}

}  // namespace aterm::common
