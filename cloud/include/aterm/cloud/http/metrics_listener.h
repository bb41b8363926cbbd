// The listener of GET /metrics (and GET /healthz), apart from the public HTTPS one
// (http.metrics_listen, default 127.0.0.1:9464): the counters say how logins end by outcome, so
// they are readable only by whoever reaches this address. Plain HTTP: the default listens on
// loopback only, where only the machine's own processes (the scraper) connect; bind it to
// another address only on a network reserved for monitoring.
//
// One I/O thread; a connection gets one request (headers within `header_timeout`), its answer
// and is closed; at most limits::k_max_metrics_connections at once, more are closed at accept.
// Handlers run on the I/O thread, so the router given must hold fast routes only.
//
// Thread-safety: start() and stop() from one controlling thread; the destructor stops.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "aterm/common/config.h"
#include "aterm/common/status.h"

namespace aterm::cloud::http {

class router;

struct metrics_listener_settings {
  // http.metrics_listen host and port; port 0: any free port. Empty host: no listener.
  std::string host = "127.0.0.1";
  std::uint16_t port = 9464;
  std::chrono::milliseconds header_timeout{10'000};  // http.header_timeout_ms. Default: 10 s.
};

// From http.metrics_listen ("host:port", or "" for none). Error "config_bad_value".
common::result<metrics_listener_settings> metrics_listener_settings_from(const common::config& c);

class metrics_listener {
 public:
  // `r` must outlive the listener.
  metrics_listener(metrics_listener_settings settings, const router& r);
  ~metrics_listener();
  metrics_listener(const metrics_listener&) = delete;
  metrics_listener& operator=(const metrics_listener&) = delete;

  // Binds and starts the thread; does nothing for an empty host. Error "listen".
  common::status start();
  // The bound port; 0 when not listening.
  std::uint16_t port() const;
  // Closes the listener and every connection and joins. Idempotent.
  void stop();

  struct state;  // the implementation's

 private:
  std::unique_ptr<state> impl_;
};

}  // namespace aterm::cloud::http
