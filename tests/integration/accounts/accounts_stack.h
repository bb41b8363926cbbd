// One aterm-cloud for one test: a dev PKI, a real Mosquitto, `aterm-cloud serve` on a SQLite file
// of its own with the durations the test chooses, the site administrator and companies "acme"
// and "globex" with an administrator "admin" each. And an HTTPS client that binds a chosen
// loopback address (127.0.0.2 is "another machine"), sends any header and keeps a session.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aterm/common/json.h"
#include "aterm/test/support.h"

namespace aterm::test {

struct answer {
  unsigned status = 0;
  std::string body;
  common::json_ptr json;                       // null when the body is not JSON
  std::map<std::string, std::string> headers;  // lowercase names
  std::string str(const char* key) const;      // field of the JSON object, "" when absent
  std::int64_t num(const char* key) const;     // -1 when absent
  std::string header(const std::string& lower_name) const;
};

class client {
 public:
  client(int port, std::string ca_file, std::string local_address = "127.0.0.1")
      : port_(port), ca_file_(std::move(ca_file)), local_(std::move(local_address)) {}

  // POST /api/v1/session; keeps the cookie and CSRF token on success, forgets them otherwise.
  answer login(const std::string& company, const std::string& login, const std::string& password);
  // `path` under /api/v1/ unless it starts with '/'. Sends the kept cookie and CSRF token.
  answer request(const std::string& method, const std::string& path, const std::string& body = {},
                 const std::map<std::string, std::string>& extra_headers = {});

  std::string cookie;  // "__Host-aterm_session=..." ("" = none)
  std::string csrf;    // "" = no X-CSRF-Token header

 private:
  int port_;
  std::string ca_file_;
  std::string local_;
};

struct stack_options {
  // Extra "security" keys as JSON members, e.g. R"("lockout_s": 2)".
  std::string security;
  std::vector<std::string> trusted_proxies;
};

class accounts_stack {
 public:
  explicit accounts_stack(stack_options options = {});
  ~accounts_stack();

  run_result cli(std::vector<std::string> args);
  void start_cloud();
  void stop_cloud();

  client make_client(const std::string& local_address = "127.0.0.1") const;
  // A client signed in as "admin" of `company` ("acme", "globex" or "platform").
  client admin(const std::string& company, const std::string& local_address = "127.0.0.1") const;
  const std::string& admin_password(const std::string& company) const {
    return passwords_.at(company);
  }
  // POST /accounts as acme's (or `company`'s) admin: returns the new account's id.
  std::int64_t create_account(const std::string& company, const std::string& login,
                              const std::string& role, const std::string& password);

  fs::path db_path() const { return dir_ / "cloud.db"; }
  int port() const { return port_; }
  std::string cloud_log() const;

 private:
  temp_dir dir_{"integration-accounts"};
  std::unique_ptr<dev_pki> pki_;
  std::unique_ptr<broker> broker_;
  int port_ = 0;
  fs::path config_;
  std::unique_ptr<process> cloud_;
  int starts_ = 0;
  std::map<std::string, std::string> passwords_;
};

// The value of a Prometheus sample line `name` (exact, without labels); -1 when absent.
double metric_value(const std::string& metrics_text, const std::string& name);

// Runs SQL on the database file; returns "" or the error text.
std::string exec_sql(const fs::path& db, const std::string& sql);
// The first column of the first row of `sql` as an integer; -1 on error or no row.
std::int64_t query_int(const fs::path& db, const std::string& sql);

}  // namespace aterm::test
