#include "aterm/agent/mqtt_link.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "aterm/agent/limits.h"
#include "aterm/common/log.h"
#include "mqtt/packet.h"
#include "mqtt/tls_channel.h"

namespace aterm::agent {

using common::status;
using steady = std::chrono::steady_clock;

namespace {

// CONNACK return codes of MQTT 3.1.1 (3.2.2.3).
std::string connack_refusal(std::uint8_t code) {
  static constexpr const char* k_reasons[] = {
      "accepted",           "unacceptable protocol version", "identifier rejected",
      "server unavailable", "bad user name or password",     "not authorized",
  };
  const char* reason = code < std::size(k_reasons) ? k_reasons[code] : "unknown reason";
  return std::string("broker refused the connection: ") + reason + " (code " +
         std::to_string(code) + ")";
}

int ms_until(steady::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
  if (left <= 0) return 0;
  // Rounded up by one so a wake-up never comes before the deadline and loops without work.
  return left >= INT32_MAX ? INT32_MAX : static_cast<int>(left) + 1;
}

}  // namespace

// One session's I/O thread (run()) owns the socket, the TLS state, the outgoing byte buffer and
// the keepalive clock; the agent thread only queues encoded packets under mu_ and wakes it
// through wake_fd_. Between packets the thread sleeps in poll() until the socket has something,
// the agent queues work, or the next keepalive PINGREQ (or the PINGRESP deadline) is due: no
// periodic timer, so an idle connected agent wakes about twice per keepalive.
struct mqtt_link::impl {
  impl(mqtt_link_settings s, mqtt_link_handlers h, std::string host, int port, int wake_fd)
      : s_(std::move(s)),
        h_(std::move(h)),
        host_(std::move(host)),
        port_(port),
        wake_fd_(wake_fd) {}
  ~impl() {
    stop_thread(false, std::chrono::milliseconds(0));
    ::close(wake_fd_);
  }

  status start_thread();
  // Asks the thread to end (sending DISCONNECT first when `graceful`) and joins it.
  void stop_thread(bool graceful, std::chrono::milliseconds wait);
  status queue(std::uint64_t tag, bool is_publish, const std::string& topic,
               const std::string& payload, bool retained);
  void wake();

  // The I/O thread.
  static void* thread_main(void* self);
  void run();
  enum class wait_result { ready, timeout, stopped };
  wait_result wait_io(int fd, short events, steady::time_point deadline);
  bool establish(mqtt::tls_channel& ch, std::string& cause);
  // Writes out_ until empty or the socket would block; false with `cause` on failure.
  bool write_some(mqtt::tls_channel& ch, bool& blocked, std::string& cause);
  bool handle(const mqtt::packet& p, std::string& cause);
  void session_loop(mqtt::tls_channel& ch);
  // Ends the session: every unacknowledged publish fails (the agent's outbox sends it again on
  // the next connection), then `lost` is reported unless the agent asked for the end.
  void end_session(mqtt::tls_channel& ch, const std::optional<std::string>& lost_cause);
  bool stop_requested();

  const mqtt_link_settings s_;
  const mqtt_link_handlers h_;
  const std::string host_;
  const int port_;
  const int wake_fd_;

  std::mutex mu_;
  // Guarded by mu_.
  std::string queued_;                              // encoded packets for the I/O thread
  std::map<std::uint16_t, std::uint64_t> unacked_;  // publish packet id -> the agent's tag
  std::uint16_t next_id_ = 1;
  bool session_ = false;  // established: publishes and subscribes are taken
  bool stop_ = false;
  bool graceful_ = false;
  steady::time_point disconnect_deadline_{};
  bool ending_ = false;  // the thread reports its last event: joining it is quick
  bool thread_started_ = false;
  pthread_t thread_{};

  std::atomic<bool> connected_{false};

  // Owned by the I/O thread.
  std::string out_;
  mqtt::frame_reader reader_{limits::k_max_mqtt_packet};
  steady::time_point last_out_{};
  std::optional<steady::time_point> ping_sent_;
};

void mqtt_link::impl::wake() {
  const std::uint64_t one = 1;
  while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

status mqtt_link::impl::start_thread() {
  {
    std::lock_guard lock(mu_);
    if (thread_started_ && !ending_)
      return status::error("mqtt", "connect: already connecting or connected");
  }
  stop_thread(false, std::chrono::milliseconds(0));
  std::uint64_t drained = 0;
  while (::read(wake_fd_, &drained, sizeof drained) > 0) {
  }
  {
    std::lock_guard lock(mu_);
    stop_ = false;
    graceful_ = false;
    ending_ = false;
    session_ = false;
    queued_.clear();
  }
  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  ::pthread_attr_setstacksize(&attr, limits::k_mqtt_thread_stack);
  const int rc = ::pthread_create(&thread_, &attr, &impl::thread_main, this);
  ::pthread_attr_destroy(&attr);
  if (rc != 0) return status::error("mqtt", std::string("connect: thread: ") + std::strerror(rc));
  std::lock_guard lock(mu_);
  thread_started_ = true;
  return {};
}

void mqtt_link::impl::stop_thread(bool graceful, std::chrono::milliseconds wait) {
  {
    std::lock_guard lock(mu_);
    if (!thread_started_) return;
    stop_ = true;
    graceful_ = graceful;
    disconnect_deadline_ = steady::now() + wait;
  }
  wake();
  ::pthread_join(thread_, nullptr);
  std::lock_guard lock(mu_);
  thread_started_ = false;
}

bool mqtt_link::impl::stop_requested() {
  std::lock_guard lock(mu_);
  return stop_;
}

status mqtt_link::impl::queue(std::uint64_t tag, bool is_publish, const std::string& topic,
                              const std::string& payload, bool retained) {
  if (!mqtt::publish_fits(topic, payload))
    return status::error("mqtt", "publish: message too long for MQTT");
  {
    std::lock_guard lock(mu_);
    if (!session_) return status::error("mqtt", "not connected");
    if (queued_.size() + topic.size() + payload.size() > limits::k_max_mqtt_queued_bytes)
      return status::error("mqtt", "send queue full");
    if (unacked_.size() >= limits::k_max_mqtt_unacked)
      return status::error("mqtt", "too many unacknowledged publishes");
    // Packet ids are never 0 and never one still waiting for its acknowledgement.
    while (next_id_ == 0 || unacked_.count(next_id_)) ++next_id_;
    const std::uint16_t id = next_id_++;
    if (is_publish) {
      unacked_[id] = tag;
      mqtt::append_publish(queued_, topic, payload, 1, retained, false, id);
    } else {
      mqtt::append_subscribe(queued_, id, topic, 1);
    }
  }
  wake();
  return {};
}

void* mqtt_link::impl::thread_main(void* self) {
  static_cast<impl*>(self)->run();
  return nullptr;
}

mqtt_link::impl::wait_result mqtt_link::impl::wait_io(int fd, short events,
                                                      steady::time_point deadline) {
  for (;;) {
    pollfd fds[2] = {{fd, events, 0}, {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, ms_until(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (fds[1].revents != 0) {
      std::uint64_t drained = 0;
      while (::read(wake_fd_, &drained, sizeof drained) < 0 && errno == EINTR) {
      }
      if (stop_requested()) return wait_result::stopped;
    }
    if (n > 0 && fds[0].revents != 0) return wait_result::ready;
    if (steady::now() >= deadline) return wait_result::timeout;
  }
}

bool mqtt_link::impl::establish(mqtt::tls_channel& ch, std::string& cause) {
  const auto deadline = steady::now() + std::chrono::seconds(s_.connect_timeout_s);
  if (auto st = ch.load(s_.ca, s_.cert, s_.key); !st.ok()) {
    cause = st.message();
    return false;
  }
  const int fd = mqtt::tcp_connect(host_, port_, ms_until(deadline), wake_fd_, cause);
  if (fd < 0) return false;
  if (auto st = ch.start(fd, host_); !st.ok()) {
    cause = st.message();
    return false;
  }
  auto wait_for = [&](mqtt::io_state st, const char* what) {
    const short ev = st == mqtt::io_state::want_write ? POLLOUT : POLLIN;
    switch (wait_io(ch.fd(), ev, deadline)) {
      case wait_result::ready:
        return true;
      case wait_result::timeout:
        cause = std::string("connect timed out during the ") + what;
        return false;
      case wait_result::stopped:
        cause = "disconnected while connecting";
        return false;
    }
    return false;
  };
  for (;;) {
    const auto st = ch.handshake(cause);
    if (st == mqtt::io_state::done) break;
    if (st == mqtt::io_state::failed || !wait_for(st, "TLS handshake")) return false;
  }
  mqtt::connect_fields c;
  c.client_id = s_.client_id;
  c.keepalive_s = static_cast<std::uint16_t>(s_.keepalive_s);
  c.clean_session = false;
  c.will_topic = s_.will_topic;
  c.will_payload = s_.will_payload;
  c.will_qos = 1;
  c.will_retain = true;
  out_.clear();
  mqtt::append_connect(out_, c);
  while (!out_.empty()) {
    bool blocked = false;
    if (!write_some(ch, blocked, cause)) return false;
    if (blocked && !wait_for(mqtt::io_state::want_write, "CONNECT")) return false;
  }
  reader_.clear();
  std::vector<unsigned char> buf(limits::k_mqtt_read_chunk);
  for (;;) {
    std::size_t got = 0;
    const auto st = ch.read(buf.data(), buf.size(), got, cause);
    if (st == mqtt::io_state::closed) {
      cause = "the broker closed the connection before CONNACK";
      return false;
    }
    if (st == mqtt::io_state::failed) return false;
    if (st != mqtt::io_state::done) {
      if (!wait_for(st, "wait for CONNACK")) return false;
      continue;
    }
    reader_.feed(buf.data(), got);
    mqtt::packet p;
    const auto e = reader_.next(p);
    if (e == mqtt::codec_error::need_more) continue;
    mqtt::connack_view ack;
    if (e != mqtt::codec_error::none || mqtt::parse_connack(p, ack) != mqtt::codec_error::none) {
      cause = std::string("bad CONNACK: ") +
              mqtt::to_string(e != mqtt::codec_error::none ? e : mqtt::parse_connack(p, ack));
      return false;
    }
    if (ack.return_code != 0) {
      cause = connack_refusal(ack.return_code);
      return false;
    }
    return true;
  }
}

bool mqtt_link::impl::write_some(mqtt::tls_channel& ch, bool& blocked, std::string& cause) {
  blocked = false;
  while (!out_.empty()) {
    std::size_t n = 0;
    const auto st = ch.write(out_.data(), out_.size(), n, cause);
    if (st == mqtt::io_state::done) {
      out_.erase(0, n);
      last_out_ = steady::now();
      continue;
    }
    if (st == mqtt::io_state::want_write || st == mqtt::io_state::want_read) {
      blocked = true;
      return true;
    }
    if (st == mqtt::io_state::closed) cause = "the broker closed the connection";
    return false;
  }
  return true;
}

bool mqtt_link::impl::handle(const mqtt::packet& p, std::string& cause) {
  auto bad = [&](mqtt::codec_error e) {
    cause = std::string("protocol error from the broker: ") + mqtt::to_string(e);
    return false;
  };
  switch (p.type) {
    case mqtt::packet_type::publish: {
      mqtt::publish_view v;
      if (auto e = mqtt::parse_publish(p, v); e != mqtt::codec_error::none) return bad(e);
      if (h_.message) h_.message(std::string(v.topic), std::string(v.payload));
      if (v.qos == 1) mqtt::append_puback(out_, v.packet_id);
      return true;
    }
    case mqtt::packet_type::puback: {
      std::uint16_t id = 0;
      if (auto e = mqtt::parse_puback(p, id); e != mqtt::codec_error::none) return bad(e);
      std::optional<std::uint64_t> tag;
      {
        std::lock_guard lock(mu_);
        if (auto it = unacked_.find(id); it != unacked_.end()) {
          tag = it->second;
          unacked_.erase(it);
        }
      }
      if (tag && h_.published) h_.published(*tag, true);
      return true;
    }
    case mqtt::packet_type::suback: {
      mqtt::suback_view v;
      if (auto e = mqtt::parse_suback(p, v); e != mqtt::codec_error::none) return bad(e);
      if (v.first_return_code > 1)
        common::log(
            common::log_level::warn, "agent", "the broker refused a subscription",
            {{"device", s_.client_id}, {"code", static_cast<std::int64_t>(v.first_return_code)}});
      return true;
    }
    case mqtt::packet_type::pingresp:
      if (auto e = mqtt::check_pingresp(p); e != mqtt::codec_error::none) return bad(e);
      ping_sent_.reset();
      return true;
    default:
      return bad(mqtt::codec_error::unexpected);
  }
}

void mqtt_link::impl::end_session(mqtt::tls_channel& ch,
                                  const std::optional<std::string>& lost_cause) {
  ch.close();
  connected_ = false;
  std::map<std::uint16_t, std::uint64_t> failed;
  {
    std::lock_guard lock(mu_);
    session_ = false;
    ending_ = true;
    queued_.clear();
    failed.swap(unacked_);
  }
  out_.clear();
  for (const auto& [id, tag] : failed)
    if (h_.published) h_.published(tag, false);
  if (lost_cause && h_.lost) h_.lost(*lost_cause);
}

void mqtt_link::impl::session_loop(mqtt::tls_channel& ch) {
  const auto keepalive = std::chrono::seconds(s_.keepalive_s);
  std::vector<unsigned char> buf(limits::k_mqtt_read_chunk);
  std::string cause;
  ping_sent_.reset();
  for (;;) {
    bool graceful = false;
    std::optional<steady::time_point> stop_deadline;
    {
      std::lock_guard lock(mu_);
      out_.append(queued_);
      queued_.clear();
      if (stop_) {
        graceful = graceful_;
        stop_deadline = disconnect_deadline_;
      }
    }
    if (stop_deadline) {
      if (graceful) {
        mqtt::append_disconnect(out_);
        // What is queued goes out first, then DISCONNECT, for as long as the agent waits.
        for (;;) {
          bool blocked = false;
          if (!write_some(ch, blocked, cause) || !blocked) break;
          if (steady::now() >= *stop_deadline) break;
          pollfd fd{ch.fd(), POLLOUT, 0};
          ::poll(&fd, 1, ms_until(*stop_deadline));
        }
      }
      end_session(ch, std::nullopt);
      return;
    }

    bool blocked = false;
    if (!write_some(ch, blocked, cause)) return end_session(ch, cause);

    // Packets that came with the CONNACK are already in reader_: handled before the first read.
    for (std::size_t got = 0;; got = 0) {
      for (;;) {
        mqtt::packet p;
        const auto e = reader_.next(p);
        if (e == mqtt::codec_error::need_more) break;
        if (e != mqtt::codec_error::none)
          return end_session(ch,
                             std::string("protocol error from the broker: ") + mqtt::to_string(e));
        if (!handle(p, cause)) return end_session(ch, cause);
      }
      const auto st = ch.read(buf.data(), buf.size(), got, cause);
      if (st == mqtt::io_state::closed) return end_session(ch, "the broker closed the connection");
      if (st == mqtt::io_state::failed) return end_session(ch, cause);
      if (st != mqtt::io_state::done) break;
      reader_.feed(buf.data(), got);
    }
    // Acknowledgements the packets just read asked for go out before sleeping.
    if (!out_.empty() && !blocked) continue;

    const auto now = steady::now();
    steady::time_point deadline = steady::time_point::max();
    if (s_.keepalive_s > 0) {
      if (ping_sent_) {
        deadline = *ping_sent_ + keepalive;
        if (now >= deadline) return end_session(ch, "no PINGRESP within the keepalive");
      } else {
        deadline = last_out_ + keepalive;
        if (now >= deadline) {
          mqtt::append_pingreq(out_);
          ping_sent_ = now;
          continue;
        }
      }
    }
    pollfd fds[2] = {{ch.fd(), static_cast<short>(POLLIN | (blocked ? POLLOUT : 0)), 0},
                     {wake_fd_, POLLIN, 0}};
    const int timeout = deadline == steady::time_point::max() ? -1 : ms_until(deadline);
    if (::poll(fds, 2, timeout) < 0 && errno != EINTR)
      return end_session(ch, std::string("poll: ") + std::strerror(errno));
    if (fds[1].revents != 0) {
      std::uint64_t drained = 0;
      while (::read(wake_fd_, &drained, sizeof drained) < 0 && errno == EINTR) {
      }
    }
  }
}

void mqtt_link::impl::run() {
  mqtt::tls_channel ch;
  std::string cause;
  if (!establish(ch, cause)) {
    ch.close();
    {
      std::lock_guard lock(mu_);
      ending_ = true;
    }
    if (h_.connect_failed) h_.connect_failed(cause);
    return;
  }
  {
    std::lock_guard lock(mu_);
    session_ = !stop_;
  }
  connected_ = true;
  if (h_.connected) h_.connected();
  session_loop(ch);
}

mqtt_link::mqtt_link(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
mqtt_link::~mqtt_link() = default;

common::result<std::unique_ptr<mqtt_link>> mqtt_link::create(mqtt_link_settings s,
                                                             mqtt_link_handlers h) {
  // ssl://host:port, the host possibly an IPv6 literal in brackets.
  constexpr std::string_view k_scheme = "ssl://";
  const std::string& uri = s.uri;
  if (uri.rfind(k_scheme, 0) != 0)
    return status::error("mqtt", "the broker URI must be ssl://host:port");
  const std::string rest = uri.substr(k_scheme.size());
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size())
    return status::error("mqtt", "the broker URI must be ssl://host:port");
  std::string host = rest.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  for (std::size_t i = colon + 1; i < rest.size(); ++i) {
    if (rest[i] < '0' || rest[i] > '9' || port > 65535)
      return status::error("mqtt", "the broker URI's port is not a number");
    port = port * 10 + (rest[i] - '0');
  }
  if (host.empty() || port <= 0 || port > 65535)
    return status::error("mqtt", "the broker URI must be ssl://host:port");
  if (s.client_id.empty() || s.client_id.size() > 0xFFFF || s.will_topic.size() > 0xFFFF ||
      s.will_payload.size() > 0xFFFF || s.keepalive_s < 0 || s.keepalive_s > 0xFFFF ||
      s.connect_timeout_s <= 0)
    return status::error("mqtt", "client id, will or keepalive out of MQTT's bounds");
  const int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) return status::error("mqtt", std::string("eventfd: ") + std::strerror(errno));
  auto p = std::make_unique<impl>(std::move(s), std::move(h), std::move(host), port, wake);
  return std::unique_ptr<mqtt_link>(new mqtt_link(std::move(p)));
}

common::status mqtt_link::connect() {
  return impl_->start_thread();
}

common::status mqtt_link::subscribe(const std::string& topic) {
  return impl_->queue(0, false, topic, {}, false);
}

common::status mqtt_link::publish(const std::string& topic, const std::string& payload,
                                  bool retained, std::uint64_t tag) {
  return impl_->queue(tag, true, topic, payload, retained);
}

void mqtt_link::disconnect(std::chrono::milliseconds wait) {
  impl_->stop_thread(true, wait);
}

bool mqtt_link::is_connected() const {
  return impl_->connected_;
}

}  // namespace aterm::agent
