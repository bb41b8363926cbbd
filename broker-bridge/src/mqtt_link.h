// The bridge's Paho adapter: one async client over mutual TLS, its connection state machine
// (connect, subscribe, TCP_NODELAY, reconnect with jittered exponential backoff) and command
// publishes. Every Paho exception is caught here and turned into a log line and a state.
//
// Neither the CONNACK wait nor the SUBACK wait blocks: maintain() starts them and finishes them
// when Paho's listener reports. A SUBACK is awaited for as long as the connection lives: after a
// broker restart it queues behind every router's reconnect, and giving up on it would only
// reconnect into the same queue with a longer backoff. Only a refused SUBSCRIBE or a lost
// connection is a failure.
//
// Thread: maintain(), publish() and disconnect() belong to the dispatch thread. Paho's
// callbacks call the message sink and the wake function only. connected() is thread-safe.
#pragma once

#include <mqtt/async_client.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "aterm/bridge/bridge.h"
#include "aterm/bridge/dispatcher.h"
#include "aterm/bridge/metrics.h"
#include "aterm/common/clock.h"

namespace aterm::bridge {

class mqtt_link final : public command_publisher {
 public:
  using message_sink = std::function<void(mqtt::const_message_ptr)>;

  // `on_lost` runs on Paho's callback thread when an established connection is lost, after
  // the message sink saw every message received on it.
  mqtt_link(const bridge_config& config, common::clock& clock, bridge_metrics& metrics,
            message_sink on_message, std::function<void()> wake, std::function<void()> on_lost);
  ~mqtt_link() override;

  // Creates the client. Errors: "bad_config" (the URI).
  common::status create();
  // Advances the connection: starts a connect when one is due, subscribes once it completed,
  // finishes when every SUBACK arrived (TCP_NODELAY), notices a lost one. Returns true when the
  // link just came up.
  bool maintain();
  // After maintain() returned true: when the link came up (unix ms) if it follows a lost one
  // and the broker kept no session for the bridge (a restarted broker, or a clean session), so
  // what devices published meanwhile found no subscriber; nullopt otherwise.
  std::optional<std::int64_t> unsubscribed_since() const { return unsubscribed_since_; }
  // How long the dispatch thread may sleep before maintain() has something to do.
  std::chrono::milliseconds idle_for() const;
  // Disconnects (waits up to 2 s) and stops the callbacks.
  void disconnect();

  // Publishes an empty retained message (QoS 1) on each topic, which makes the broker forget
  // the message retained there; does not wait for the acknowledgements. Not connected: nothing.
  void clear_retained(std::span<const std::string> topics);

  bool connected() const override { return up_.load(); }
  std::vector<std::string> publish(std::span<const outbound_command> commands) override;

 private:
  // Wakes the dispatch thread when a CONNACK or a SUBACK arrived (or its request failed).
  class wake_listener final : public mqtt::iaction_listener {
   public:
    explicit wake_listener(std::function<void()>& wake) : wake_(wake) {}
    void on_success(const mqtt::token&) override { wake_(); }
    void on_failure(const mqtt::token&) override { wake_(); }

   private:
    std::function<void()>& wake_;
  };

  enum class phase { idle, connecting, subscribing, up };
  enum class subscribe_outcome { pending, refused, granted };

  // Sets the next attempt after a jittered backoff; `grow` doubles the backoff for the one after.
  void schedule_retry(const std::string& why, bool grow = true);
  // Publishes one window and waits for its PUBACKs; false when any failed (stop there).
  bool publish_window(std::span<const outbound_command> commands,
                      std::vector<std::string>& accepted);
  // Sends one SUBSCRIBE per filter without waiting; false when Paho refused to send one.
  bool start_subscribe();
  subscribe_outcome check_subscribe();
  // The connection is no use (a refused SUBSCRIBE): leave it and retry later.
  void drop_connection(const std::string& why);

  bridge_config config_;
  common::clock& clock_;
  bridge_metrics& metrics_;
  message_sink on_message_;
  std::function<void()> wake_;
  std::function<void()> on_lost_;
  wake_listener listener_;
  std::unique_ptr<mqtt::async_client> client_;
  mqtt::connect_options options_;
  int peer_port_ = 0;

  phase phase_ = phase::idle;
  mqtt::token_ptr connect_token_;
  // While subscribing: one token per filter, the connection's session flag, and when the
  // SUBSCRIBEs went out.
  std::vector<std::pair<std::string, mqtt::token_ptr>> subscribe_tokens_;
  bool session_present_ = false;
  std::int64_t subscribing_ms_ = 0;
  common::mono_time subscribe_started_;
  bool subscribe_slow_logged_ = false;
  common::mono_time next_attempt_;
  common::mono_time connect_started_;
  std::chrono::milliseconds backoff_;
  std::minstd_rand jitter_;
  std::atomic<bool> up_{false};
  std::atomic<bool> lost_{false};
  bool was_up_ = false;  // a connection was up before (the next one follows a loss)
  std::optional<std::int64_t> unsubscribed_since_;
};

}  // namespace aterm::bridge
