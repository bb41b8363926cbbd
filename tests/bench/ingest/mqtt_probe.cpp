#include "mqtt_probe.h"

#include <MQTTAsync.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>

namespace aterm::bench {

namespace {

constexpr auto k_wait = std::chrono::seconds(30);

// One asynchronous Paho call answered through onSuccess / onFailure.
struct pending_call {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool ok = false;
  std::string error;

  static void on_success(void* ctx, MQTTAsync_successData*) {
    auto* p = static_cast<pending_call*>(ctx);
    std::lock_guard lock(p->mu);
    p->done = true;
    p->ok = true;
    p->cv.notify_all();
  }
  static void on_failure(void* ctx, MQTTAsync_failureData* f) {
    auto* p = static_cast<pending_call*>(ctx);
    std::lock_guard lock(p->mu);
    p->done = true;
    p->ok = false;
    p->error = "code " + std::to_string(f != nullptr ? f->code : 0);
    if (f != nullptr && f->message != nullptr) p->error += std::string(": ") + f->message;
    p->cv.notify_all();
  }
  // Throws unless the call succeeded within k_wait.
  void wait(const std::string& what) {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, k_wait, [&] { return done; }))
      throw std::runtime_error(what + ": no answer within 30 s");
    if (!ok) throw std::runtime_error(what + " failed: " + error);
  }
};

}  // namespace

struct mqtt_probe::state {
  MQTTAsync client = nullptr;
  handler on_message;
  std::atomic<bool> up{false};

  static int arrived(void* ctx, char* topic, int topic_len, MQTTAsync_message* m) {
    auto* s = static_cast<state*>(ctx);
    const std::string_view t(topic, topic_len > 0 ? static_cast<std::size_t>(topic_len)
                                                  : std::char_traits<char>::length(topic));
    const std::string_view p(static_cast<const char*>(m->payload),
                             static_cast<std::size_t>(m->payloadlen));
    if (s->on_message) s->on_message(t, p);
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
  }
  static void lost(void* ctx, char*) { static_cast<state*>(ctx)->up = false; }
};

mqtt_probe::mqtt_probe(const mqtt_identity& id, handler on_message) : s_(new state) {
  s_->on_message = std::move(on_message);
  if (MQTTAsync_create(&s_->client, id.uri.c_str(), id.client_id.c_str(),
                       MQTTCLIENT_PERSISTENCE_NONE, nullptr) != MQTTASYNC_SUCCESS) {
    delete s_;
    throw std::runtime_error("MQTTAsync_create failed for " + id.client_id);
  }
  MQTTAsync_setCallbacks(s_->client, s_, &state::lost, &state::arrived, nullptr);

  MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
  ssl.trustStore = id.ca.c_str();
  ssl.keyStore = id.cert.c_str();
  ssl.privateKey = id.key.c_str();
  ssl.enableServerCertAuth = 1;
  ssl.verify = 1;
  ssl.sslVersion = MQTT_SSL_VERSION_TLS_1_2;
  MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer;
  opts.keepAliveInterval = 60;
  opts.cleansession = 1;
  opts.connectTimeout = 30;
  opts.ssl = &ssl;
  pending_call call;
  opts.onSuccess = &pending_call::on_success;
  opts.onFailure = &pending_call::on_failure;
  opts.context = &call;
  try {
    if (MQTTAsync_connect(s_->client, &opts) != MQTTASYNC_SUCCESS)
      throw std::runtime_error("MQTTAsync_connect refused the request");
    call.wait("connect " + id.client_id);
  } catch (...) {
    MQTTAsync_destroy(&s_->client);
    delete s_;
    throw;
  }
  s_->up = true;
}

mqtt_probe::~mqtt_probe() {
  if (MQTTAsync_isConnected(s_->client)) {
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    pending_call call;
    d.timeout = 2000;
    d.onSuccess = [](void* ctx, MQTTAsync_successData*) { pending_call::on_success(ctx, nullptr); };
    d.onFailure = [](void* ctx, MQTTAsync_failureData*) { pending_call::on_failure(ctx, nullptr); };
    d.context = &call;
    if (MQTTAsync_disconnect(s_->client, &d) == MQTTASYNC_SUCCESS) {
      try {
        call.wait("disconnect");
      } catch (const std::exception&) {
        // A failed goodbye changes nothing: the client is destroyed below either way.
      }
    }
  }
  MQTTAsync_destroy(&s_->client);
  delete s_;
}

void mqtt_probe::subscribe(const std::vector<std::string>& filters) {
  for (const auto& f : filters) {
    pending_call call;
    MQTTAsync_responseOptions r = MQTTAsync_responseOptions_initializer;
    r.onSuccess = &pending_call::on_success;
    r.onFailure = &pending_call::on_failure;
    r.context = &call;
    if (MQTTAsync_subscribe(s_->client, f.c_str(), 1, &r) != MQTTASYNC_SUCCESS)
      throw std::runtime_error("MQTTAsync_subscribe refused " + f);
    call.wait("subscribe " + f);
  }
}

void mqtt_probe::publish(const std::string& topic, const std::string& payload) {
  MQTTAsync_message m = MQTTAsync_message_initializer;
  m.payload = const_cast<char*>(payload.data());
  m.payloadlen = static_cast<int>(payload.size());
  m.qos = 1;
  m.retained = 0;
  MQTTAsync_responseOptions r = MQTTAsync_responseOptions_initializer;
  const int rc = MQTTAsync_sendMessage(s_->client, topic.c_str(), &m, &r);
  if (rc != MQTTASYNC_SUCCESS)
    throw std::runtime_error("publish to " + topic + " refused: " + std::to_string(rc));
}

bool mqtt_probe::connected() const {
  return s_->up && MQTTAsync_isConnected(s_->client);
}

}  // namespace aterm::bench
