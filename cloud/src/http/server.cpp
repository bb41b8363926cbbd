#include "aterm/cloud/http/server.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "aterm/cloud/http/message.h"
#include "aterm/cloud/http/metrics.h"
#include "aterm/cloud/http/router.h"
#include "aterm/cloud/security/ip_allowlist.h"
#include "aterm/cloud/security/login_throttle.h"
#include "aterm/common/log.h"

namespace aterm::cloud::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// Mozilla "intermediate" TLS 1.2 suites (forward secrecy, AEAD only); TLS 1.3 keeps its defaults.
constexpr const char* k_tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// Time granted to a TLS close_notify exchange before the socket is simply closed.
constexpr std::chrono::seconds k_shutdown_timeout{2};
// Grace after stop_timeout for force-closed connections to unwind.
constexpr std::chrono::seconds k_force_close_grace{2};

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_http_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category();
}

}  // namespace

class connection;

namespace detail {

struct server_state {
  server_state(server_settings s, const router& r, metrics_registry& m)
      : settings(std::move(s)),
        routes(r),
        metrics(m),
        ioc(static_cast<int>(std::max<std::size_t>(1, settings.io_threads))),
        open_connections(m.get_gauge("aterm_http_connections_open", "Open HTTPS connections")),
        accepted(m.get_counter("aterm_http_connections_total", "Accepted HTTPS connections")) {}

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void on_accept_error(const beast::error_code& ec);
  void shed_one_connection();
  // REQUIRES: mu held.
  void release_address(const std::string& key, bool handshaking);
  void reject(std::string_view reason) {
    metrics
        .get_counter("aterm_http_rejected_total",
                     "Connections or requests refused before routing, by reason",
                     {{"reason", std::string(reason)}})
        .inc();
  }

  server_settings settings;
  const router& routes;
  metrics_registry& metrics;

  // Declared before the io_context: connections deregister here when the io_context destroys
  // their pending handlers.
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<connection*, std::weak_ptr<connection>> connections;
  struct address_load {
    std::size_t connections = 0;
    std::size_t handshakes = 0;
  };
  std::unordered_map<std::string, address_load> per_address;  // guarded by mu
  bool stopping = false;                                      // guarded by mu
  std::size_t max_connections = limits::k_max_connections;    // set by start()

  ssl::context tls{ssl::context::tls_server};
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  // On the acceptor's strand, as are the three below.
  std::optional<asio::steady_timer> accept_timer;
  std::chrono::milliseconds accept_backoff{0};
  std::chrono::steady_clock::time_point accept_error_logged{};
  std::uint64_t accept_errors_unlogged = 0;
  // Closed to accept-and-close the connection that waits while descriptors are exhausted.
  int reserve_fd = -1;
  std::optional<asio::thread_pool> workers;
  std::vector<std::thread> io_threads;
  std::uint16_t bound_port = 0;
  bool started = false;
  bool stopped = false;

  gauge& open_connections;
  counter& accepted;
};

}  // namespace detail

using detail::server_state;

// One TLS connection. Every member is touched only on the connection's strand (the executor of
// stream_), except the request handed to the worker pool, which is moved there.
class connection : public std::enable_shared_from_this<connection> {
 public:
  // REQUIRES: the caller counted the connection and its handshake under `address_key`.
  connection(server_state& srv, tcp::socket&& socket, std::string peer, std::string address_key)
      : srv_(srv),
        stream_(std::move(socket), srv.tls),
        peer_(std::move(peer)),
        address_key_(std::move(address_key)) {
    srv_.open_connections.add(1);
  }

  ~connection() {
    srv_.open_connections.add(-1);
    std::lock_guard lock(srv_.mu);
    srv_.release_address(address_key_, handshaking_);
    srv_.connections.erase(this);
    srv_.cv.notify_all();
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }

  void run() {
    asio::dispatch(executor(), [self = shared_from_this()] { self->start_handshake(); });
  }

  // Server stop: a connection waiting for a request closes now; one busy with a request
  // finishes it and closes after answering.
  void begin_stop() {
    stopping_ = true;
    if (phase_ == phase::waiting) close();
  }

  void force_close() { close(); }

 private:
  enum class phase { handshake, waiting, reading_body, handling, writing, closing };

  void start_handshake() {
    phase_ = phase::handshake;
    beast::get_lowest_layer(stream_).expires_after(srv_.settings.handshake_timeout);
    stream_.async_handshake(
        ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
          if (ec) {
            self->srv_.reject(ec == beast::error::timeout ? "handshake_timeout" : "tls_handshake");
            return self->close();
          }
          self->handshake_done();
          self->read_header(true);
        });
  }

  void handshake_done() {
    std::lock_guard lock(srv_.mu);
    if (auto it = srv_.per_address.find(address_key_); it != srv_.per_address.end()) {
      --it->second.handshakes;
    }
    handshaking_ = false;
  }

  void wait_for_request() {
    phase_ = phase::waiting;
    if (stopping_) return close();
    if (buffer_.size() > 0) return read_header(false);
    // Keep-alive: the idle timeout runs until the first byte of the next request.
    beast::get_lowest_layer(stream_).expires_after(srv_.settings.idle_timeout);
    stream_.async_read_some(buffer_.prepare(1024),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->read_header(false);
                            });
  }

  void read_header(bool first) {
    phase_ = phase::waiting;
    if (stopping_ && !first && buffer_.size() == 0) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits::k_max_header_bytes));
    parser_->body_limit(srv_.settings.body_limit);
    beast::get_lowest_layer(stream_).expires_after(srv_.settings.header_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    phase_ = phase::reading_body;
    if (parser_->is_done()) return handle();
    beast::get_lowest_layer(stream_).expires_after(srv_.settings.body_timeout);
    const auto& msg = parser_->get();
    auto expect = msg[bhttp::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      continue_.emplace(bhttp::status::continue_, msg.version());
      bhttp::async_write(stream_, *continue_,
                         [self = shared_from_this()](beast::error_code wec, std::size_t) {
                           if (wec) return self->close();
                           self->read_body();
                         });
      return;
    }
    read_body();
  }

  void read_body() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->on_read_error(ec);
                        self->handle();
                      });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      srv_.reject("body_limit");
      return write(error_response(413, "too_large", "request body too large"), true);
    }
    if (ec == bhttp::error::header_limit) {
      srv_.reject("header_limit");
      return write(error_response(431, "headers_too_large", "request headers too large"), true);
    }
    if (ec == beast::error::timeout) {
      srv_.reject(phase_ == phase::reading_body ? "body_timeout" : "header_timeout");
      return close();
    }
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
        !is_http_error(ec)) {
      return close();
    }
    srv_.reject("bad_request");
    write(error_response(400, "bad_request", "malformed HTTP request"), true);
  }

  void handle() {
    phase_ = phase::handling;
    auto msg = parser_->release();
    parser_.reset();
    version_ = msg.version();
    keep_alive_ = msg.keep_alive();
    head_ = msg.method() == bhttp::verb::head;

    request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (const auto& f : msg) {
      auto name = lowercase({f.name_string().data(), f.name_string().size()});
      auto [it, inserted] = req.headers.emplace(name, std::string(f.value()));
      if (!inserted) it->second += (name == "cookie" ? "; " : ", ") + std::string(f.value());
    }
    req.body = std::move(msg.body());
    req.peer_address = peer_;
    req.received = std::chrono::steady_clock::now();

    asio::post(srv_.workers->get_executor(),
               [self = shared_from_this(), req = std::move(req)]() mutable {
                 auto answer = [self](response res) {
                   asio::post(self->executor(), [self, res = std::move(res)]() mutable {
                     self->write(std::move(res), false);
                   });
                 };
                 response res = self->run_handler(req);
                 if (res.deferred) {
                   auto start = std::move(res.deferred);
                   return start(std::move(answer));
                 }
                 answer(std::move(res));
               });
  }

  // Runs on a worker thread; touches only `req` and the immutable server parts.
  response run_handler(request& req) {
    if (srv_.settings.client_address) {
      const auto* xff = req.header("x-forwarded-for");
      req.client_address =
          srv_.settings.client_address(req.peer_address, xff ? std::string_view(*xff) : "");
      if (req.client_address.empty()) {
        return error_response(400, "bad_forwarded_for", "malformed X-Forwarded-For");
      }
    } else {
      req.client_address = req.peer_address;
    }
    return srv_.routes.dispatch(req);
  }

  void write(response res, bool error_close) {
    phase_ = phase::writing;
    add_security_headers(res);
    bool keep = keep_alive_ && !error_close && !res.close && !stopping_;
    out_.emplace();
    out_->version(version_);
    out_->result(res.status);
    out_->set(bhttp::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers) out_->insert(name, value);
    out_->keep_alive(keep);
    // 1xx, 204 and 304 carry no body (Beast refuses to frame one).
    if (res.status < 200 || res.status == 204 || res.status == 304) res.body.clear();
    out_->body() = std::move(res.body);
    out_->prepare_payload();
    if (head_) out_->body().clear();
    keep_alive_ = keep;
    beast::get_lowest_layer(stream_).expires_after(srv_.settings.write_timeout);
    bhttp::async_write(stream_, *out_,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         self->out_.reset();
                         if (ec) return self->close();
                         if (!self->keep_alive_) return self->shutdown();
                         self->head_ = false;
                         self->version_ = 11;
                         self->wait_for_request();
                       });
  }

  void shutdown() {
    phase_ = phase::closing;
    beast::get_lowest_layer(stream_).expires_after(k_shutdown_timeout);
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->close(); });
  }

  void close() {
    phase_ = phase::closing;
    beast::get_lowest_layer(stream_).close();
  }

  server_state& srv_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  std::string peer_;
  std::string address_key_;
  bool handshaking_ = true;  // guarded by srv_.mu (the destructor may run on any thread)
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  std::optional<bhttp::response<bhttp::string_body>> out_;
  phase phase_ = phase::handshake;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  bool stopping_ = false;
};

void server_state::do_accept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void server_state::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
  if (ec) return on_accept_error(ec);
  accept_backoff = std::chrono::milliseconds{0};
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto endpoint = socket.remote_endpoint(ignored);
  std::string peer = ignored ? std::string() : endpoint.address().to_string();
  // One key per address, an IPv6 /64 as one, as the login throttle counts them.
  auto parsed = security::ip_address::parse(peer);
  std::string key = parsed ? security::throttle_key(*parsed) : peer;
  std::shared_ptr<connection> conn;
  {
    std::lock_guard lock(mu);
    if (stopping) return;
    auto& load = per_address[key];
    const char* refusal = nullptr;
    if (connections.size() >= max_connections) {
      refusal = "too_many_connections";
    } else if (load.connections >= settings.max_connections_per_address) {
      refusal = "too_many_connections_per_address";
    } else if (load.handshakes >= settings.max_handshakes_per_address) {
      refusal = "too_many_handshakes_per_address";
    }
    if (refusal != nullptr) {
      if (load.connections == 0) per_address.erase(key);
      reject(refusal);
      socket.close(ignored);
      return do_accept();
    }
    ++load.connections;
    ++load.handshakes;
    conn = std::make_shared<connection>(*this, std::move(socket), std::move(peer), key);
    connections.emplace(conn.get(), conn);
  }
  accepted.inc();
  conn->run();
  do_accept();
}

void server_state::release_address(const std::string& key, bool handshaking) {
  auto it = per_address.find(key);
  if (it == per_address.end()) return;
  --it->second.connections;
  if (handshaking) --it->second.handshakes;
  if (it->second.connections == 0) per_address.erase(it);
}

// Retrying at once would spin on the same error (the waiting connection stays queued while
// descriptors are exhausted): shed that connection, log at most once per interval, and wait.
void server_state::on_accept_error(const beast::error_code& ec) {
  reject("accept_error");
  ++accept_errors_unlogged;
  auto now = std::chrono::steady_clock::now();
  if (accept_error_logged == std::chrono::steady_clock::time_point{} ||
      now - accept_error_logged >= limits::k_accept_error_log_interval) {
    common::log(common::log_level::warn, "http", "accept failed",
                {{"error", ec.message()},
                 {"errors_since_last_line", static_cast<std::int64_t>(accept_errors_unlogged)}});
    accept_error_logged = now;
    accept_errors_unlogged = 0;
  }
  if (ec == asio::error::no_descriptors || ec.value() == ENFILE) shed_one_connection();
  accept_backoff = accept_backoff.count() == 0
                       ? limits::k_accept_backoff_min
                       : std::min(accept_backoff * 2, limits::k_accept_backoff_max);
  accept_timer->expires_after(accept_backoff);
  accept_timer->async_wait([this](beast::error_code wait_ec) {
    if (wait_ec || !acceptor->is_open()) return;
    do_accept();
  });
}

void server_state::shed_one_connection() {
  if (reserve_fd < 0) return;
  ::close(reserve_fd);
  int fd = ::accept4(acceptor->native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) {
    reject("shed_no_descriptors");
    ::close(fd);
  }
  reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

namespace {

// The connection cap that fits under RLIMIT_NOFILE, after raising its soft limit towards what the
// cap needs (never above the hard limit).
std::size_t fit_connection_cap() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return limits::k_max_connections;
  const rlim_t wanted = limits::k_max_connections + limits::k_reserved_descriptors;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < wanted) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, rl.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  std::size_t cap = limits::k_max_connections;
  if (rl.rlim_cur != RLIM_INFINITY) {
    auto soft = static_cast<std::size_t>(rl.rlim_cur);
    std::size_t reserved = std::min(limits::k_reserved_descriptors, soft / 2);
    cap = std::clamp(soft - reserved, limits::k_min_connections, limits::k_max_connections);
  }
  common::log(common::log_level::info, "http", "descriptor limit",
              {{"soft", rl.rlim_cur == RLIM_INFINITY ? std::int64_t{-1}
                                                     : static_cast<std::int64_t>(rl.rlim_cur)},
               {"hard", rl.rlim_max == RLIM_INFINITY ? std::int64_t{-1}
                                                     : static_cast<std::int64_t>(rl.rlim_max)},
               {"max_connections", static_cast<std::int64_t>(cap)}});
  return cap;
}

}  // namespace

common::result<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view listen) {
  auto bad = [&] {
    return common::status::error(
        "bad_listen", "http.listen must be host:port, got \"" + std::string(listen) + "\"");
  };
  std::string host;
  std::string_view port_text;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return bad();
    }
    host = std::string(listen.substr(1, close - 1));
    port_text = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return bad();
    host = std::string(listen.substr(0, colon));
    if (host.find(':') != std::string::npos) return bad();
    port_text = listen.substr(colon + 1);
  }
  if (host.empty() || port_text.empty() || port_text.size() > 5) return bad();
  unsigned port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return bad();
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port > 65535) return bad();
  return std::pair{host, static_cast<std::uint16_t>(port)};
}

common::config_schema server_config_keys() {
  using common::config_type;
  auto ms = [](std::string name, std::int64_t def) {
    return common::config_key{std::move(name), config_type::integer, def, false, 1, 3'600'000};
  };
  return {
      {"http.listen", config_type::string, std::string("127.0.0.1:8443"), false, {}, {}},
      {"http.cert", config_type::string, std::string(), false, {}, {}},
      {"http.key", config_type::string, std::string(), false, {}, {}},
      {"http.trusted_proxies", config_type::string_list, std::vector<std::string>{}, false, {}, {}},
      {"http.static_dir",
       config_type::string,
       std::string(ATERM_DEFAULT_STATIC_DIR),
       false,
       {},
       {}},
      {"http.body_limit", config_type::integer,
       static_cast<std::int64_t>(limits::k_default_body_limit), false, 1024, 64 * 1024 * 1024},
      {"http.io_threads", config_type::integer, std::int64_t{2}, false, 1, 64},
      {"http.worker_threads", config_type::integer, std::int64_t{4}, false, 1, 256},
      ms("http.handshake_timeout_ms", 5'000),
      ms("http.header_timeout_ms", 10'000),
      ms("http.body_timeout_ms", 30'000),
      ms("http.idle_timeout_ms", 60'000),
      {"http.max_connections_per_address", config_type::integer,
       static_cast<std::int64_t>(limits::k_default_connections_per_address), false, 1,
       static_cast<std::int64_t>(limits::k_max_connections)},
      {"http.max_handshakes_per_address", config_type::integer,
       static_cast<std::int64_t>(limits::k_default_handshakes_per_address), false, 1,
       static_cast<std::int64_t>(limits::k_max_connections)},
      {"http.public_origin", config_type::string, std::string(), false, {}, {}},
      {"http.metrics_listen",
       config_type::string,
       std::string(k_default_metrics_listen),
       false,
       {},
       {}},
  };
}

common::result<server_settings> server_settings_from(const common::config& c) {
  server_settings s;
  auto listen = parse_listen(c.get_string("http.listen"));
  if (!listen.ok()) return common::status::error("config_bad_value", listen.error().message());
  s.host = listen->first;
  s.port = listen->second;
  s.cert_file = c.get_string("http.cert");
  s.key_file = c.get_string("http.key");
  s.body_limit = static_cast<std::size_t>(c.get_int("http.body_limit"));
  s.io_threads = static_cast<std::size_t>(c.get_int("http.io_threads"));
  s.worker_threads = static_cast<std::size_t>(c.get_int("http.worker_threads"));
  s.handshake_timeout = std::chrono::milliseconds(c.get_int("http.handshake_timeout_ms"));
  s.header_timeout = std::chrono::milliseconds(c.get_int("http.header_timeout_ms"));
  s.body_timeout = std::chrono::milliseconds(c.get_int("http.body_timeout_ms"));
  s.idle_timeout = std::chrono::milliseconds(c.get_int("http.idle_timeout_ms"));
  s.max_connections_per_address =
      static_cast<std::size_t>(c.get_int("http.max_connections_per_address"));
  s.max_handshakes_per_address =
      static_cast<std::size_t>(c.get_int("http.max_handshakes_per_address"));
  auto proxies = security::ip_allowlist::parse(c.get_list("http.trusted_proxies"));
  if (!proxies.ok()) {
    return common::status::error("config_bad_value",
                                 "http.trusted_proxies: " + proxies.error().message());
  }
  s.client_address = trusted_proxy_client_address(std::move(*proxies));
  return s;
}

client_address_fn trusted_proxy_client_address(security::ip_allowlist trusted_proxies) {
  return [proxies = std::move(trusted_proxies)](std::string_view peer,
                                                std::string_view forwarded_for) -> std::string {
    auto peer_ip = security::ip_address::parse(peer);
    if (!peer_ip) return std::string(peer);
    std::optional<std::string_view> xff;
    if (!forwarded_for.empty()) xff = forwarded_for;
    auto client = security::client_address(*peer_ip, xff, proxies);
    return client.ok() ? client->to_string() : std::string();
  };
}

std::string static_dir_from(const common::config& c) {
  return c.get_string("http.static_dir");
}

server::server(server_settings settings, const router& r, metrics_registry& metrics)
    : impl_(std::make_unique<server_state>(std::move(settings), r, metrics)) {}

server::~server() {
  stop();
}

common::status server::start() {
  auto& m = *impl_;
  if (m.started) return common::status::error("state", "server already started");
  beast::error_code ec;
  m.tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                        ssl::context::single_dh_use,
                    ec);
  SSL_CTX_set_min_proto_version(m.tls.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_options(m.tls.native_handle(), SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(m.tls.native_handle(), k_tls12_ciphers) != 1) {
    return common::status::error("tls_config", "cipher list refused by OpenSSL");
  }
  m.tls.use_certificate_chain_file(m.settings.cert_file, ec);
  if (ec) {
    return common::status::error("tls_config",
                                 "http.cert \"" + m.settings.cert_file + "\": " + ec.message());
  }
  m.tls.use_private_key_file(m.settings.key_file, ssl::context::pem, ec);
  if (ec || SSL_CTX_check_private_key(m.tls.native_handle()) != 1) {
    // The message names the file only; key material never reaches a log.
    return common::status::error("tls_config", "http.key \"" + m.settings.key_file +
                                                   "\" unreadable or not matching http.cert");
  }

  auto address = asio::ip::make_address(m.settings.host, ec);
  if (ec) return common::status::error("listen", "bad listen address \"" + m.settings.host + "\"");
  tcp::endpoint endpoint{address, m.settings.port};
  m.acceptor.emplace(asio::make_strand(m.ioc));
  m.acceptor->open(endpoint.protocol(), ec);
  if (!ec) m.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor->bind(endpoint, ec);
  if (!ec) m.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    m.acceptor.reset();
    return common::status::error(
        "listen", m.settings.host + ":" + std::to_string(m.settings.port) + ": " + ec.message());
  }
  m.bound_port = m.acceptor->local_endpoint().port();
  m.started = true;
  m.max_connections = fit_connection_cap();
  m.reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  m.accept_timer.emplace(m.acceptor->get_executor());

  m.workers.emplace(std::max<std::size_t>(1, m.settings.worker_threads));
  m.work.emplace(m.ioc.get_executor());
  asio::dispatch(m.acceptor->get_executor(), [&m] { m.do_accept(); });
  for (std::size_t i = 0; i < std::max<std::size_t>(1, m.settings.io_threads); ++i) {
    m.io_threads.emplace_back([&m] {
      for (;;) {
        try {
          m.ioc.run();
          return;
        } catch (const std::exception& e) {
          common::log(common::log_level::error, "http", "I/O thread caught", {{"what", e.what()}});
        }
      }
    });
  }
  common::log(common::log_level::info, "http", "listening",
              {{"host", m.settings.host}, {"port", static_cast<int>(m.bound_port)}});
  return {};
}

std::uint16_t server::port() const {
  return impl_->bound_port;
}

std::size_t server::max_connections() const {
  return impl_->max_connections;
}

void server::stop() {
  auto& m = *impl_;
  if (!m.started || m.stopped) return;
  m.stopped = true;

  std::vector<std::shared_ptr<connection>> live;
  {
    std::lock_guard lock(m.mu);
    m.stopping = true;
    for (auto& [_, weak] : m.connections) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  asio::post(m.acceptor->get_executor(), [&m] {
    beast::error_code ignored;
    m.acceptor->close(ignored);
    m.accept_timer->cancel();
  });
  for (auto& c : live) asio::post(c->executor(), [c] { c->begin_stop(); });
  live.clear();

  {
    std::unique_lock lock(m.mu);
    if (!m.cv.wait_for(lock, m.settings.stop_timeout, [&] { return m.connections.empty(); })) {
      for (auto& [_, weak] : m.connections) {
        if (auto c = weak.lock()) live.push_back(std::move(c));
      }
    }
  }
  for (auto& c : live) asio::post(c->executor(), [c] { c->force_close(); });
  live.clear();
  {
    std::unique_lock lock(m.mu);
    m.cv.wait_for(lock, k_force_close_grace, [&] { return m.connections.empty(); });
  }

  m.work.reset();
  m.ioc.stop();
  for (auto& t : m.io_threads) t.join();
  m.io_threads.clear();
  m.workers->join();
  if (m.reserve_fd >= 0) ::close(m.reserve_fd);
  m.reserve_fd = -1;
  common::log(common::log_level::info, "http", "stopped",
              {{"port", static_cast<int>(m.bound_port)}});
}

}  // namespace aterm::cloud::http
