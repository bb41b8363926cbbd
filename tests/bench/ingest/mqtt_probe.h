// A minimal MQTT client of the ingest benchmark on Paho C's async API: mutual TLS with one of the
// dev PKI's extra cloud identities (scripts/dev-pki cloud DIR aterm-cloud-NAME), QoS 1
// subscriptions, fire-and-forget QoS 1 publishes. It adds nothing on the receive path: the
// handler runs on Paho's receive thread and the message is freed after it returns, so a
// counting handler measures what a do-nothing subscriber receives.
//
// Thread: construct, subscribe() and publish() from one thread; `on_message` runs on Paho's
// receive thread (one per process, shared by every client in it).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace aterm::bench {

struct mqtt_identity {
  std::string uri;  // ssl://127.0.0.1:PORT
  std::string ca;
  std::string cert;
  std::string key;
  std::string client_id;  // the certificate's CN (the broker uses it as client id anyway)
};

class mqtt_probe {
 public:
  using handler = std::function<void(std::string_view topic, std::string_view payload)>;

  // Connects (clean session); throws std::runtime_error when it cannot within 30 s.
  mqtt_probe(const mqtt_identity& id, handler on_message);
  ~mqtt_probe();
  mqtt_probe(const mqtt_probe&) = delete;
  mqtt_probe& operator=(const mqtt_probe&) = delete;

  // Subscribes at QoS 1 and waits for the SUBACK; throws on refusal.
  void subscribe(const std::vector<std::string>& filters);
  // Queues a QoS 1 publish (not retained) without waiting for the PUBACK; throws when Paho
  // refuses to queue it.
  void publish(const std::string& topic, const std::string& payload);
  bool connected() const;

 private:
  struct state;
  state* s_;
};

}  // namespace aterm::bench
