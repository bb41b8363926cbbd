// A keep-alive HTTPS client of the ingest benchmark (Boost.Beast, synchronous): one TLS
// connection reused for every request (reopened when the server closed it), TCP_NODELAY on its
// socket, the session cookie and CSRF token of the last login. The integration tests' client
// (tests/integration/cloud/https_client.h) opens a connection per request, whose handshake
// would dominate a command round trip of a few milliseconds.
//
// Thread: one thread uses an instance.
#pragma once

#include <memory>
#include <string>

#include "aterm/common/json.h"

namespace aterm::bench {

struct api_answer {
  unsigned status = 0;
  std::string body;
  common::json_ptr json;  // null when the body is not JSON
  // Field of the JSON object, "" when absent.
  std::string str(const char* key) const;
};

class api_session {
 public:
  api_session(int port, std::string ca_file);
  ~api_session();
  api_session(const api_session&) = delete;
  api_session& operator=(const api_session&) = delete;

  // POST /api/v1/session; keeps the cookie and CSRF token. Throws unless 200.
  void login(const std::string& company, const std::string& login, const std::string& password);
  // A request under /api/v1 (or an absolute path when `path` starts with "/"). Throws on a
  // transport failure after one retry on a fresh connection.
  api_answer request(const std::string& method, const std::string& path,
                     const std::string& body = {});

 private:
  struct connection;
  api_answer exchange(const std::string& method, const std::string& path, const std::string& body,
                      std::string* set_cookie);
  int port_;
  std::string ca_file_;
  std::string cookie_;
  std::string csrf_;
  std::unique_ptr<connection> conn_;
};

}  // namespace aterm::bench
