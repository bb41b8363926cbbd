#include "aterm/cloud/http/router.h"

#include <cassert>
#include <chrono>
#include <cstdio>
#include <exception>

#include "aterm/cloud/http/limits.h"
#include "aterm/cloud/http/metrics.h"
#include "aterm/common/log.h"

namespace aterm::cloud::http {

namespace {

// Splits "/a/b/c" into {"a","b","c"}; "/" gives {}. A trailing slash gives an empty last
// segment, so "/api/v1/devices/" does not match "/api/v1/devices".
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path == "/") return out;
  path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Methods are client input; only known ones become label values.
std::string method_label(std::string_view m) {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (m == known) return std::string(known);
  }
  return "other";
}

// The server's own time for the request (W3C Server Timing, in milliseconds): a client, a
// browser's developer tools or bench_api tell it apart from the network's and TLS's share of a
// round trip. It says no more than the client can time itself.
void set_server_timing(response& res, std::chrono::steady_clock::time_point started) {
  std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - started;
  char value[48];
  std::snprintf(value, sizeof value, "app;dur=%.3f", took.count());
  res.set_header("Server-Timing", value);
}

void count_request(metrics_registry& m, const std::string& method, const std::string& route,
                   unsigned status, std::chrono::steady_clock::time_point started) {
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  m.get_counter("aterm_http_requests_total", "HTTP requests by method, route and status",
                {{"method", method}, {"route", route}, {"status", std::to_string(status)}})
      .inc();
  m.get_histogram("aterm_http_request_duration_seconds", "Time from dispatch to response, by route",
                  {{"route", route}})
      .observe(took.count());
}

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

router::router(metrics_registry* metrics) : metrics_(metrics) {}

void router::add(std::string method, std::string pattern, handler h) {
  assert(!pattern.empty() && pattern.front() == '/');
  for ([[maybe_unused]] const auto& r : routes_) {
    assert(!(r.method == method && r.pattern == pattern) && "duplicate route");
  }
  route r;
  r.method = std::move(method);
  r.pattern = std::move(pattern);
  for (auto s : split_path(r.pattern)) r.segments.emplace_back(s);
  r.fn = std::move(h);
  routes_.push_back(std::move(r));
}

void router::set_fallback(handler h) {
  fallback_ = std::move(h);
}

bool router::match(const route& r, const std::vector<std::string_view>& segments, request& req) {
  if (r.segments.size() != segments.size()) return false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (is_param(r.segments[i])) {
      if (segments[i].empty()) return false;
    } else if (r.segments[i] != segments[i]) {
      return false;
    }
  }
  req.params.clear();
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (!is_param(r.segments[i])) continue;
    auto decoded = percent_decode(segments[i], false);
    // An undecodable or slash-carrying parameter can name nothing; it gets the same 404 as
    // an unknown id would.
    if (!decoded.ok() || decoded->find('/') != std::string::npos) return false;
    req.params.emplace(r.segments[i].substr(1, r.segments[i].size() - 2), std::move(*decoded));
  }
  return true;
}

response router::run(request& req) const {
  auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (req.path.empty() || req.path.front() != '/') {
    req.route = "invalid";
    return error_response(400, "bad_request", "request target must be an absolute path");
  }
  if (q != std::string::npos) {
    auto parsed = parse_query(std::string_view(req.target).substr(q + 1));
    if (!parsed.ok()) {
      req.route = "invalid";
      return error_response(400, "bad_query", parsed.error().message());
    }
    req.query = std::move(*parsed);
  }
  if (const auto* c = req.header("cookie")) req.cookies = parse_cookies(*c);

  auto segments = split_path(req.path);
  if (segments.size() > limits::k_max_path_segments) {
    req.route = "unmatched";
    return error_response(404, "not_found", "no such resource");
  }
  std::string allow;
  for (const auto& r : routes_) {
    if (!match(r, segments, req)) continue;
    if (r.method == req.method) {
      req.route = r.pattern;
      return r.fn(req);
    }
    if (!allow.empty()) allow += ", ";
    allow += r.method;
  }
  if (!allow.empty()) {
    req.route = "method_not_allowed";
    auto res = error_response(405, "method_not_allowed", "method not allowed on this resource");
    res.set_header("Allow", allow);
    return res;
  }
  if (fallback_ && (req.method == "GET" || req.method == "HEAD")) {
    req.route = "static";
    return fallback_(req);
  }
  req.route = "unmatched";
  return error_response(404, "not_found", "no such resource");
}

response router::dispatch(request& req) const {
  auto started = std::chrono::steady_clock::now();
  response res;
  try {
    res = run(req);
  } catch (const std::exception& e) {
    common::log(common::log_level::error, "http", "handler failed",
                {{"route", req.route}, {"method", req.method}, {"what", e.what()}});
    res = error_response(500, "internal", "internal error");
  }
  if (res.deferred) {
    // Timed and counted when the answer is known: wrap the responder the server hands over.
    res.deferred = [inner = std::move(res.deferred), m = metrics_,
                    method = method_label(req.method), route = req.route, started](responder done) {
      inner([m, method, route, started, done = std::move(done)](response out) {
        set_server_timing(out, started);
        if (m != nullptr) count_request(*m, method, route, out.status, started);
        done(std::move(out));
      });
    };
    return res;
  }
  set_server_timing(res, started);
  if (metrics_ != nullptr) {
    count_request(*metrics_, method_label(req.method), req.route, res.status, started);
  }
  return res;
}

}  // namespace aterm::cloud::http
