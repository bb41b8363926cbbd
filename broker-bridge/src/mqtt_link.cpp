#include "mqtt_link.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "aterm/bridge/limits.h"
#include "aterm/common/log.h"
#include "aterm/common/protocol.h"
#include "aterm/common/tcp_nodelay.h"

namespace aterm::bridge {

namespace protocol = common::protocol;
using common::log_level;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view k_component = "bridge";
constexpr std::string_view k_share_prefix = "$share/aterm-cloud/";
constexpr int k_qos = 1;
constexpr auto k_disconnect_wait = 2s;

// The port of "ssl://host:port" (0 when there is none).
int uri_port(const std::string& uri) {
  auto colon = uri.rfind(':');
  if (colon == std::string::npos) return 0;
  int port = 0;
  const char* first = uri.data() + colon + 1;
  const char* last = uri.data() + uri.size();
  auto [ptr, ec] = std::from_chars(first, last, port);
  if (ec != std::errc{} || ptr != last || port <= 0 || port > 65535) return 0;
  return port;
}

}  // namespace

mqtt_link::mqtt_link(const bridge_config& config, common::clock& clock, bridge_metrics& metrics,
                     message_sink on_message, std::function<void()> wake,
                     std::function<void()> on_lost)
    : config_(config),
      clock_(clock),
      metrics_(metrics),
      on_message_(std::move(on_message)),
      wake_(std::move(wake)),
      on_lost_(std::move(on_lost)),
      listener_(wake_),
      next_attempt_(clock.mono()),
      backoff_(config.reconnect_min),
      jitter_(std::random_device{}()) {}

mqtt_link::~mqtt_link() {
  disconnect();
}

common::status mqtt_link::create() {
  peer_port_ = uri_port(config_.uri);
  if (config_.uri.rfind("ssl://", 0) != 0 || peer_port_ == 0) {
    return common::status::error("bad_config", "mqtt uri must be ssl://host:port");
  }
  try {
    // Paho refuses to queue more than max_buffered_messages commands, connected or not.
    mqtt::create_options create(MQTTVERSION_3_1_1, static_cast<int>(2 * limits::k_publish_window));
    client_ = std::make_unique<mqtt::async_client>(config_.uri, config_.client_id, create);
  } catch (const mqtt::exception& e) {
    return common::status::error("bad_config", std::string("mqtt client: ") + e.what());
  }
  mqtt::ssl_options ssl;
  ssl.set_trust_store(config_.ca);
  ssl.set_key_store(config_.cert);
  ssl.set_private_key(config_.key);
  ssl.set_enable_server_cert_auth(true);
  ssl.set_verify(true);  // the broker's name must match its certificate
  ssl.set_error_handler([](const std::string& msg) {
    common::log(log_level::warn, k_component, "mqtt tls error", {{"error", msg}});
  });
  options_.set_ssl(std::move(ssl));
  // Shared: a clean session, so none of the group's messages wait for this instance once it is
  // gone (bridge.h).
  options_.set_clean_session(config_.shared_subscription);
  options_.set_mqtt_version(MQTTVERSION_3_1_1);
  options_.set_keep_alive_interval(config_.keep_alive);
  options_.set_connect_timeout(config_.connect_timeout);
  // Reconnects are ours (maintain()), so the first connect and later ones share one path.
  options_.set_automatic_reconnect(false);

  client_->set_message_callback([this](mqtt::const_message_ptr m) { on_message_(std::move(m)); });
  client_->set_connection_lost_handler([this](const std::string&) {
    lost_.store(true);
    if (on_lost_) on_lost_();
    wake_();
  });
  return {};
}

void mqtt_link::schedule_retry(const std::string& why, bool grow) {
  const auto base = backoff_;
  if (grow) backoff_ = std::min(backoff_ * 2, config_.reconnect_max);
  // Jitter in [base/2, base], so many bridges (or a restart) do not retry in step.
  std::uniform_int_distribution<long long> d(base.count() / 2,
                                             std::max<long long>(1, base.count()));
  auto wait = std::chrono::milliseconds(d(jitter_));
  next_attempt_ = clock_.mono() + wait;
  phase_ = phase::idle;
  common::log(log_level::warn, k_component, "mqtt not connected, retrying",
              {{"uri", config_.uri},
               {"reason", why},
               {"retry_ms", static_cast<std::int64_t>(wait.count())}});
}

bool mqtt_link::maintain() {
  if (!client_) return false;
  if (lost_.exchange(false) && (phase_ == phase::up || phase_ == phase::subscribing)) {
    up_.store(false);
    metrics_.connected.store(false);
    metrics_.add(metrics_.connection_losses);
    subscribe_tokens_.clear();
    schedule_retry("connection lost");
  }
  if (phase_ == phase::idle && clock_.mono() >= next_attempt_) {
    lost_.store(false);
    try {
      connect_token_ = client_->connect(options_, nullptr, listener_);
      connect_started_ = clock_.mono();
      phase_ = phase::connecting;
    } catch (const mqtt::exception& e) {
      schedule_retry(e.what());
    }
  }
  if (phase_ == phase::connecting && connect_token_->is_complete()) {
    try {
      connect_token_->try_wait();  // throws when the connect failed
      session_present_ = connect_token_->get_connect_response().is_session_present();
    } catch (const mqtt::exception& e) {
      connect_token_.reset();
      // A broker that let the connect time out is alive but busy (a reconnect storm): the
      // attempt itself waited connect_timeout, a longer backoff on top would only add to it.
      schedule_retry(e.what(), clock_.mono() - connect_started_ < config_.connect_timeout);
      return false;
    }
    connect_token_.reset();
    // Before subscribing: what arrives from here on reaches the bridge.
    subscribing_ms_ = clock_.now_ms();
    subscribe_started_ = clock_.mono();
    subscribe_slow_logged_ = false;
    phase_ = phase::subscribing;
    if (!start_subscribe()) {
      drop_connection("subscribe failed");
      return false;
    }
  }
  if (phase_ != phase::subscribing) return false;
  switch (check_subscribe()) {
    case subscribe_outcome::pending:
      return false;
    case subscribe_outcome::refused:
      drop_connection("subscribe refused");
      return false;
    case subscribe_outcome::granted:
      break;
  }
  subscribe_tokens_.clear();
  // Paho C has no TCP_NODELAY option; Nagle adds ~40 ms per command hop (MEASURED.md).
  common::set_tcp_nodelay_for_peer_port(peer_port_);
  phase_ = phase::up;
  unsubscribed_since_.reset();
  if (was_up_ && !session_present_) unsubscribed_since_ = subscribing_ms_;
  was_up_ = true;
  backoff_ = config_.reconnect_min;
  up_.store(true);
  metrics_.connected.store(true);
  metrics_.add(metrics_.connects);
  common::log(log_level::info, k_component, "mqtt connected",
              {{"uri", config_.uri},
               {"shared", config_.shared_subscription},
               {"session_present", session_present_},
               {"subscribe_ms",
                static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              clock_.mono() - subscribe_started_)
                                              .count())}});
  return true;
}

bool mqtt_link::start_subscribe() {
  // One SUBSCRIBE per filter: for a single filter Paho C fails the token when the broker
  // refuses it (granted 0x80), while Paho C++ 1.2.0's granted-QoS list over MQTT 3.1.1 is not
  // usable (it reads garbage). They go out together, so their SUBACKs queue once, not in turn.
  subscribe_tokens_.clear();
  for (auto kind : {protocol::topic_kind::presence, protocol::topic_kind::state,
                    protocol::topic_kind::result, protocol::topic_kind::event}) {
    std::string filter = protocol::topic_filter(kind);
    // Presence is subscribed by every instance, not shared: a broker gives retained messages
    // to no $share subscription, so a shared instance would learn a device's presence only
    // from its next change. Presence is rare and storing it twice is idempotent.
    if (config_.shared_subscription && kind != protocol::topic_kind::presence) {
      filter.insert(0, k_share_prefix);
    }
    try {
      auto tok = client_->subscribe(filter, k_qos, nullptr, listener_);
      subscribe_tokens_.emplace_back(std::move(filter), std::move(tok));
    } catch (const mqtt::exception& e) {
      common::log(log_level::error, k_component, "mqtt subscribe failed",
                  {{"filter", filter}, {"error", e.what()}});
      return false;
    }
  }
  return true;
}

mqtt_link::subscribe_outcome mqtt_link::check_subscribe() {
  bool pending = false;
  for (const auto& [filter, tok] : subscribe_tokens_) {
    if (!tok->is_complete()) {
      pending = true;
      continue;
    }
    try {
      tok->try_wait();  // throws when the broker refused the filter
    } catch (const mqtt::exception& e) {
      common::log(log_level::error, k_component, "mqtt subscribe failed",
                  {{"filter", filter}, {"error", e.what()}});
      return subscribe_outcome::refused;
    }
  }
  if (!pending) return subscribe_outcome::granted;
  // Slow is not failed (mqtt_link.h); said once per connection, so an operator sees the wait.
  if (!subscribe_slow_logged_ && clock_.mono() - subscribe_started_ >= config_.connect_timeout) {
    subscribe_slow_logged_ = true;
    common::log(log_level::warn, k_component, "mqtt subscribe slow, still waiting",
                {{"uri", config_.uri},
                 {"waited_s", static_cast<std::int64_t>(config_.connect_timeout.count())}});
  }
  return subscribe_outcome::pending;
}

void mqtt_link::drop_connection(const std::string& why) {
  subscribe_tokens_.clear();
  try {
    client_->disconnect()->wait_for(k_disconnect_wait);
  } catch (const mqtt::exception&) {
    // Already gone: the retry below reconnects either way.
  }
  schedule_retry(why);
}

std::chrono::milliseconds mqtt_link::idle_for() const {
  if (phase_ != phase::idle) return 1000ms;  // the listener or the lost handler wakes us
  auto left = std::chrono::ceil<std::chrono::milliseconds>(next_attempt_ - clock_.mono());
  return std::clamp<std::chrono::milliseconds>(left, 1ms, 1000ms);
}

void mqtt_link::disconnect() {
  if (!client_) return;
  up_.store(false);
  metrics_.connected.store(false);
  try {
    if (client_->is_connected()) client_->disconnect()->wait_for(k_disconnect_wait);
  } catch (const mqtt::exception& e) {
    common::log(log_level::warn, k_component, "mqtt disconnect failed", {{"error", e.what()}});
  }
  if (connect_token_) {
    try {
      connect_token_->wait_for(k_disconnect_wait);
    } catch (const mqtt::exception&) {
      // A connect that failed while we were leaving needs nothing more.
    }
    connect_token_.reset();
  }
  subscribe_tokens_.clear();
  client_->disable_callbacks();
  client_.reset();
  phase_ = phase::idle;
}

void mqtt_link::clear_retained(std::span<const std::string> topics) {
  if (!client_ || !up_.load()) return;
  for (const auto& t : topics) {
    try {
      client_->publish(t, "", 0, k_qos, true);
      common::log(log_level::warn, k_component, "retained device message cleared", {{"topic", t}});
    } catch (const mqtt::exception& e) {
      common::log(log_level::warn, k_component, "retained device message not cleared",
                  {{"topic", t}, {"error", e.what()}});
      return;
    }
  }
}

std::vector<std::string> mqtt_link::publish(std::span<const outbound_command> commands) {
  std::vector<std::string> accepted;
  accepted.reserve(commands.size());
  for (std::size_t at = 0; at < commands.size(); at += limits::k_publish_window) {
    const auto window =
        commands.subspan(at, std::min(limits::k_publish_window, commands.size() - at));
    if (!publish_window(window, accepted)) break;
  }
  return accepted;
}

bool mqtt_link::publish_window(std::span<const outbound_command> commands,
                               std::vector<std::string>& accepted) {
  if (!client_ || !up_.load()) return false;
  std::vector<std::pair<const std::string*, mqtt::delivery_token_ptr>> pending;
  pending.reserve(commands.size());
  bool ok = true;
  for (const auto& c : commands) {
    if (!protocol::valid_device_id(c.device_id)) {
      common::log(log_level::error, k_component, "command for an invalid device id skipped",
                  {{"command", c.id}});
      continue;
    }
    try {
      pending.emplace_back(&c.id,
                           client_->publish(protocol::topic(c.device_id, protocol::topic_kind::cmd),
                                            c.payload.data(), c.payload.size(), k_qos, false));
    } catch (const mqtt::exception& e) {
      common::log(log_level::warn, k_component, "command publish failed",
                  {{"command", c.id}, {"error", e.what()}});
      ok = false;  // the link is going down; the rest wait for the reconnect
      break;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + config_.publish_timeout;
  for (auto& [id, tok] : pending) {
    try {
      if (tok->wait_until(deadline)) {
        accepted.push_back(*id);
        continue;
      }
      common::log(log_level::warn, k_component, "command not acknowledged in time",
                  {{"command", *id}});
    } catch (const mqtt::exception& e) {
      common::log(log_level::warn, k_component, "command not accepted by the broker",
                  {{"command", *id}, {"error", e.what()}});
    }
    ok = false;
  }
  return ok;
}

}  // namespace aterm::bridge
