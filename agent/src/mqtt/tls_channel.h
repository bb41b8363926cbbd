// One client TLS 1.2 connection over mbedTLS on a non-blocking socket: the broker's certificate
// verified against the configured CA and its name against the host the link connects to (both
// always on), the device's certificate and key presented. Owned and used by one thread (the
// link's I/O thread). No waiting here: each call does what the socket allows now and says what
// it waits for (want_read, want_write); the caller polls.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "aterm/common/status.h"

namespace aterm::agent::mqtt {

enum class io_state { done, want_read, want_write, closed, failed };

class tls_channel {
 public:
  tls_channel();
  ~tls_channel();
  tls_channel(const tls_channel&) = delete;
  tls_channel& operator=(const tls_channel&) = delete;

  // Reads the PEM files (CA, client certificate, private key). Errors ("mqtt") name the file,
  // never its content.
  common::status load(const std::string& ca, const std::string& cert, const std::string& key);
  // Takes a connected non-blocking socket (closed by close() or the destructor) and starts a
  // session towards `host` (a DNS name or an IP literal the certificate must name).
  // REQUIRES: load() succeeded.
  common::status start(int fd, const std::string& host);
  int fd() const { return fd_; }

  // The handshake so far: done, want_read / want_write, or failed with `error` set.
  io_state handshake(std::string& error);
  // Writes from `data` (n bytes): done with `written` > 0, or want_*, or failed. After a want_*
  // the next call must offer the same first bytes again (at least as many).
  io_state write(const void* data, std::size_t n, std::size_t& written, std::string& error);
  // Reads into `buf`: done with `got` > 0, want_*, closed (by the peer) or failed.
  io_state read(void* buf, std::size_t cap, std::size_t& got, std::string& error);
  // Sends close_notify when it can without waiting, then closes the socket.
  void close();

 private:
  struct state;
  std::unique_ptr<state> s_;
  int fd_ = -1;
  std::size_t pending_write_ = 0;
};

// Opens a non-blocking TCP connection to host:port, waiting at most `timeout_ms` in all and
// returning early (-1, error "stopped") when `wake_fd` becomes readable. The socket has
// TCP_NODELAY set: every packet of the agent is small and answered. Returns the fd or -1 with
// `error` set.
int tcp_connect(const std::string& host, int port, int timeout_ms, int wake_fd, std::string& error);

}  // namespace aterm::agent::mqtt
