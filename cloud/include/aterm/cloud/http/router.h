// Method + path pattern routing. Patterns are absolute paths whose segments are literals or
// {name} (one non-empty segment, percent-decoded into request::params). A path no pattern
// matches answers 404 {"error":"not_found"}; a path that matches with another method answers
// 405 {"error":"method_not_allowed"} with an Allow header. Routes are added before the server
// starts; dispatch() is then safe to call from any number of threads at once.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/cloud/http/message.h"

namespace aterm::cloud::http {

class metrics_registry;

using handler = std::function<response(request&)>;

class router {
 public:
  // Counts every dispatched request in `metrics` (aterm_http_requests_total by method, route
  // pattern and status; aterm_http_request_duration_seconds by route) when given.
  explicit router(metrics_registry* metrics = nullptr);

  // REQUIRES: `pattern` starts with '/', no route with the same method and pattern yet.
  void add(std::string method, std::string pattern, handler h);
  // Runs for GET and HEAD requests no route matches (the dashboard's static files). Its
  // request::route is "static".
  void set_fallback(handler h);

  // Parses the target (path, query, cookies), finds the route and runs its handler. A handler
  // that throws answers 500 {"error":"internal"} (logged without the request body).
  response dispatch(request& req) const;

 private:
  struct route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" marks a parameter
    handler fn;
  };
  response run(request& req) const;
  static bool match(const route& r, const std::vector<std::string_view>& segments, request& req);

  metrics_registry* metrics_;
  std::vector<route> routes_;
  handler fallback_;
};

}  // namespace aterm::cloud::http
