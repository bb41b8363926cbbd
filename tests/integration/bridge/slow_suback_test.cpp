// The bridge against a broker that answers its SUBSCRIBE late, as a restarted Mosquitto does
// while thousands of routers reconnect at once: a real Mosquitto behind a TCP proxy that holds
// the broker's bytes after the CONNACK for longer than the bridge's connect timeout. The bridge
// must wait for the SUBACKs on the connection it has, not drop it and reconnect later.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "aterm/bridge/bridge.h"
#include "aterm/common/clock.h"
#include "aterm/common/protocol.h"
#include "aterm/test/mqtt_client.h"
#include "aterm/test/support.h"
#include "fake_store.h"

namespace {

using namespace std::chrono_literals;
namespace t = aterm::test;
namespace protocol = aterm::common::protocol;
using aterm::bridge::bridge;
using aterm::bridge::bridge_config;
using aterm::bridge::test::fake_store;
using protocol::topic_kind;

constexpr std::uint8_t k_tls_application_data = 23;
constexpr std::size_t k_tls_header = 5;

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// A TCP proxy on 127.0.0.1 in front of the broker. On the first connection it holds the
// broker's bytes for `hold` from the bridge's first SUBSCRIBE on: the SUBACKs arrive late while
// the connection stays healthy. It sees TLS records only, so it finds the SUBSCRIBE by order:
// the client sends its handshake's end and the CONNECT in one flight (TLS 1.2 and 1.3 alike)
// and the SUBSCRIBE is its first application-data record after the broker answered that flight.
class slow_suback_proxy {
 public:
  slow_suback_proxy(int broker_port, std::chrono::milliseconds hold)
      : broker_port_(broker_port), hold_(hold), port_(t::free_port()) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listen_fd_ >= 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in addr = loopback(port_);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_fd_, 16) == 0);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~slow_suback_proxy() {
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    accept_thread_.join();
    {
      std::lock_guard lk(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& th : relays_) th.join();
    for (int fd : fds_) ::close(fd);
    ::close(listen_fd_);
  }
  std::string uri() const { return "ssl://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }
  // The broker's answer to the first SUBSCRIBE is being (or was) held.
  bool held() const { return held_.load(); }
  // Records of the bridge passed on to the broker from its first SUBSCRIBE on (one per packet:
  // Paho writes each packet with one SSL_write).
  int subscribes_passed() const { return first_.subscribes_passed.load(); }

 private:
  // Application-data records the broker sent and the client sent, on the first connection.
  struct counts {
    std::atomic<int> from_broker{0};
    int from_broker_at_last_client_record = -1;
    std::atomic<bool> subscribe_seen{false};
    std::atomic<int> subscribes_passed{0};
  };

  static sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  void accept_loop() {
    while (true) {
      const int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) return;
      const int server = ::socket(AF_INET, SOCK_STREAM, 0);
      const sockaddr_in addr = loopback(broker_port_);
      if (server < 0 ||
          ::connect(server, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(client);
        if (server >= 0) ::close(server);
        continue;
      }
      counts* watch = connections_.fetch_add(1) == 0 ? &first_ : nullptr;
      std::lock_guard lk(mu_);
      fds_.push_back(client);
      fds_.push_back(server);
      relays_.emplace_back([this, client, server, watch] { relay(client, server, watch, true); });
      relays_.emplace_back([this, client, server, watch] { relay(server, client, watch, false); });
    }
  }

  // Copies `from` to `to` whole TLS records at a time; with `watch`, finds the SUBSCRIBE (client
  // side) and holds what follows it (broker side).
  void relay(int from, int to, counts* watch, bool from_client) {
    std::string pending;
    char buf[16384];
    while (true) {
      const ssize_t n = ::recv(from, buf, sizeof buf, 0);
      if (n <= 0) break;
      pending.append(buf, static_cast<std::size_t>(n));
      while (pending.size() >= k_tls_header) {
        const std::size_t length =
            (static_cast<std::size_t>(static_cast<unsigned char>(pending[3])) << 8) |
            static_cast<unsigned char>(pending[4]);
        if (pending.size() < k_tls_header + length) break;
        const bool data = static_cast<std::uint8_t>(pending[0]) == k_tls_application_data;
        if (watch && data) observe(*watch, from_client);
        if (!write_all(to, pending.data(), k_tls_header + length)) return;
        if (watch && data && from_client && watch->subscribe_seen.load()) {
          watch->subscribes_passed.fetch_add(1);
        }
        pending.erase(0, k_tls_header + length);
      }
    }
    ::shutdown(to, SHUT_WR);
  }

  // Runs before a record is passed on (so the client cannot answer a record not yet counted).
  void observe(counts& c, bool from_client) {
    if (from_client) {
      const int broker_now = c.from_broker.load();
      if (c.from_broker_at_last_client_record >= 0 &&
          c.from_broker_at_last_client_record != broker_now) {
        c.subscribe_seen.store(true);
      }
      c.from_broker_at_last_client_record = broker_now;
      return;
    }
    c.from_broker.fetch_add(1);
    if (c.subscribe_seen.load() && !held_.exchange(true)) {
      // The broker's slowness is what this test injects, not a wait for something.
      std::this_thread::sleep_for(hold_);
    }
  }

  int broker_port_;
  std::chrono::milliseconds hold_;
  int port_;
  int listen_fd_ = -1;
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> relays_;
  std::atomic<int> connections_{0};
  std::atomic<bool> held_{false};
  counts first_;
};

std::int64_t now_s() {
  return aterm::common::system_clock::instance().now_s();
}

}  // namespace

TEST_CASE("a slow SUBACK after a broker restart is awaited, not retried with a longer backoff") {
  t::temp_dir dir{"aterm-slow-suback"};
  t::dev_pki pki{dir.path() / "pki"};
  t::broker broker{pki};
  fake_store store;
  constexpr auto connect_timeout = 1s;
  slow_suback_proxy proxy(broker.port(), connect_timeout + 500ms);

  bridge_config c;
  c.uri = proxy.uri();
  c.ca = pki.ca().string();
  c.cert = pki.cloud_cert().string();
  c.key = pki.cloud_key().string();
  c.connect_timeout = connect_timeout;
  c.reconnect_min = 100ms;
  c.reconnect_max = 1s;
  bridge b(c, store, aterm::common::system_clock::instance());
  REQUIRE(b.start().ok());
  REQUIRE(t::wait_until([&] { return proxy.held(); }, 10s));
  // The bridge sends one SUBSCRIBE per topic kind; the state must not be published before the
  // broker has them all (under load the later ones can trail the first SUBACK).
  REQUIRE(t::wait_until([&] { return proxy.subscribes_passed() >= 4; }, 10s));

  // A router that reached the broker first publishes while the bridge's SUBACKs are held: the
  // broker already has the subscription, so this state must reach the store too.
  const std::string id = "dev-slow-suback";
  auto [cert, key] = pki.device(id);
  t::mqtt_client dev(broker.uri(), id, pki.ca(), t::mqtt_identity{cert, key});
  REQUIRE(dev.connect());
  REQUIRE(dev.publish(
      protocol::topic(id, topic_kind::presence),
      R"({"v":1,"online":true,"agent":"test","ts":)" + std::to_string(now_s()) + "}", true));
  REQUIRE(dev.publish(protocol::topic(id, topic_kind::state),
                      R"({"v":1,"ts":)" + std::to_string(now_s()) +
                          R"(,"seq":1,"model":"WX3600HP","wan":{"ip":"192.0.2.1","up":true}})"));

  REQUIRE(t::wait_until([&] { return b.metrics().connected; }, 10s));
  CHECK(t::wait_until([&] { return store.stored(topic_kind::state) >= 1; }, 10s));
  CHECK(store.online(id));
  const auto m = b.metrics();
  MESSAGE("proxy connections: " << proxy.connections() << ", connects: " << m.connects
                                << ", connection losses: " << m.connection_losses);
  // One connection, kept: no disconnect, no retry, so no backoff that grew.
  CHECK(proxy.connections() == 1);
  CHECK(m.connects == 1);
  CHECK(m.connection_losses == 0);
  b.stop();
}
