#include "accounts_stack.h"

#include <sqlite3.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace aterm::test {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

std::string answer::str(const char* key) const {
  if (!json) return {};
  return common::json_string(json.get(), key).value_or("");
}

std::int64_t answer::num(const char* key) const {
  if (!json) return -1;
  return common::json_int(json.get(), key).value_or(-1);
}

std::string answer::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

answer client::login(const std::string& company, const std::string& login,
                     const std::string& password) {
  common::json_ptr body(cJSON_CreateObject());
  cJSON_AddStringToObject(body.get(), "company_id", company.c_str());
  cJSON_AddStringToObject(body.get(), "login_id", login.c_str());
  cJSON_AddStringToObject(body.get(), "password", password.c_str());
  cookie.clear();
  csrf.clear();
  auto a = request("POST", "session", common::print_json(body.get()));
  if (a.status == 200) {
    auto c = a.header("set-cookie");
    cookie = c.substr(0, c.find(';'));
    csrf = a.str("csrf_token");
  }
  return a;
}

answer client::request(const std::string& method, const std::string& path, const std::string& body,
                       const std::map<std::string, std::string>& extra_headers) {
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(ca_file_);
  ctx.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  auto& sock = beast::get_lowest_layer(stream).socket();
  auto local = net::ip::make_address(local_);
  sock.open(local.is_v4() ? tcp::v4() : tcp::v6());
  sock.bind(tcp::endpoint(local, 0));
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
  beast::get_lowest_layer(stream).connect(
      tcp::endpoint(net::ip::make_address(local.is_v4() ? "127.0.0.1" : "::1"),
                    static_cast<unsigned short>(port_)));
  SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
  stream.handshake(ssl::stream_base::client);

  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(path.starts_with("/") ? path : "/api/v1/" + path);
  req.version(11);
  req.set(bhttp::field::host, "localhost");
  if (!cookie.empty()) req.set(bhttp::field::cookie, cookie);
  if (!csrf.empty()) req.set("X-CSRF-Token", csrf);
  for (const auto& [k, v] : extra_headers) req.set(k, v);
  if (!body.empty()) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  bhttp::read(stream, buf, parser);
  beast::error_code ignored;
  stream.shutdown(ignored);
  auto res = parser.release();

  answer a;
  a.status = res.result_int();
  a.body = res.body();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    a.headers[name] = std::string(f.value());
  }
  if (auto parsed = common::parse_json(a.body, {64 << 20, 32}); parsed.ok()) {
    a.json = std::move(parsed).value();
  }
  return a;
}

namespace {

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::string field(const std::string& json_text, const char* key) {
  auto parsed = common::parse_json(json_text);
  if (!parsed.ok()) return {};
  return common::json_string(parsed->get(), key).value_or("");
}

}  // namespace

accounts_stack::accounts_stack(stack_options options) {
  pki_ = std::make_unique<dev_pki>(dir_ / "pki");
  broker_ = std::make_unique<broker>(*pki_);
  port_ = free_port();
  config_ = dir_ / "cloud.json";
  std::string proxies = "[";
  for (const auto& p : options.trusted_proxies) {
    proxies += (proxies.size() > 1 ? ",\"" : "\"") + p + "\"";
  }
  proxies += "]";
  std::string security = R"("password_iterations": 1000, "session_touch_s": 0)";
  if (!options.security.empty()) security += ", " + options.security;
  write_file(config_, R"({
  "db": ")" + db_path().string() +
                          R"(",
  "http": {"listen": "127.0.0.1:)" +
                          std::to_string(port_) + R"(",
           "cert": ")" + pki_->server_cert().string() +
                          R"(",
           "key": ")" + pki_->server_key().string() +
                          R"(",
           "trusted_proxies": )" +
                          proxies + R"(},
  "mqtt": {"uri": ")" + broker_->uri() +
                          R"(", "ca": ")" + pki_->ca().string() + R"(",
           "cert": ")" + pki_->cloud_cert().string() +
                          R"(",
           "key": ")" + pki_->cloud_key().string() +
                          R"("},
  "mail": {"alarm_to": "soc@example.com"},
  "security": {)" + security +
                          R"(}
})");
  auto init = cli({"admin", "init"});
  if (init.exit_code != 0) throw std::runtime_error("admin init: " + init.err);
  passwords_["platform"] = field(init.out, "password");
  for (const std::string company : {"acme", "globex"}) {
    auto c = cli({"admin", "company", "create", "--id", company, "--name", company + " Inc."});
    if (c.exit_code != 0) throw std::runtime_error("company create: " + c.err);
    auto a = cli({"admin", "account", "create", "--company", company, "--login", "admin", "--role",
                  "administrator"});
    if (a.exit_code != 0) throw std::runtime_error("account create: " + a.err);
    passwords_[company] = field(a.out, "password");
  }
  start_cloud();
}

accounts_stack::~accounts_stack() {
  cloud_.reset();
}

run_result accounts_stack::cli(std::vector<std::string> args) {
  std::vector<std::string> argv{binary("cloud/aterm-cloud").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--config");
  argv.push_back(config_.string());
  return run(argv);
}

void accounts_stack::start_cloud() {
  cloud_ =
      std::make_unique<process>(std::vector<std::string>{binary("cloud/aterm-cloud").string(),
                                                         "serve", "--config", config_.string()},
                                dir_ / ("cloud-" + std::to_string(starts_++) + ".log"));
  auto probe = make_client();
  bool up = wait_until(
      [&] {
        try {
          return probe.request("GET", "/healthz").status == 200;
        } catch (const std::exception&) {
          return false;
        }
      },
      60s, 50ms);
  if (!up) throw std::runtime_error("aterm-cloud did not come up: " + cloud_->log());
}

void accounts_stack::stop_cloud() {
  if (cloud_) cloud_->stop(15);
}

std::string accounts_stack::cloud_log() const {
  return cloud_ ? cloud_->log() : std::string();
}

client accounts_stack::make_client(const std::string& local_address) const {
  return client(port_, pki_->ca().string(), local_address);
}

client accounts_stack::admin(const std::string& company, const std::string& local_address) const {
  auto c = make_client(local_address);
  auto a = c.login(company, "admin", passwords_.at(company));
  if (a.status != 200) {
    throw std::runtime_error("login " + company + ": " + std::to_string(a.status) + " " + a.body);
  }
  return c;
}

std::int64_t accounts_stack::create_account(const std::string& company, const std::string& login,
                                            const std::string& role, const std::string& password) {
  auto c = admin(company);
  common::json_ptr body(cJSON_CreateObject());
  cJSON_AddStringToObject(body.get(), "login_id", login.c_str());
  cJSON_AddStringToObject(body.get(), "role", role.c_str());
  cJSON_AddStringToObject(body.get(), "password", password.c_str());
  auto a = c.request("POST", "accounts", common::print_json(body.get()));
  if (a.status != 201) {
    throw std::runtime_error("create account " + login + ": " + std::to_string(a.status) + " " +
                             a.body);
  }
  return a.num("id");
}

double metric_value(const std::string& metrics_text, const std::string& name) {
  std::istringstream in(metrics_text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(name + " ")) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

std::string exec_sql(const fs::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  if (sqlite3_open(db.c_str(), &h) != SQLITE_OK) {
    std::string e = h ? sqlite3_errmsg(h) : "open failed";
    sqlite3_close(h);
    return e;
  }
  sqlite3_busy_timeout(h, 5000);
  char* err = nullptr;
  std::string out;
  if (sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    out = err ? err : "error";
    sqlite3_free(err);
  }
  sqlite3_close(h);
  return out;
}

std::int64_t query_int(const fs::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  std::int64_t out = -1;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(h, 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      out = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return out;
}

}  // namespace aterm::test
