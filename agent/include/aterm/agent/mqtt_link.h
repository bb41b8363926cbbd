// The adapter around Paho MQTT C++ (issue 3): one TLS MQTT 3.1.1 session with the device
// certificate, the broker certificate always verified against the configured CA, clean session
// off, QoS 1, a retained Last Will, Paho's automatic reconnect off (router_agent owns the
// backoff). Paho exceptions stop here and become status values.
// Threads: the methods are called from the agent thread. The handlers run on Paho's threads and
// must only enqueue (post to the event_loop); they may run until the link is destroyed.
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
  // Errors: "mqtt" when Paho refuses the URI or client id.
  static common::result<std::unique_ptr<mqtt_link>> create(mqtt_link_settings s,
                                                           mqtt_link_handlers h);
  ~mqtt_link();
  mqtt_link(const mqtt_link&) = delete;
  mqtt_link& operator=(const mqtt_link&) = delete;

  // Starts an asynchronous connect; the outcome arrives through connected / connect_failed.
  common::status connect();
  common::status subscribe(const std::string& topic);
  // QoS 1. `tag` comes back through `published`.
  common::status publish(const std::string& topic, const std::string& payload, bool retained,
                         std::uint64_t tag);
  // Disconnects; waits up to `wait` for the DISCONNECT to go out (0 = do not wait).
  void disconnect(std::chrono::milliseconds wait);
  bool is_connected() const;
  // The broker port of the URI (for TCP_NODELAY), or -1.
  int port() const;

 private:
  struct impl;
  explicit mqtt_link(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace aterm::agent
