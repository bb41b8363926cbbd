#include "https_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>

namespace aterm::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

std::string http_answer::str(const char* key) const {
  if (!json) return {};
  return common::json_string(json.get(), key).value_or("");
}

http_answer https_client::login(const std::string& company, const std::string& login,
                                const std::string& password) {
  common::json_ptr body(cJSON_CreateObject());
  cJSON_AddStringToObject(body.get(), "company_id", company.c_str());
  cJSON_AddStringToObject(body.get(), "login_id", login.c_str());
  cJSON_AddStringToObject(body.get(), "password", password.c_str());
  cookie_.clear();
  csrf_.clear();
  auto a = request("POST", "session", common::print_json(body.get()));
  if (a.status == 200) {
    cookie_ = a.set_cookie.substr(0, a.set_cookie.find(';'));
    csrf_ = a.str("csrf_token");
  }
  return a;
}

http_answer https_client::request(const std::string& method, const std::string& path,
                                  const std::string& body) {
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(ca_file_);
  ctx.set_verify_mode(ssl::verify_peer);
  tcp::resolver resolver(ioc);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
  beast::get_lowest_layer(stream).connect(resolver.resolve("127.0.0.1", std::to_string(port_)));
  stream.handshake(ssl::stream_base::client);

  http::request<http::string_body> req;
  req.method(http::string_to_verb(method));
  req.target(path.starts_with("/") ? path : "/api/v1/" + path);
  req.version(11);
  req.set(http::field::host, "localhost");
  if (!cookie_.empty()) req.set(http::field::cookie, cookie_);
  if (!csrf_.empty()) req.set("X-CSRF-Token", csrf_);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  beast::error_code ignored;
  stream.shutdown(ignored);

  http_answer a;
  a.status = res.result_int();
  a.body = res.body();
  if (auto it = res.find(http::field::set_cookie); it != res.end()) {
    a.set_cookie = std::string(it->value());
  }
  if (auto parsed = common::parse_json(a.body, {1 << 20, 32}); parsed.ok()) {
    a.json = std::move(parsed).value();
  }
  return a;
}

}  // namespace aterm::test
