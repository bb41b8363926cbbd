// Every limit of the HTTPS server and the API, each with its reason.
#pragma once

#include <cstddef>

namespace aterm::cloud::http::limits {

// Request line plus headers. Browsers send 1-3 KiB; 8 KiB leaves room for cookies and proxies
// while bounding what one connection can make the server hold before it knows the request.
inline constexpr std::size_t k_max_header_bytes = 8 * 1024;
// Default request body limit (http.body_limit): the largest API body (a destination with a
// long device list) is far below it; larger bodies answer 413 before being read.
inline constexpr std::size_t k_default_body_limit = 1024 * 1024;
// JSON bodies are shallow objects; the bound stops stack-exhaustion input.
inline constexpr int k_max_body_json_depth = 16;
// Query strings: the API takes at most a handful of parameters.
inline constexpr std::size_t k_max_query_params = 32;
// Cookies: the dashboard sets one; a browser may carry a few more for the host.
inline constexpr std::size_t k_max_cookies = 32;
// Path segments: the deepest API path has 6 segments; static files are shallow.
inline constexpr std::size_t k_max_path_segments = 16;
// Static files are the dashboard's own assets; bound what one response can read into memory.
inline constexpr std::size_t k_max_static_file_bytes = 8 * 1024 * 1024;
// Connections served at once; more are accepted and closed so descriptors stay available for
// the broker side of the daemon.
inline constexpr std::size_t k_max_connections = 4096;
// Label sets per metric family: labels come from route patterns and status codes, never from
// user input, so the bound only guards against a bug multiplying series.
inline constexpr std::size_t k_max_metric_series = 4096;

}  // namespace aterm::cloud::http::limits
