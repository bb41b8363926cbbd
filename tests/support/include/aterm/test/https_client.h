// The tests' HTTPS clients (Boost.Beast over OpenSSL), one piece of code for every test folder.
//
// https_connection: one TLS connection kept open, for tests of the server itself (keep-alive,
// raw bytes, the server closing the connection, TLS versions). Every operation runs on the
// connection's own io_context with a deadline and returns an error instead of throwing, so a
// server that never answers fails the test instead of hanging it.
//
// https_client: the API client of the end-to-end tests and the benchmarks. A new connection per
// request, from a chosen loopback address (127.0.0.2 is "another machine"), or, kept, one
// connection reused for every request (a benchmark's round trip of a few milliseconds would be
// mostly handshake otherwise); the server is verified against the dev CA; the session cookie and
// CSRF token of the last login are kept and sent. A connection or TLS failure throws
// boost::system::system_error (a test's wait_until may catch it).
//
// Neither is thread-safe: one thread uses an object at a time (one client per thread).
#pragma once

#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "aterm/common/json.h"

namespace aterm::test {

// How long one connect, handshake, write or read of a test client may take.
inline constexpr std::chrono::milliseconds k_https_step_timeout = std::chrono::seconds(10);
// How long a whole request of https_client may take (a loaded CI machine hashes slowly).
inline constexpr std::chrono::milliseconds k_https_request_timeout = std::chrono::seconds(60);
// Largest answer body read and parsed as JSON (audit exports of the account tests are large).
inline constexpr std::size_t k_https_body_limit = std::size_t{64} << 20;

struct http_answer {
  unsigned status = 0;
  std::string body;
  common::json_ptr json;                       // null when the body is not JSON
  std::string set_cookie;                      // the Set-Cookie header, "" when absent
  std::map<std::string, std::string> headers;  // lowercase names; the last of repeated fields
  bool keep_alive = false;                     // the server keeps the connection open

  // Field of the JSON object, "" when absent.
  std::string str(const char* key) const;
  // Integer field of the JSON object, -1 when absent.
  std::int64_t num(const char* key) const;
  // A header by name (any case), "" when absent.
  std::string header(const std::string& name) const;
};

struct tls_options {
  // Verify the server's chain against this CA file. Default: "" (no verification).
  std::string ca_file;
  // The loopback address the connection comes from (IPv4 or IPv6). Default: 127.0.0.1.
  std::string local_address = "127.0.0.1";
  // E.g. TLS1_1_VERSION to offer only that version and older, 0 for the library's range.
  // Default: 0.
  int max_tls_version = 0;
  // TCP_NODELAY on the socket: without it Nagle holds a small write back until the previous one
  // is acknowledged, up to 40 ms a hop (MEASURED.md), which a latency measurement must not see.
  // Default: false (the library's default).
  bool no_delay = false;
};

class https_connection {
 public:
  https_connection(int port, tls_options options = {});
  ~https_connection();
  https_connection(https_connection&&) noexcept;
  https_connection& operator=(https_connection&&) noexcept;

  // TCP connect to 127.0.0.1 (::1 for an IPv6 local address) and the TLS handshake.
  boost::system::error_code connect(std::chrono::milliseconds timeout = k_https_step_timeout);
  boost::system::error_code send_raw(const std::string& bytes,
                                     std::chrono::milliseconds timeout = k_https_step_timeout);
  // Writes one request (`target` as given) and reads the answer; nullopt on any error (error()
  // tells which). A non-empty body goes as application/json unless `headers` name a Content-Type.
  std::optional<http_answer> request(const std::string& method, const std::string& target,
                                     const std::string& body = {},
                                     const std::map<std::string, std::string>& headers = {},
                                     std::chrono::milliseconds timeout = k_https_step_timeout);
  std::optional<http_answer> read_response(
      std::chrono::milliseconds timeout = k_https_step_timeout);
  // Waits up to `timeout` for the server to end the connection; true when it did (EOF, reset,
  // TLS close) and false on our own timeout or when data arrived.
  bool closed_by_server(std::chrono::milliseconds timeout);
  // The TLS close_notify, best effort.
  void shutdown(std::chrono::milliseconds timeout = k_https_step_timeout);
  const boost::system::error_code& error() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// GET `target` over plain HTTP from 127.0.0.1 to `port` (the daemon's metrics listener, which
// speaks plain HTTP on loopback). Throws boost::system::system_error on a connection failure.
http_answer plain_http_get(int port, const std::string& target);

class https_client;

// Signs `c` in as `login` of `company` with `first`, a password someone else set (which the
// account must replace before anything else), and replaces it with `chosen` as the account's
// owner. The change ends the account's sessions: `c` is signed out afterwards. Returns the
// login's answer when it failed, else the change's (204 when done).
http_answer replace_first_password(https_client& c, const std::string& company,
                                   const std::string& login, const std::string& first,
                                   const std::string& chosen);

class https_client {
 public:
  https_client(int port, std::string ca_file, std::string local_address = "127.0.0.1");
  // `keep_connection`: one connection for every request, opened on the first, reopened when the
  // server ended it (an answer without keep-alive); a request that fails is retried once on a
  // fresh connection, as a kept one may have met the server's idle timeout.
  https_client(int port, tls_options options, bool keep_connection);
  ~https_client();
  https_client(https_client&&) noexcept;
  https_client& operator=(https_client&&) noexcept;

  // POST /api/v1/session; keeps the cookie and CSRF token on success, forgets them otherwise.
  http_answer login(const std::string& company, const std::string& login,
                    const std::string& password);
  // A request under /api/v1/ (or an absolute path when `path` starts with "/"), with the kept
  // session cookie and CSRF token and `extra_headers`.
  http_answer request(const std::string& method, const std::string& path,
                      const std::string& body = {},
                      const std::map<std::string, std::string>& extra_headers = {});

  // "__Host-aterm_session=..." of the last login, "" for none.
  const std::string& cookie() const { return cookie_; }
  const std::string& csrf() const { return csrf_; }
  // Sends this cookie (or X-CSRF-Token) from now on, "" for none: e.g. a session taken from
  // another client, or a missing or wrong token.
  void use_cookie(std::string cookie) { cookie_ = std::move(cookie); }
  void use_csrf(std::string csrf) { csrf_ = std::move(csrf); }

 private:
  int port_;
  tls_options options_;
  bool keep_connection_ = false;
  std::unique_ptr<https_connection> kept_;  // open between requests only when keep_connection_
  std::string cookie_;
  std::string csrf_;
};

}  // namespace aterm::test
