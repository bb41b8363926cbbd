#include "aterm/agent/mqtt_link.h"

#include <mqtt/async_client.h>

namespace aterm::agent {

using common::status;

namespace {

class connect_listener final : public mqtt::iaction_listener {
 public:
  explicit connect_listener(const mqtt_link_handlers& h) : h_(h) {}
  void on_success(const mqtt::token&) override {
    if (h_.connected) h_.connected();
  }
  void on_failure(const mqtt::token& tok) override {
    if (h_.connect_failed)
      h_.connect_failed("connect failed, code " + std::to_string(tok.get_return_code()));
  }

 private:
  const mqtt_link_handlers& h_;
};

class publish_listener final : public mqtt::iaction_listener {
 public:
  explicit publish_listener(const mqtt_link_handlers& h) : h_(h) {}
  void on_success(const mqtt::token& tok) override { report(tok, true); }
  void on_failure(const mqtt::token& tok) override { report(tok, false); }

 private:
  void report(const mqtt::token& tok, bool ok) {
    if (h_.published)
      h_.published(
          static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(tok.get_user_context())), ok);
  }
  const mqtt_link_handlers& h_;
};

class noop_listener final : public mqtt::iaction_listener {
 public:
  void on_success(const mqtt::token&) override {}
  void on_failure(const mqtt::token&) override {}
};

}  // namespace

// Member order is the lifetime contract: everything Paho calls into (this callback object, the
// handlers and the action listeners) is declared before client_, so it is destroyed after it.
// Destroying the client (MQTTAsync_destroy) still fails every operation in flight (an
// unacknowledged publish, a pending connect) synchronously, through its token's listener; with
// the listeners gone first that was a call through a destroyed object's vtable ("pure virtual
// method called" at the end of `simulate` after SIGTERM).
struct mqtt_link::impl final : public mqtt::callback {
  impl(mqtt_link_settings s, mqtt_link_handlers h)
      : s_(std::move(s)),
        h_(std::move(h)),
        connect_l_(h_),
        publish_l_(h_),
        client_(s_.uri, s_.client_id, nullptr) {  // no Paho persistence: the outbox is ours
    client_.set_callback(*this);
  }
  ~impl() override {
    try {
      client_.disable_callbacks();
    } catch (const mqtt::exception&) {
    }
  }
  void connection_lost(const std::string& cause) override {
    if (h_.lost) h_.lost(cause);
  }
  void message_arrived(mqtt::const_message_ptr msg) override {
    if (h_.message) h_.message(msg->get_topic(), msg->get_payload_str());
  }

  mqtt_link_settings s_;
  mqtt_link_handlers h_;
  connect_listener connect_l_;
  publish_listener publish_l_;
  noop_listener noop_l_;
  mqtt::async_client client_;  // last: destroyed first (see above)
};

mqtt_link::mqtt_link(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
mqtt_link::~mqtt_link() = default;

common::result<std::unique_ptr<mqtt_link>> mqtt_link::create(mqtt_link_settings s,
                                                             mqtt_link_handlers h) {
  try {
    auto p = std::make_unique<impl>(std::move(s), std::move(h));
    return std::unique_ptr<mqtt_link>(new mqtt_link(std::move(p)));
  } catch (const mqtt::exception& e) {
    return status::error("mqtt", std::string("cannot create client: ") + e.what());
  }
}

common::status mqtt_link::connect() {
  auto& s = impl_->s_;
  try {
    mqtt::ssl_options ssl;
    ssl.set_trust_store(s.ca);
    ssl.set_key_store(s.cert);
    ssl.set_private_key(s.key);
    ssl.set_enable_server_cert_auth(true);  // never switched off
    ssl.set_verify(true);                   // and the host name must match
    ssl.set_ssl_version(MQTT_SSL_VERSION_TLS_1_2);
    mqtt::connect_options opts;
    opts.set_ssl(std::move(ssl));
    opts.set_clean_session(false);
    opts.set_keep_alive_interval(s.keepalive_s);
    opts.set_connect_timeout(s.connect_timeout_s);
    opts.set_automatic_reconnect(false);
    opts.set_max_inflight(64);
    opts.set_mqtt_version(MQTTVERSION_3_1_1);
    opts.set_will(mqtt::will_options(s.will_topic, s.will_payload, 1, true));
    impl_->client_.connect(std::move(opts), nullptr, impl_->connect_l_);
    return {};
  } catch (const mqtt::exception& e) {
    return status::error("mqtt", std::string("connect: ") + e.what());
  }
}

common::status mqtt_link::subscribe(const std::string& topic) {
  try {
    impl_->client_.subscribe(topic, 1, nullptr, impl_->noop_l_);
    return {};
  } catch (const mqtt::exception& e) {
    return status::error("mqtt", std::string("subscribe: ") + e.what());
  }
}

common::status mqtt_link::publish(const std::string& topic, const std::string& payload,
                                  bool retained, std::uint64_t tag) {
  try {
    impl_->client_.publish(topic, payload.data(), payload.size(), 1, retained,
                           reinterpret_cast<void*>(static_cast<std::uintptr_t>(tag)),
                           impl_->publish_l_);
    return {};
  } catch (const mqtt::exception& e) {
    return status::error("mqtt", std::string("publish: ") + e.what());
  }
}

void mqtt_link::disconnect(std::chrono::milliseconds wait) {
  try {
    auto tok = impl_->client_.disconnect(static_cast<int>(wait.count()));
    if (wait.count() > 0) tok->wait_for(wait + std::chrono::milliseconds(500));
  } catch (const mqtt::exception&) {
    // Already disconnected: nothing to do.
  }
}

bool mqtt_link::is_connected() const {
  return impl_->client_.is_connected();
}

int mqtt_link::port() const {
  const auto& uri = impl_->s_.uri;
  const auto colon = uri.rfind(':');
  if (colon == std::string::npos) return -1;
  try {
    return std::stoi(uri.substr(colon + 1));
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace aterm::agent
