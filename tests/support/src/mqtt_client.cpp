#include "aterm/test/mqtt_client.h"

#include <chrono>

#include "aterm/test/support.h"

namespace aterm::test {

mqtt_client::mqtt_client(const std::string& uri, const std::string& client_id,
                         const std::filesystem::path& ca, std::optional<mqtt_identity> id,
                         int mqtt_version)
    : cli_(uri, client_id) {
  auto ssl = mqtt::ssl_options_builder().trust_store(ca.string()).enable_server_cert_auth(true);
  if (id) ssl.key_store(id->cert.string()).private_key(id->key.string());
  opts_ = mqtt::connect_options_builder()
              .mqtt_version(mqtt_version)
              .clean_session(mqtt_version != MQTTVERSION_5)
              .clean_start(mqtt_version == MQTTVERSION_5)
              .connect_timeout(std::chrono::seconds(5))
              .keep_alive_interval(std::chrono::seconds(30))
              .ssl(ssl.finalize())
              .finalize();
  cli_.set_message_callback([this](mqtt::const_message_ptr m) {
    std::lock_guard lock(mutex_);
    messages_.emplace_back(m->get_topic(), m->to_string());
  });
  cli_.set_connection_lost_handler([this](const std::string&) { lost_ = true; });
}

mqtt_client::~mqtt_client() {
  try {
    if (cli_.is_connected()) cli_.disconnect()->wait_for(std::chrono::seconds(5));
  } catch (const mqtt::exception&) {
  }
}

bool mqtt_client::connect() {
  try {
    return cli_.connect(opts_)->wait_for(std::chrono::seconds(10)) && cli_.is_connected();
  } catch (const mqtt::exception&) {
    return false;
  }
}

bool mqtt_client::subscribe(const std::string& filter) {
  try {
    return cli_.subscribe(filter, 1)->wait_for(std::chrono::seconds(10));
  } catch (const mqtt::exception&) {
    return false;
  }
}

bool mqtt_client::publish(const std::string& topic_name, const std::string& payload, bool retain) {
  try {
    return cli_.publish(topic_name, payload.data(), payload.size(), 1, retain)
        ->wait_for(std::chrono::seconds(10));
  } catch (const mqtt::exception&) {
    return false;
  }
}

std::size_t mqtt_client::count(const std::string& topic_name, const std::string& payload) const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [t, p] : messages_) n += t == topic_name && (payload.empty() || p == payload);
  return n;
}

bool mqtt_client::wait_for(const std::string& topic_name, const std::string& payload) const {
  return wait_until([&] { return has(topic_name, payload); }, std::chrono::seconds(20));
}

std::size_t mqtt_client::count_payload(const std::string& payload) const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [t, p] : messages_) n += p == payload;
  return n;
}

}  // namespace aterm::test
