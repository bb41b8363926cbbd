// Every limit of the HTTPS server and the API, each with its reason.
#pragma once

#include <chrono>
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
// the broker side of the daemon. Lowered at start when the descriptor limit cannot hold it.
inline constexpr std::size_t k_max_connections = 4096;
// Descriptors kept for everything but HTTPS connections (store, broker, logs, listeners,
// mail) when the connection cap is sized under RLIMIT_NOFILE; at most half the limit.
inline constexpr std::size_t k_reserved_descriptors = 256;
// The smallest connection cap a low descriptor limit may leave.
inline constexpr std::size_t k_min_connections = 8;
// Default connections (http.max_connections_per_address) and unfinished TLS handshakes
// (http.max_handshakes_per_address) from one address (an IPv6 /64): an office behind one NAT
// with a few dozen browsers of ~6 connections each fits; one address cannot fill the global
// cap and deny service to another.
inline constexpr std::size_t k_default_connections_per_address = 256;
inline constexpr std::size_t k_default_handshakes_per_address = 32;
// Accept errors (EMFILE and friends): the wait before accepting again doubles from the first
// to the last value, and one log line per interval says how many there were.
inline constexpr std::chrono::milliseconds k_accept_backoff_min{10};
inline constexpr std::chrono::milliseconds k_accept_backoff_max{1000};
inline constexpr std::chrono::seconds k_accept_error_log_interval{10};
// Connections the /metrics listener serves at once: a scraper or two, an operator's curl.
inline constexpr std::size_t k_max_metrics_connections = 16;
// Label sets per metric family: labels come from route patterns and status codes, never from
// user input, so the bound only guards against a bug multiplying series.
inline constexpr std::size_t k_max_metric_series = 4096;

}  // namespace aterm::cloud::http::limits
