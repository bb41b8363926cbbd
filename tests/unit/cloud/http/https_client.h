// A small Beast HTTPS client for the server tests. Every operation runs on the client's own
// io_context with a deadline, so a server that never answers fails the test instead of hanging.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace aterm::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

using http_response = bhttp::response<bhttp::string_body>;

class https_client {
 public:
  // `max_tls`: e.g. TLS1_1_VERSION to offer only old protocols (0: library default).
  explicit https_client(std::uint16_t port, int max_tls = 0) : port_(port) {
    ctx_.set_verify_mode(asio::ssl::verify_none);
    if (max_tls != 0) {
      // Level 0 lets OpenSSL 3 offer TLS 1.0/1.1 at all, so a refusal is the server's.
      SSL_CTX_set_security_level(ctx_.native_handle(), 0);
      SSL_CTX_set_cipher_list(ctx_.native_handle(), "DEFAULT:@SECLEVEL=0");
      SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_VERSION);
      SSL_CTX_set_max_proto_version(ctx_.native_handle(), max_tls);
    }
    stream_.emplace(ioc_, ctx_);
  }

  beast::error_code connect(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto& tcp = beast::get_lowest_layer(*stream_);
    tcp.expires_after(timeout);
    asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port_);
    auto ec = run([&](auto h) { tcp.async_connect(ep, h); });
    if (ec) return ec;
    tcp.expires_after(timeout);
    return run([&](auto h) { stream_->async_handshake(asio::ssl::stream_base::client, h); });
  }

  beast::error_code send_raw(const std::string& bytes,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    beast::get_lowest_layer(*stream_).expires_after(timeout);
    return run([&](auto h) { asio::async_write(*stream_, asio::buffer(bytes), h); });
  }

  // Writes one request and reads the answer. nullopt on any error (error() tells which).
  std::optional<http_response> request(
      const std::string& method, const std::string& target, const std::string& body = {},
      const std::map<std::string, std::string>& headers = {},
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    if (req.method() == bhttp::verb::unknown) req.method_string(method);
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == "POST" || method == "PATCH") {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    beast::get_lowest_layer(*stream_).expires_after(timeout);
    last_error_ = run([&](auto h) { bhttp::async_write(*stream_, req, h); });
    if (last_error_) return std::nullopt;
    return read_response(timeout);
  }

  std::optional<http_response> read_response(
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    http_response res;
    beast::get_lowest_layer(*stream_).expires_after(timeout);
    last_error_ = run([&](auto h) { bhttp::async_read(*stream_, buffer_, res, h); });
    if (last_error_) return std::nullopt;
    return res;
  }

  // Waits up to `timeout` for the server to end the connection; true when it did (EOF, reset,
  // TLS close) and false on our own timeout or when data arrived.
  bool closed_by_server(std::chrono::milliseconds timeout) {
    beast::get_lowest_layer(*stream_).expires_after(timeout);
    char byte;
    auto ec = run([&](auto h) { stream_->async_read_some(asio::buffer(&byte, 1), h); });
    return ec && ec != beast::error::timeout;
  }

  const beast::error_code& error() const { return last_error_; }

 private:
  template <typename Start>
  beast::error_code run(Start&& start) {
    beast::error_code out;
    start([&out](beast::error_code ec, auto&&...) { out = ec; });
    ioc_.restart();
    ioc_.run();
    return out;
  }

  std::uint16_t port_;
  asio::io_context ioc_;
  asio::ssl::context ctx_{asio::ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
  beast::error_code last_error_;
};

}  // namespace aterm::test
