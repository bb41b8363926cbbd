// The agent's MQTT client: one TLS 1.2 MQTT 3.1.1 session with the device certificate, the
// broker certificate always verified against the configured CA and its name against the host of
// the URI, clean session off, QoS 1, a retained Last Will, no automatic reconnect (router_agent
// owns the backoff). Written on mbedTLS (src/mqtt/) so the router carries no MQTT or OpenSSL
// library; failures become status values.
// Threads: the methods are called from the agent thread. Each session has one I/O thread of its
// own that sleeps in poll() until the socket, the agent or the keepalive needs it; the handlers
// run on that thread and must only enqueue (post to the event_loop). They may run until the link
// is destroyed. When a session ends every publish not yet acknowledged is reported failed
// (published(tag, false)), before `lost`; the outbox sends those again on the next connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "aterm/common/status.h"

namespace aterm::agent {

struct mqtt_link_settings {
  std::string uri;             // broker.uri, ssl://host:port
  std::string client_id;       // the device id (the broker also maps it from the certificate CN)
  std::string ca;              // broker.ca
  std::string cert;            // broker.cert
  std::string key;             // broker.key
  int keepalive_s = 60;        // Default: 60 s (keepalive_s).
  int connect_timeout_s = 30;  // Default: 30 s (connect_timeout_s).
  std::string will_topic;
  std::string will_payload;
};

struct mqtt_link_handlers {
  std::function<void()> connected;
  std::function<void(std::string cause)> connect_failed;
  std::function<void(std::string cause)> lost;
  std::function<void(std::string topic, std::string payload)> message;
  // A QoS 1 publish was acknowledged (ok) or failed (!ok); `tag` is what publish() was given.
  std::function<void(std::uint64_t tag, bool ok)> published;
};

class mqtt_link {
 public:
  // Errors: "mqtt" when the URI is not ssl://host:port or a field is beyond MQTT's bounds.
  static common::result<std::unique_ptr<mqtt_link>> create(mqtt_link_settings s,
                                                           mqtt_link_handlers h);
  ~mqtt_link();
  mqtt_link(const mqtt_link&) = delete;
  mqtt_link& operator=(const mqtt_link&) = delete;

  // Starts an asynchronous connect (TCP, TLS, CONNECT/CONNACK within connect_timeout_s); the
  // outcome arrives through connected / connect_failed. Errors: "mqtt" while a session is up.
  common::status connect();
  common::status subscribe(const std::string& topic);
  // QoS 1. `tag` comes back through `published`. Errors: "mqtt" when not connected or the send
  // queue is full (limits.h).
  common::status publish(const std::string& topic, const std::string& payload, bool retained,
                         std::uint64_t tag);
  // Sends DISCONNECT (so the broker keeps the Last Will back), waiting up to `wait` for it to go
  // out, and ends the session; no `lost` follows.
  void disconnect(std::chrono::milliseconds wait);
  bool is_connected() const;

 private:
  struct impl;
  explicit mqtt_link(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace aterm::agent
