// The HTTPS server of aterm-cloud (Boost.Beast over Asio SSL, OpenSSL): TLS 1.2 and later only,
// `io_threads` threads running the sockets with a strand per connection, and a separate pool of
// `worker_threads` that runs the router (handlers may block: a login verifies PBKDF2 for up to
// 0.7 s). A handler's response is posted back to its connection's strand for writing, so no
// I/O thread ever runs a handler.
//
// Per connection: the TLS handshake must end within `handshake_timeout` and the request headers
// arrive within `header_timeout`, the body within `body_timeout` (else the connection is
// closed); headers over 8 KiB answer 431, a body over `body_limit` answers 413, both closing.
// Keep-alive connections wait `idle_timeout` for the next request. A handler may answer later
// (response::deferred): its connection then waits without holding a worker.
//
// Connections are capped in total (limits::k_max_connections, lowered at start to fit under
// RLIMIT_NOFILE after raising its soft limit as far as the hard one allows) and per client
// address (an IPv6 /64): `max_connections_per_address` open and `max_handshakes_per_address`
// still in the TLS handshake; one over a cap is accepted and closed at once. An accept error
// (descriptors exhausted) sheds the waiting connection with a reserve descriptor, waits before
// accepting again (10 ms doubling to 1 s) and is logged at most once per 10 s with a count.
//
// Thread-safety: start() and stop() are called from one controlling thread; the destructor
// stops. Beast and Asio exceptions never leave this class; failures are status values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "aterm/cloud/http/limits.h"
#include "aterm/cloud/security/ip_allowlist.h"
#include "aterm/common/config.h"
#include "aterm/common/status.h"

namespace aterm::cloud::http {

class router;
class metrics_registry;
namespace detail {
struct server_state;
}

// Default of http.metrics_listen: /metrics on loopback, on a port of its own (Prometheus'
// registry lists 9464 for exporters; nothing of the product uses it).
inline constexpr std::string_view k_default_metrics_listen = "127.0.0.1:9464";

// Decides the client address from the TCP peer and the X-Forwarded-For header ("" when
// absent). Thread-safe; called on worker threads.
using client_address_fn =
    std::function<std::string(std::string_view peer, std::string_view forwarded_for)>;

struct server_settings {
  std::string host = "127.0.0.1";                         // http.listen host part
  std::uint16_t port = 8443;                              // 0: any free port (see server::port())
  std::string cert_file;                                  // http.cert (PEM chain)
  std::string key_file;                                   // http.key (PEM)
  std::size_t io_threads = 2;                             // http.io_threads. Default: 2.
  std::size_t worker_threads = 4;                         // http.worker_threads. Default: 4.
  std::size_t body_limit = limits::k_default_body_limit;  // http.body_limit. Default: 1 MiB.
  std::chrono::milliseconds handshake_timeout{5'000};  // http.handshake_timeout_ms. Default: 5 s.
  std::chrono::milliseconds header_timeout{10'000};    // http.header_timeout_ms. Default: 10 s.
  std::chrono::milliseconds body_timeout{30'000};      // http.body_timeout_ms. Default: 30 s.
  std::chrono::milliseconds idle_timeout{60'000};      // http.idle_timeout_ms. Default: 60 s.
  std::chrono::milliseconds write_timeout{30'000};     // Default: 30 s.
  std::chrono::milliseconds stop_timeout{10'000};      // in-flight grace at stop(). Default: 10 s.
  // http.max_connections_per_address. Default: 256.
  std::size_t max_connections_per_address = limits::k_default_connections_per_address;
  // http.max_handshakes_per_address. Default: 32.
  std::size_t max_handshakes_per_address = limits::k_default_handshakes_per_address;
  // Default (empty): the TCP peer, no proxy trusted. server_settings_from() sets
  // trusted_proxy_client_address(http.trusted_proxies).
  client_address_fn client_address;
};

// The configuration keys of the HTTPS server (DESIGN.md section 7 plus http.static_dir,
// http.body_limit, http.io_threads, http.worker_threads, the timeouts, the per-address caps,
// http.public_origin and http.metrics_listen), with defaults, for the daemon's schema.
common::config_schema server_config_keys();
// Settings from a configuration loaded with server_config_keys(). Error "config_bad_value" when
// http.listen is not "host:port" / "[v6]:port".
common::result<server_settings> server_settings_from(const common::config& c);
// The client address behind `trusted_proxies` (security::client_address): the peer unless it is
// a trusted proxy, then the right-most untrusted X-Forwarded-For hop; "" (the server answers
// 400) for a malformed header from a trusted proxy.
client_address_fn trusted_proxy_client_address(security::ip_allowlist trusted_proxies);
// The dashboard's folder: http.static_dir, default the source tree's cloud/web.
std::string static_dir_from(const common::config& c);
// Splits "host:port", "[::1]:8443". Error "bad_listen".
common::result<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view listen);

class server {
 public:
  // `r` and `metrics` must outlive the server.
  server(server_settings settings, const router& r, metrics_registry& metrics);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Loads the certificate and key, binds and starts the threads. Errors: "tls_config" (files
  // unreadable or not matching), "listen" (bind failed), "state" (already started).
  common::status start();
  // The bound port (useful with settings.port == 0). REQUIRES: start() succeeded.
  std::uint16_t port() const;
  // The connection cap chosen at start (limits::k_max_connections or less, see above).
  // REQUIRES: start() succeeded.
  std::size_t max_connections() const;
  // Stops accepting, closes idle connections, lets in-flight requests finish and answer (with
  // Connection: close) for up to stop_timeout, then closes the rest and joins every thread.
  // Idempotent.
  void stop();

 private:
  std::unique_ptr<detail::server_state> impl_;
};

}  // namespace aterm::cloud::http
