// The request and response values handlers see. They carry no Beast types so route handlers and
// their tests need neither Boost nor a socket. A request is owned by the one worker thread that
// runs its handler; a response is moved back to the connection's strand for writing.
#pragma once

#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "aterm/common/clock.h"
#include "aterm/common/json.h"
#include "aterm/common/status.h"

namespace aterm::cloud::http {

// The session cookie of DESIGN.md section 6.
inline constexpr std::string_view k_session_cookie = "__Host-aterm_session";
// The header every state-changing API request carries.
inline constexpr std::string_view k_csrf_header = "x-csrf-token";

struct request {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // as sent, e.g. "/api/v1/devices?limit=10"
  // Lowercase header names; repeated headers joined with ", " (cookies with "; ").
  std::map<std::string, std::string, std::less<>> headers;
  std::string body;
  std::string peer_address;    // the TCP peer, e.g. "127.0.0.1" or "::1"
  std::string client_address;  // peer, or the right-most untrusted X-Forwarded-For hop
  common::mono_time received{};

  // Filled by router::dispatch before the handler runs.
  std::string path;  // target without the query, still percent-encoded
  std::map<std::string, std::string, std::less<>> query;    // decoded; first occurrence wins
  std::map<std::string, std::string, std::less<>> cookies;  // first occurrence wins
  std::map<std::string, std::string, std::less<>> params;   // decoded {name} segments
  std::string route;                                        // matched pattern, for metrics

  // nullptr when absent. `name` in lowercase.
  const std::string* header(std::string_view name) const;
  std::optional<std::string> query_value(std::string_view name) const;
  std::optional<std::string> cookie(std::string_view name) const;
  // REQUIRES: the route pattern declares {name}.
  const std::string& param(std::string_view name) const;
  // The body as a JSON tree, bounded by the body limit and limits::k_max_body_json_depth.
  // Error "bad_json" on an empty body or invalid JSON.
  common::result<common::json_ptr> json_body() const;
};

struct response;
// Hands a deferred answer to the server. Callable from any thread, exactly once; dropping it
// unanswered closes the connection.
using responder = std::function<void(response)>;

struct response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Extra headers (Set-Cookie, Allow, Cache-Control, ...), in order. The security headers and
  // Content-Length are added by the server.
  std::vector<std::pair<std::string, std::string>> headers;
  // Close the connection after this response.
  bool close = false;
  // Set by a handler whose slow part runs elsewhere (login hashing on its own pool), so the
  // worker thread is free at once: the server calls it once with the responder that the work
  // calls when done. The other fields are then ignored.
  std::function<void(responder)> deferred;

  // Adds or replaces a header (case-insensitive name match); Set-Cookie is always added.
  void set_header(std::string name, std::string value);
  // nullptr when absent.
  const std::string* find_header(std::string_view name) const;
};

// True for "application/json", with or without parameters ("; charset=utf-8"), any case.
bool is_json_media_type(std::string_view content_type);

// {"error":code,"message":message}.
response error_response(unsigned status, std::string_view code, std::string_view message);
// One detail of an error as a field of its own (e.g. "min_length": 12), so a page words the
// stable code in its own language without parsing the English message.
struct error_detail {
  const char* key;
  std::variant<std::int64_t, std::string> value;
};
// {"error":code,"message":message, <key>:<value>...}.
response error_response(unsigned status, std::string_view code, std::string_view message,
                        std::initializer_list<error_detail> details);
// The compact JSON text of `body`. REQUIRES: body != nullptr.
response json_response(unsigned status, const cJSON* body);

// "__Host-aterm_session=<token>; HttpOnly; Secure; SameSite=Strict; Path=/".
std::string session_cookie(std::string_view token);
// The same cookie emptied and expired, for logout.
std::string expired_session_cookie();

// Adds the headers every response carries (HSTS, CSP, nosniff, Referrer-Policy,
// X-Frame-Options) and Cache-Control: no-store unless the handler set its own Cache-Control.
void add_security_headers(response& res);

// Query string (without '?') into decoded name/value pairs; '+' is a space. Errors
// "bad_query": bad percent encoding, NUL, invalid UTF-8 or more than k_max_query_params pairs.
common::result<std::map<std::string, std::string, std::less<>>> parse_query(std::string_view q);
// Percent-decoding of one path segment or query component. Error "bad_encoding".
common::result<std::string> percent_decode(std::string_view s, bool plus_is_space);
// Cookie header "a=b; c=d" into pairs; malformed pieces are skipped, at most k_max_cookies.
std::map<std::string, std::string, std::less<>> parse_cookies(std::string_view header);

}  // namespace aterm::cloud::http
