#include "aterm/cloud/http/message.h"

#include <algorithm>
#include <cassert>
#include <cctype>

#include "aterm/cloud/http/limits.h"

namespace aterm::cloud::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

const std::string* request::header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? nullptr : &it->second;
}

std::optional<std::string> request::query_value(std::string_view name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> request::cookie(std::string_view name) const {
  auto it = cookies.find(name);
  if (it == cookies.end()) return std::nullopt;
  return it->second;
}

const std::string& request::param(std::string_view name) const {
  auto it = params.find(name);
  assert(it != params.end() && "route pattern has no such parameter");
  return it->second;
}

common::result<common::json_ptr> request::json_body() const {
  common::json_limits l;
  l.max_bytes = limits::k_default_body_limit;
  l.max_depth = limits::k_max_body_json_depth;
  return common::parse_json(body, l);
}

void response::set_header(std::string name, std::string value) {
  if (!iequals(name, "set-cookie")) {
    for (auto& [n, v] : headers) {
      if (iequals(n, name)) {
        v = std::move(value);
        return;
      }
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

const std::string* response::find_header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return &v;
  }
  return nullptr;
}

bool is_json_media_type(std::string_view content_type) {
  auto type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return iequals(type, "application/json");
}

response error_response(unsigned status, std::string_view code, std::string_view message) {
  return error_response(status, code, message, {});
}

response error_response(unsigned status, std::string_view code, std::string_view message,
                        std::initializer_list<error_detail> details) {
  common::json_ptr body(cJSON_CreateObject());
  cJSON_AddStringToObject(body.get(), "error", std::string(code).c_str());
  cJSON_AddStringToObject(body.get(), "message", std::string(message).c_str());
  for (const auto& d : details) {
    if (const auto* n = std::get_if<std::int64_t>(&d.value)) {
      cJSON_AddNumberToObject(body.get(), d.key, static_cast<double>(*n));
    } else {
      cJSON_AddStringToObject(body.get(), d.key, std::get<std::string>(d.value).c_str());
    }
  }
  return json_response(status, body.get());
}

response json_response(unsigned status, const cJSON* body) {
  response res;
  res.status = status;
  res.body = common::print_json(body);
  return res;
}

std::string session_cookie(std::string_view token) {
  return std::string(k_session_cookie) + "=" + std::string(token) +
         "; HttpOnly; Secure; SameSite=Strict; Path=/";
}

std::string expired_session_cookie() {
  return std::string(k_session_cookie) + "=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0";
}

void add_security_headers(response& res) {
  res.set_header("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                 "form-action 'self'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
  if (res.find_header("Cache-Control") == nullptr) res.set_header("Cache-Control", "no-store");
}

common::result<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) {
        return common::status::error("bad_encoding", "truncated percent escape");
      }
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return common::status::error("bad_encoding", "bad percent escape");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  if (out.find('\0') != std::string::npos) {
    return common::status::error("bad_encoding", "NUL in decoded text");
  }
  if (!common::valid_utf8(out)) return common::status::error("bad_encoding", "invalid UTF-8");
  return out;
}

common::result<std::map<std::string, std::string, std::less<>>> parse_query(std::string_view q) {
  std::map<std::string, std::string, std::less<>> out;
  std::size_t pairs = 0;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    if (++pairs > limits::k_max_query_params) {
      return common::status::error("bad_query", "too many query parameters");
    }
    auto eq = part.find('=');
    auto name = percent_decode(part.substr(0, eq), true);
    auto value = percent_decode(
        eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), true);
    if (!name.ok() || !value.ok()) {
      return common::status::error("bad_query", "malformed query parameter");
    }
    out.emplace(std::move(name).value(), std::move(value).value());
  }
  return out;
}

std::map<std::string, std::string, std::less<>> parse_cookies(std::string_view header) {
  std::map<std::string, std::string, std::less<>> out;
  std::size_t seen = 0;
  while (!header.empty() && seen < limits::k_max_cookies) {
    auto semi = header.find(';');
    std::string_view part = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    auto eq = part.find('=');
    if (part.empty() || eq == std::string_view::npos || eq == 0) continue;
    ++seen;
    std::string_view value = trim(part.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    out.emplace(std::string(trim(part.substr(0, eq))), std::string(value));
  }
  return out;
}

}  // namespace aterm::cloud::http
