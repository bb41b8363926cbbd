#include "aterm/test/https_client.h"

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/system/system_error.hpp>
#include <cctype>

namespace aterm::test {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

// JSON nesting the tests read (the daemon's answers are shallow; this only bounds the parser).
constexpr int k_answer_json_depth = 32;

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

http_answer to_answer(bhttp::response<bhttp::string_body>&& res) {
  http_answer a;
  a.status = res.result_int();
  a.keep_alive = res.keep_alive();
  for (const auto& f : res) a.headers[lower(std::string(f.name_string()))] = std::string(f.value());
  if (auto it = res.find(bhttp::field::set_cookie); it != res.end()) {
    a.set_cookie = std::string(it->value());
  }
  a.body = std::move(res.body());
  if (auto parsed = common::parse_json(a.body, {k_https_body_limit, k_answer_json_depth});
      parsed.ok()) {
    a.json = std::move(parsed).value();
  }
  return a;
}

}  // namespace

std::string http_answer::str(const char* key) const {
  if (!json) return {};
  return common::json_string(json.get(), key).value_or("");
}

std::int64_t http_answer::num(const char* key) const {
  if (!json) return -1;
  return common::json_int(json.get(), key).value_or(-1);
}

std::string http_answer::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

struct https_connection::impl {
  int port;
  tls_options options;
  net::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  error_code last_error;

  // Runs one asynchronous operation to its end on this connection's io_context.
  template <typename Start>
  error_code run(Start&& start) {
    error_code out;
    start([&out](error_code ec, auto&&...) { out = ec; });
    ioc.restart();
    ioc.run();
    return out;
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(*stream); }
};

https_connection::https_connection(int port, tls_options options)
    : impl_(std::make_unique<impl>()) {
  impl_->port = port;
  impl_->options = std::move(options);
  auto& ctx = impl_->ctx;
  if (impl_->options.ca_file.empty()) {
    ctx.set_verify_mode(ssl::verify_none);
  } else {
    ctx.load_verify_file(impl_->options.ca_file);
    ctx.set_verify_mode(ssl::verify_peer);
  }
  if (impl_->options.max_tls_version != 0) {
    // Level 0 lets OpenSSL 3 offer TLS 1.0/1.1 at all, so a refusal is the server's.
    SSL_CTX_set_security_level(ctx.native_handle(), 0);
    SSL_CTX_set_cipher_list(ctx.native_handle(), "DEFAULT:@SECLEVEL=0");
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx.native_handle(), impl_->options.max_tls_version);
  }
  impl_->stream.emplace(impl_->ioc, ctx);
  SSL_set_tlsext_host_name(impl_->stream->native_handle(), "localhost");
}

https_connection::~https_connection() = default;
https_connection::https_connection(https_connection&&) noexcept = default;
https_connection& https_connection::operator=(https_connection&&) noexcept = default;

error_code https_connection::connect(std::chrono::milliseconds timeout) {
  error_code ec;
  auto local = net::ip::make_address(impl_->options.local_address, ec);
  if (ec) return ec;
  auto& socket = impl_->lowest().socket();
  socket.open(local.is_v4() ? tcp::v4() : tcp::v6(), ec);
  if (!ec) socket.bind(tcp::endpoint(local, 0), ec);
  if (ec) return ec;
  tcp::endpoint server(net::ip::make_address(local.is_v4() ? "127.0.0.1" : "::1"),
                       static_cast<unsigned short>(impl_->port));
  impl_->lowest().expires_after(timeout);
  ec = impl_->run([&](auto h) { impl_->lowest().async_connect(server, h); });
  if (ec) return ec;
  if (impl_->options.no_delay) socket.set_option(tcp::no_delay(true), ec);
  if (ec) return ec;
  impl_->lowest().expires_after(timeout);
  return impl_->run([&](auto h) { impl_->stream->async_handshake(ssl::stream_base::client, h); });
}

error_code https_connection::send_raw(const std::string& bytes, std::chrono::milliseconds timeout) {
  impl_->lowest().expires_after(timeout);
  return impl_->run([&](auto h) { net::async_write(*impl_->stream, net::buffer(bytes), h); });
}

std::optional<http_answer> https_connection::request(
    const std::string& method, const std::string& target, const std::string& body,
    const std::map<std::string, std::string>& headers, std::chrono::milliseconds timeout) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, "localhost");
  for (const auto& [name, value] : headers) req.set(name, value);
  if (!body.empty()) {
    if (req[bhttp::field::content_type].empty()) {
      req.set(bhttp::field::content_type, "application/json");
    }
    req.body() = body;
  }
  req.prepare_payload();
  impl_->lowest().expires_after(timeout);
  impl_->last_error = impl_->run([&](auto h) { bhttp::async_write(*impl_->stream, req, h); });
  if (impl_->last_error) return std::nullopt;
  return read_response(timeout);
}

std::optional<http_answer> https_connection::read_response(std::chrono::milliseconds timeout) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(k_https_body_limit);
  impl_->lowest().expires_after(timeout);
  impl_->last_error =
      impl_->run([&](auto h) { bhttp::async_read(*impl_->stream, impl_->buffer, parser, h); });
  if (impl_->last_error) return std::nullopt;
  return to_answer(parser.release());
}

bool https_connection::closed_by_server(std::chrono::milliseconds timeout) {
  impl_->lowest().expires_after(timeout);
  char byte;
  auto ec = impl_->run([&](auto h) { impl_->stream->async_read_some(net::buffer(&byte, 1), h); });
  return ec && ec != beast::error::timeout;
}

void https_connection::shutdown(std::chrono::milliseconds timeout) {
  impl_->lowest().expires_after(timeout);
  impl_->run([&](auto h) { impl_->stream->async_shutdown(h); });
}

const error_code& https_connection::error() const {
  return impl_->last_error;
}

http_answer plain_http_get(int port, const std::string& target) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(k_https_request_timeout);
  stream.connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  bhttp::request<bhttp::empty_body> req(bhttp::verb::get, target, 11);
  req.set(bhttp::field::host, "127.0.0.1");
  bhttp::write(stream, req);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(k_https_body_limit);
  bhttp::read(stream, buffer, parser);
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return to_answer(parser.release());
}

https_client::https_client(int port, std::string ca_file, std::string local_address) : port_(port) {
  options_.ca_file = std::move(ca_file);
  options_.local_address = std::move(local_address);
}

https_client::https_client(int port, tls_options options, bool keep_connection)
    : port_(port), options_(std::move(options)), keep_connection_(keep_connection) {}

https_client::~https_client() = default;
https_client::https_client(https_client&&) noexcept = default;
https_client& https_client::operator=(https_client&&) noexcept = default;

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

http_answer replace_first_password(https_client& c, const std::string& company,
                                   const std::string& login, const std::string& first,
                                   const std::string& chosen) {
  auto in = c.login(company, login, first);
  if (in.status != 200) return in;
  const cJSON* acct = cJSON_GetObjectItemCaseSensitive(in.json.get(), "account");
  const cJSON* id = cJSON_GetObjectItemCaseSensitive(acct, "id");
  common::json_ptr body(cJSON_CreateObject());
  cJSON_AddStringToObject(body.get(), "current_password", first.c_str());
  cJSON_AddStringToObject(body.get(), "password", chosen.c_str());
  auto changed =
      c.request("POST",
                "accounts/" + std::to_string(static_cast<std::int64_t>(cJSON_GetNumberValue(id))) +
                    "/password",
                common::print_json(body.get()));
  c.use_cookie({});
  c.use_csrf({});
  return changed;
}

http_answer https_client::request(const std::string& method, const std::string& path,
                                  const std::string& body,
                                  const std::map<std::string, std::string>& extra_headers) {
  std::map<std::string, std::string> headers;
  if (!cookie_.empty()) headers["Cookie"] = cookie_;
  if (!csrf_.empty()) headers["X-CSRF-Token"] = csrf_;
  for (const auto& [name, value] : extra_headers) headers[name] = value;
  const auto target = path.starts_with("/") ? path : "/api/v1/" + path;
  for (int attempt = 0;; ++attempt) {
    const bool retry = keep_connection_ && attempt == 0;
    if (!kept_) {
      auto fresh = std::make_unique<https_connection>(port_, options_);
      if (auto ec = fresh->connect(k_https_request_timeout)) {
        if (retry) continue;
        throw boost::system::system_error(ec, "connect 127.0.0.1:" + std::to_string(port_));
      }
      kept_ = std::move(fresh);
    }
    auto answer = kept_->request(method, target, body, headers, k_https_request_timeout);
    if (!answer) {
      auto ec = kept_->error();
      kept_.reset();
      if (retry) continue;
      throw boost::system::system_error(ec, method + " " + path);
    }
    if (!keep_connection_ || !answer->keep_alive) {
      kept_->shutdown(k_https_step_timeout);
      kept_.reset();
    }
    return std::move(*answer);
  }
}

}  // namespace aterm::test
