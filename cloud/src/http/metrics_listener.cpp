#include "aterm/cloud/http/metrics_listener.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <thread>

#include "aterm/cloud/http/limits.h"
#include "aterm/cloud/http/message.h"
#include "aterm/cloud/http/router.h"
#include "aterm/cloud/http/server.h"
#include "aterm/common/log.h"

namespace aterm::cloud::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

// A scrape is a GET: anything larger is not one.
constexpr std::uint64_t k_max_body_bytes = 1024;
constexpr std::chrono::seconds k_write_timeout{10};

}  // namespace

struct metrics_listener::state {
  state(metrics_listener_settings s, const router& r) : settings(std::move(s)), routes(r) {}
  void do_accept();

  metrics_listener_settings settings;
  const router& routes;
  std::size_t open = 0;  // on the I/O thread; declared first, sessions count down here last
  asio::io_context ioc{1};
  std::optional<tcp::acceptor> acceptor;
  std::thread thread;
  std::uint16_t bound_port = 0;
  bool started = false;
  bool stopped = false;
};

namespace {

// One request and its answer on the listener's single I/O thread.
class metrics_session : public std::enable_shared_from_this<metrics_session> {
 public:
  metrics_session(metrics_listener::state& st, tcp::socket socket)
      : st_(st), stream_(std::move(socket)) {
    ++st_.open;
  }
  ~metrics_session() { --st_.open; }

  void run() {
    beast::error_code ignored;
    auto peer = stream_.socket().remote_endpoint(ignored);
    peer_ = ignored ? std::string() : peer.address().to_string();
    parser_.header_limit(static_cast<std::uint32_t>(limits::k_max_header_bytes));
    parser_.body_limit(k_max_body_bytes);
    stream_.expires_after(st_.settings.header_timeout);
    bhttp::async_read(stream_, buffer_, parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        self->answer();
                      });
  }

 private:
  void answer() {
    auto msg = parser_.release();
    request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (const auto& f : msg) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace(std::move(name), std::string(f.value()));
    }
    req.peer_address = peer_;
    req.client_address = peer_;
    req.received = std::chrono::steady_clock::now();
    response res = st_.routes.dispatch(req);
    out_.version(msg.version());
    out_.result(res.status);
    out_.set(bhttp::field::content_type, res.content_type);
    out_.keep_alive(false);
    out_.body() = std::move(res.body);
    out_.prepare_payload();
    if (msg.method() == bhttp::verb::head) out_.body().clear();
    stream_.expires_after(k_write_timeout);
    bhttp::async_write(stream_, out_, [self = shared_from_this()](beast::error_code, std::size_t) {
      self->close();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  metrics_listener::state& st_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bhttp::request_parser<bhttp::string_body> parser_;
  bhttp::response<bhttp::string_body> out_;
  std::string peer_;
};

}  // namespace

void metrics_listener::state::do_accept() {
  acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) {
      // The public listener's back-off is not needed here: loopback only, a handful of peers.
      common::log(common::log_level::warn, "http", "metrics accept failed",
                  {{"error", ec.message()}});
    } else if (open < limits::k_max_metrics_connections) {
      std::make_shared<metrics_session>(*this, std::move(socket))->run();
    }
    do_accept();
  });
}

common::result<metrics_listener_settings> metrics_listener_settings_from(const common::config& c) {
  metrics_listener_settings s;
  s.header_timeout = std::chrono::milliseconds(c.get_int("http.header_timeout_ms"));
  auto text = c.get_string("http.metrics_listen");
  if (text.empty()) {
    s.host.clear();
    s.port = 0;
    return s;
  }
  auto listen = parse_listen(text);
  if (!listen.ok()) {
    return common::status::error(
        "config_bad_value", "http.metrics_listen must be host:port or \"\", got \"" + text + "\"");
  }
  s.host = listen->first;
  s.port = listen->second;
  return s;
}

metrics_listener::metrics_listener(metrics_listener_settings settings, const router& r)
    : impl_(std::make_unique<state>(std::move(settings), r)) {}

metrics_listener::~metrics_listener() {
  stop();
}

common::status metrics_listener::start() {
  auto& m = *impl_;
  if (m.started || m.settings.host.empty()) return {};
  beast::error_code ec;
  auto address = asio::ip::make_address(m.settings.host, ec);
  if (ec) {
    return common::status::error("listen",
                                 "bad metrics listen address \"" + m.settings.host + "\"");
  }
  tcp::endpoint endpoint{address, m.settings.port};
  m.acceptor.emplace(m.ioc);
  m.acceptor->open(endpoint.protocol(), ec);
  if (!ec) m.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor->bind(endpoint, ec);
  if (!ec) m.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    m.acceptor.reset();
    return common::status::error("listen", "http.metrics_listen " + m.settings.host + ":" +
                                               std::to_string(m.settings.port) + ": " +
                                               ec.message());
  }
  m.bound_port = m.acceptor->local_endpoint().port();
  m.started = true;
  m.do_accept();
  m.thread = std::thread([&m] {
    for (;;) {
      try {
        m.ioc.run();
        return;
      } catch (const std::exception& e) {
        common::log(common::log_level::error, "http", "metrics I/O thread caught",
                    {{"what", e.what()}});
      }
    }
  });
  common::log(common::log_level::info, "http", "metrics listening",
              {{"host", m.settings.host}, {"port", static_cast<int>(m.bound_port)}});
  return {};
}

std::uint16_t metrics_listener::port() const {
  return impl_->bound_port;
}

void metrics_listener::stop() {
  auto& m = *impl_;
  if (!m.started || m.stopped) return;
  m.stopped = true;
  m.ioc.stop();
  m.thread.join();
  beast::error_code ignored;
  m.acceptor->close(ignored);
}

}  // namespace aterm::cloud::http
