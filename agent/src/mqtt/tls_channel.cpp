#include "mqtt/tls_channel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace aterm::agent::mqtt {

using common::status;

namespace {

std::string tls_error(int code) {
  char text[160];
  mbedtls_strerror(code, text, sizeof text);
  return text;
}

// The host as the bytes of an IP address (4 or 16), when it is an IP literal.
struct ip_literal {
  unsigned char bytes[16] = {};
  std::size_t len = 0;
};

ip_literal parse_ip(const std::string& host) {
  ip_literal ip;
  if (::inet_pton(AF_INET, host.c_str(), ip.bytes) == 1) {
    ip.len = 4;
  } else if (::inet_pton(AF_INET6, host.c_str(), ip.bytes) == 1) {
    ip.len = 16;
  }
  return ip;
}

// mbedTLS 2.28 matches the host only against the certificate's DNS names and CN, and reports an
// IP literal as a name mismatch; the broker of a deployment without DNS is named by its IP
// address in the certificate (subjectAltName IP). This clears the mismatch only when such an
// entry equals the address connected to, so the name check stays on for every host.
int verify_ip_name(void* ctx, mbedtls_x509_crt* crt, int depth, std::uint32_t* flags) {
  const auto* ip = static_cast<const ip_literal*>(ctx);
  if (depth != 0 || ip->len == 0 || (*flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) == 0) return 0;
  constexpr int k_san_ip_tag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS;
  for (const mbedtls_x509_sequence* san = &crt->subject_alt_names; san; san = san->next) {
    if (san->buf.tag == k_san_ip_tag && san->buf.len == ip->len &&
        std::memcmp(san->buf.p, ip->bytes, ip->len) == 0) {
      *flags &= ~static_cast<std::uint32_t>(MBEDTLS_X509_BADCERT_CN_MISMATCH);
      break;
    }
  }
  return 0;
}

int send_cb(void* ctx, const unsigned char* buf, std::size_t len) {
  const int fd = *static_cast<int*>(ctx);
  for (;;) {
    const ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (errno == EPIPE || errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_SEND_FAILED;
  }
}

int recv_cb(void* ctx, unsigned char* buf, std::size_t len) {
  const int fd = *static_cast<int*>(ctx);
  for (;;) {
    const ssize_t n = ::recv(fd, buf, len, 0);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
    if (errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_RECV_FAILED;
  }
}

io_state want_of(int ret) {
  if (ret == MBEDTLS_ERR_SSL_WANT_READ) return io_state::want_read;
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) return io_state::want_write;
  return io_state::failed;
}

}  // namespace

struct tls_channel::state {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt ca;
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
  ip_literal ip;
  bool loaded = false;
  bool ssl_started = false;

  state() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&cert);
    mbedtls_pk_init(&key);
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
  }
  ~state() {
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_pk_free(&key);
    mbedtls_x509_crt_free(&cert);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
};

tls_channel::tls_channel() : s_(std::make_unique<state>()) {}

tls_channel::~tls_channel() {
  if (fd_ >= 0) ::close(fd_);
}

status tls_channel::load(const std::string& ca, const std::string& cert, const std::string& key) {
  auto& s = *s_;
  static constexpr unsigned char k_personal[] = "aterm-agent-mqtt";
  int ret = mbedtls_ctr_drbg_seed(&s.drbg, mbedtls_entropy_func, &s.entropy, k_personal,
                                  sizeof k_personal - 1);
  if (ret != 0) return status::error("mqtt", "tls random generator: " + tls_error(ret));
  if ((ret = mbedtls_x509_crt_parse_file(&s.ca, ca.c_str())) != 0)
    return status::error("mqtt", "cannot read broker.ca " + ca + ": " + tls_error(ret));
  if ((ret = mbedtls_x509_crt_parse_file(&s.cert, cert.c_str())) != 0)
    return status::error("mqtt", "cannot read broker.cert " + cert + ": " + tls_error(ret));
  if ((ret = mbedtls_pk_parse_keyfile(&s.key, key.c_str(), nullptr)) != 0)
    return status::error("mqtt", "cannot read broker.key " + key + ": " + tls_error(ret));
  ret = mbedtls_ssl_config_defaults(&s.conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) return status::error("mqtt", "tls configuration: " + tls_error(ret));
  mbedtls_ssl_conf_min_version(&s.conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(&s.conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_authmode(&s.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&s.conf, &s.ca, nullptr);
  mbedtls_ssl_conf_rng(&s.conf, mbedtls_ctr_drbg_random, &s.drbg);
  mbedtls_ssl_conf_verify(&s.conf, verify_ip_name, &s.ip);
  if ((ret = mbedtls_ssl_conf_own_cert(&s.conf, &s.cert, &s.key)) != 0)
    return status::error("mqtt", "broker.cert and broker.key: " + tls_error(ret));
  s.loaded = true;
  return {};
}

status tls_channel::start(int fd, const std::string& host) {
  auto& s = *s_;
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  pending_write_ = 0;
  if (s.ssl_started) {
    mbedtls_ssl_free(&s.ssl);
    mbedtls_ssl_init(&s.ssl);
  }
  s.ssl_started = true;
  s.ip = parse_ip(host);
  int ret = mbedtls_ssl_setup(&s.ssl, &s.conf);
  if (ret != 0) return status::error("mqtt", "tls setup: " + tls_error(ret));
  if ((ret = mbedtls_ssl_set_hostname(&s.ssl, host.c_str())) != 0)
    return status::error("mqtt", "tls host name: " + tls_error(ret));
  mbedtls_ssl_set_bio(&s.ssl, &fd_, send_cb, recv_cb, nullptr);
  return {};
}

io_state tls_channel::handshake(std::string& error) {
  const int ret = mbedtls_ssl_handshake(&s_->ssl);
  if (ret == 0) return io_state::done;
  const auto st = want_of(ret);
  if (st != io_state::failed) return st;
  error = "tls handshake: " + tls_error(ret);
  const std::uint32_t flags = mbedtls_ssl_get_verify_result(&s_->ssl);
  if (flags != 0 && flags != static_cast<std::uint32_t>(-1)) {
    char info[256];
    mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
    std::string text(info);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    for (auto& c : text)
      if (c == '\n') c = ';';
    error += " (" + text + ")";
  }
  return io_state::failed;
}

io_state tls_channel::write(const void* data, std::size_t n, std::size_t& written,
                            std::string& error) {
  // mbedTLS finishes a write it could not complete only when called again with the same length.
  const std::size_t len = pending_write_ > 0 && pending_write_ <= n ? pending_write_ : n;
  const int ret = mbedtls_ssl_write(&s_->ssl, static_cast<const unsigned char*>(data), len);
  if (ret >= 0) {
    pending_write_ = 0;
    written = static_cast<std::size_t>(ret);
    return io_state::done;
  }
  const auto st = want_of(ret);
  if (st != io_state::failed) {
    pending_write_ = len;
    return st;
  }
  error = ret == MBEDTLS_ERR_NET_CONN_RESET ? "connection reset by the broker"
                                            : "tls write: " + tls_error(ret);
  return io_state::failed;
}

io_state tls_channel::read(void* buf, std::size_t cap, std::size_t& got, std::string& error) {
  const int ret = mbedtls_ssl_read(&s_->ssl, static_cast<unsigned char*>(buf), cap);
  if (ret > 0) {
    got = static_cast<std::size_t>(ret);
    return io_state::done;
  }
  if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return io_state::closed;
  const auto st = want_of(ret);
  if (st != io_state::failed) return st;
  error = ret == MBEDTLS_ERR_NET_CONN_RESET ? "connection reset by the broker"
                                            : "tls read: " + tls_error(ret);
  return io_state::failed;
}

void tls_channel::close() {
  if (fd_ < 0) return;
  if (s_->ssl_started) mbedtls_ssl_close_notify(&s_->ssl);
  ::close(fd_);
  fd_ = -1;
}

int tcp_connect(const std::string& host, int port, int timeout_ms, int wake_fd,
                std::string& error) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::milliseconds(timeout_ms);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    error = "cannot resolve " + host + ": " + ::gai_strerror(rc);
    return -1;
  }
  error = "no address for " + host;
  int fd = -1;
  for (const addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    int err = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd fds[2] = {{fd, POLLOUT, 0}, {wake_fd, POLLIN, 0}};
        for (;;) {
          const auto left =
              std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now())
                  .count();
          if (left <= 0) {
            err = ETIMEDOUT;
            break;
          }
          const int n = ::poll(fds, 2, static_cast<int>(left));
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) {
            err = errno;
            break;
          }
          if (fds[1].revents != 0) {
            ::freeaddrinfo(found);
            ::close(fd);
            error = "stopped";
            return -1;
          }
          if (fds[0].revents != 0) {
            socklen_t len = sizeof err;
            if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            break;
          }
        }
      }
    }
    if (err != 0) {
      error = "connect to " + host + ":" + std::to_string(port) + ": " + std::strerror(err);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd >= 0) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

}  // namespace aterm::agent::mqtt
