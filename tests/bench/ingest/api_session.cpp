#include "api_session.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <stdexcept>

namespace aterm::bench {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

std::string api_answer::str(const char* key) const {
  if (!json) return {};
  return common::json_string(json.get(), key).value_or("");
}

namespace {

ssl::context client_context(const std::string& ca_file) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(ca_file);
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

}  // namespace

// The context is configured before the stream is made from it: SSL_new copies its settings.
struct api_session::connection {
  net::io_context ioc;
  ssl::context ctx;
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buf;

  connection(int port, const std::string& ca_file)
      : ctx(client_context(ca_file)), stream(ioc, ctx) {
    auto& sock = beast::get_lowest_layer(stream);
    sock.expires_after(std::chrono::seconds(30));
    sock.connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    sock.socket().set_option(tcp::no_delay(true));
    stream.handshake(ssl::stream_base::client);
  }
};

api_session::api_session(int port, std::string ca_file)
    : port_(port), ca_file_(std::move(ca_file)) {}

api_session::~api_session() = default;

void api_session::login(const std::string& company, const std::string& login,
                        const std::string& password) {
  common::json_ptr body(cJSON_CreateObject());
  cJSON_AddStringToObject(body.get(), "company_id", company.c_str());
  cJSON_AddStringToObject(body.get(), "login_id", login.c_str());
  cJSON_AddStringToObject(body.get(), "password", password.c_str());
  cookie_.clear();
  csrf_.clear();
  std::string set_cookie;
  auto a = exchange("POST", "session", common::print_json(body.get()), &set_cookie);
  if (a.status != 200) throw std::runtime_error("login failed: " + std::to_string(a.status));
  cookie_ = set_cookie.substr(0, set_cookie.find(';'));
  csrf_ = a.str("csrf_token");
}

api_answer api_session::request(const std::string& method, const std::string& path,
                                const std::string& body) {
  return exchange(method, path, body, nullptr);
}

api_answer api_session::exchange(const std::string& method, const std::string& path,
                                 const std::string& body, std::string* set_cookie) {
  http::request<http::string_body> req;
  req.method(http::string_to_verb(method));
  req.target(path.starts_with("/") ? path : "/api/v1/" + path);
  req.version(11);
  req.keep_alive(true);
  req.set(http::field::host, "localhost");
  if (!cookie_.empty()) req.set(http::field::cookie, cookie_);
  if (!csrf_.empty()) req.set("X-CSRF-Token", csrf_);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();

  // A kept connection may have been closed by the server's idle timeout: one retry on a new one.
  for (int attempt = 0;; ++attempt) {
    try {
      if (!conn_) conn_ = std::make_unique<connection>(port_, ca_file_);
      beast::get_lowest_layer(conn_->stream).expires_after(std::chrono::seconds(30));
      http::write(conn_->stream, req);
      http::response<http::string_body> res;
      http::read(conn_->stream, conn_->buf, res);
      api_answer a;
      a.status = res.result_int();
      a.body = res.body();
      if (set_cookie != nullptr) {
        if (auto it = res.find(http::field::set_cookie); it != res.end())
          *set_cookie = std::string(it->value());
      }
      if (auto parsed = common::parse_json(a.body, {1 << 22, 32}); parsed.ok())
        a.json = std::move(parsed).value();
      if (!res.keep_alive()) conn_.reset();
      return a;
    } catch (const std::exception& e) {
      conn_.reset();
      if (attempt == 1) throw std::runtime_error(method + " " + path + ": " + e.what());
    }
  }
}

}  // namespace aterm::bench
