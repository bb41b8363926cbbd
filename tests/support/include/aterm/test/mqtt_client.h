// A Paho MQTT C++ client for tests that records what it receives: the integration tests of the
// broker's security and of identities changing while it runs. Paho's callback thread only
// appends; the test thread reads under the mutex.
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <mqtt/async_client.h>

namespace aterm::test {

// A client certificate and its key (e.g. from dev_pki::device).
struct mqtt_identity {
  std::filesystem::path cert;
  std::filesystem::path key;
};

class mqtt_client {
 public:
  // TLS to `uri`, trusting `ca`; without `id` no client certificate is presented.
  mqtt_client(const std::string& uri, const std::string& client_id, const std::filesystem::path& ca,
              std::optional<mqtt_identity> id, int mqtt_version = MQTTVERSION_3_1_1);
  ~mqtt_client();
  mqtt_client(const mqtt_client&) = delete;
  mqtt_client& operator=(const mqtt_client&) = delete;

  // True when the broker accepted the connection.
  bool connect();
  // True when the broker answered the SUBSCRIBE (granted or not: Mosquitto 2.0 may grant a
  // filter and then deliver nothing the ACL denies).
  bool subscribe(const std::string& filter);
  // True when the QoS 1 flow completed (the broker acknowledged; not that it routed it).
  bool publish(const std::string& topic_name, const std::string& payload, bool retain = false);
  bool connected() const { return cli_.is_connected() && !lost_; }
  bool lost() const { return lost_; }

  // Messages received on `topic_name` (with `payload`, unless it is empty).
  std::size_t count(const std::string& topic_name, const std::string& payload = {}) const;
  bool has(const std::string& topic_name, const std::string& payload) const {
    return count(topic_name, payload) > 0;
  }
  // Waits up to 20 s for a message on `topic_name` with `payload`.
  bool wait_for(const std::string& topic_name, const std::string& payload) const;
  // Messages received whose payload equals `payload`, on any topic.
  std::size_t count_payload(const std::string& payload) const;
  // Messages received on `topic_name`, whatever their payload.
  std::size_t count_topic(const std::string& topic_name) const { return count(topic_name); }

 private:
  mqtt::async_client cli_;
  mqtt::connect_options opts_;
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> messages_;  // topic, payload
  std::atomic<bool> lost_{false};
};

}  // namespace aterm::test
