// A small HTTPS client for the end-to-end tests (Boost.Beast, one connection per request): it
// verifies the server against the dev CA, keeps the session cookie and the CSRF token of the
// last login, and returns the status and the parsed JSON body.
#pragma once

#include <string>

#include "aterm/common/json.h"

namespace aterm::test {

struct http_answer {
  unsigned status = 0;
  std::string body;
  common::json_ptr json;  // null when the body is not JSON
  std::string set_cookie;
  // Field of the JSON object, "" when absent.
  std::string str(const char* key) const;
};

class https_client {
 public:
  https_client(int port, std::string ca_file) : port_(port), ca_file_(std::move(ca_file)) {}

  // POST /api/v1/session; keeps the cookie and csrf token. Returns the answer.
  http_answer login(const std::string& company, const std::string& login,
                    const std::string& password);
  // A request under /api/v1 (or an absolute path when `path` starts with "/"), with the
  // session cookie and the CSRF token.
  http_answer request(const std::string& method, const std::string& path,
                      const std::string& body = {});

 private:
  int port_;
  std::string ca_file_;
  std::string cookie_;
  std::string csrf_;
};

}  // namespace aterm::test
