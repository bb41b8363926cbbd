// Internal parts of the /api/v1 routes: the service state, the caller of a guarded route, JSON
// output of domain values and the command catalogue. Not a public header.
#pragma once

#include <concepts>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "aterm/cloud/api/api.h"
#include "aterm/cloud/api/command_catalogue.h"
#include "aterm/cloud/http/message.h"
#include "aterm/cloud/security/failure_burst_detector.h"
#include "aterm/cloud/security/lockout_policy.h"
#include "aterm/cloud/security/login_throttle.h"
#include "aterm/cloud/security/session_policy.h"
#include "aterm/cloud/security/verification_gate.h"
#include "aterm/common/json.h"

namespace aterm::cloud::api {

// 400 bad_request with `message`: a request the route cannot take as it is.
http::response bad_request(std::string_view message);

// ---- refusals of a request's fields: a stable code with the field and its bound as details ----

// 400 unknown_field {field}: the body has a field the route does not take.
http::response unknown_field(std::string_view field);
// 400 wrong_type {field, type}: `type` is "string", "integer", "boolean", "array", "object".
http::response wrong_type(std::string_view field, std::string_view type);
// 400 field_required {field}.
http::response field_required(std::string_view field);
// 400 out_of_range {field, min, max}: an integer outside min..max (or not an integer).
http::response out_of_range(std::string_view field, std::int64_t min, std::int64_t max);
// 400 too_long {field, max_length} (characters).
http::response too_long(std::string_view field, std::size_t max_length);
// 400 invalid_value {field}: a value outside the field's vocabulary or format; `message` says
// which values it takes.
http::response invalid_value(std::string_view field, std::string_view message);
// 400 invalid_name {field, max_length}: not 1..max_length characters without control characters.
http::response invalid_name(std::string_view field, std::size_t max_length);
// 400 invalid_time {field}: not an ISO 8601 time with `Z` or an offset.
http::response invalid_time(std::string_view field);
// 400 invalid_email {field}.
http::response invalid_email(std::string_view field);
// 400 invalid_device_id {field}: breaks the device id pattern.
http::response invalid_device_id(std::string_view field);
// 400 bad_count {field, min 1, max}: a list of `count` entries, not 1..max.
http::response bad_count(std::string_view field, std::size_t count, std::size_t max);
// The tags of `arr` (a JSON array of strings the tag rule check_tags takes), or 400 bad_tags
// saying what is wrong.
std::variant<std::vector<std::string>, http::response> read_tags(const cJSON* arr);

// The signed-in account behind a request that passed every check of a guarded route.
struct caller {
  account acct;
  session sess;
  company comp;
  std::vector<std::string> permissions;
  std::string client_ip;
  // Background (polling) requests do not keep the session alive and are not recorded on success.
  security::request_kind kind = security::request_kind::activity;
  bool has(std::string_view permission) const;
};

// What a handler tells the access log about its operation (the wrapper writes the record).
struct op_audit {
  std::string target;  // default: the route's {id}/{cmd_id}/{login_id} parameter
  std::string detail;  // default: the status and error code of the answer
};

using guarded_handler = std::function<http::response(http::request&, const caller&, op_audit&)>;

struct api_service::impl {
  explicit impl(api_context c);

  // Session, expiry, account lock, IP allowlist, CSRF (POST/PATCH/DELETE) and `permission`
  // ("" = any signed-in account); failures are answered and, once the company is known,
  // audited as "denied". On success runs `h` and audits its outcome under `action`.
  http::handler guarded(std::string action, std::string permission, guarded_handler h,
                        bool audit_success = true);
  std::variant<caller, http::response> authenticate(http::request& req, const std::string& action,
                                                    const std::string& permission);

  // Runs `body` and the access-log records it writes as one store operation: when a record is
  // refused, nothing the body changed stays and the answer is 500.
  http::response as_operation(std::string_view action, const std::function<http::response()>& body);
  void audit(const std::string& company_id, const std::string& actor, const std::string& action,
             const std::string& target, const std::string& result, const std::string& detail,
             const std::string& source_ip);
  // The answer for a failed store call: not_found 404, conflict 409, invalid 400, else 500
  // (logged with `what`; the client sees no internals).
  http::response store_error(const common::status& s, std::string_view what);
  void notify(const std::string& device_id);
  void raise_alarms(const std::vector<security::alarm_event>& alarms);
  std::int64_t now_s() const { return ctx.clock.now_s(); }
  // A wrong password of `a`: the lock rule counts it against the account as stored, in the
  // store's transaction, which also ends the verification's `lease`. True when this failure
  // locked the account.
  bool count_wrong_password(const account& a, security::verification_lease& lease);
  // The permissions of the account's role (company role, else built-in).
  std::vector<std::string> permissions_for(const account& a);
  // {account, permissions, csrf_token, expires_at_s}: the answer of login and GET /session.
  http::response session_answer(const caller& c);

  // ---- routes (one file each group) ----
  http::response login(http::request& req);
  http::response whoami(const caller& c);
  http::response logout(http::request& req, const caller& c);

  http::response list_devices(http::request& req, const caller& c, op_audit& a);
  http::response get_device(http::request& req, const caller& c, op_audit& a);
  // The device's stored state snapshots, oldest first: {"history":[{ts_ms, state}, ...]}.
  http::response device_history(http::request& req, const caller& c, op_audit& a);
  http::response create_command(http::request& req, const caller& c, op_audit& a);
  // PUT /devices/{id}/tags {"tags": [...]}: replaces the router's tags (check_tags).
  http::response set_device_tags(http::request& req, const caller& c, op_audit& a);
  // Writes `devices` as an array of objects, each with its "tags" (sorted, [] when none).
  common::status write_devices(const std::string& company_id, const std::vector<device>& devices,
                               common::json_writer& w);
  http::response get_command(http::request& req, const caller& c, op_audit& a);

  http::response create_technician_login(http::request& req, const caller& c, op_audit& a);
  // The fleet's routes (fleet_routes.cpp). export_devices answers list_devices' format=csv.
  http::response export_devices(device_query q, const caller& c, op_audit& a);
  http::response remove_device(http::request& req, const caller& c, op_audit& a);
  http::response fleet_summary_route(http::request& req, const caller& c, op_audit& a);

  http::response list_technician_logins(http::request& req, const caller& c, op_audit& a);
  http::response revoke_technician_login(http::request& req, const caller& c, op_audit& a);

  http::response list_destinations(http::request& req, const caller& c, op_audit& a);
  http::response create_destination(http::request& req, const caller& c, op_audit& a);
  http::response get_destination(http::request& req, const caller& c, op_audit& a);
  http::response update_destination(http::request& req, const caller& c, op_audit& a);
  http::response delete_destination(http::request& req, const caller& c, op_audit& a);
  http::response register_devices(http::request& req, const caller& c, op_audit& a);
  http::response move_device(http::request& req, const caller& c, op_audit& a);

  api_context ctx;
  security::lockout_policy lockout;
  security::login_gate gate;
  security::verification_gate verifications;  // the gate across instances, after `gate`
  security::login_throttle throttle;
  security::failure_burst_detector burst;
  security::session_policy sessions;
};

// The fleet-job routes (job_routes.cpp): /jobs, /jobs/{id}, /jobs/{id}/devices,
// /jobs/{id}/cancel, registered under `base`.
void register_job_routes(api_service::impl& m, http::router& r, const std::string& base);
// A job as the job routes and the fleet summary answer it (docs/http-api.md, "Fleet jobs").
common::json_ptr job_json(const fleet_job& j);

// The account, role, permission, company, audit and /admin routes (accounts_routes.cpp and its
// siblings, declared in account_routes.h), registered under `base`.
void register_account_admin_routes(api_service::impl& m, http::router& r, const std::string& base);
// Planned maintenance and incident notices (notice_routes.cpp): the site administrators'
// /admin/maintenance and /admin/incidents, and the public GET /status.
void register_notice_routes(api_service::impl& m, http::router& r, const std::string& base);
// Alert rules, alarms and notification channels (alert_routes.cpp), under `base`.
void register_alert_routes(api_service::impl& m, http::router& r, const std::string& base);

// The device list's filters (GET /devices and its CSV export): q, online, model, firmware,
// destination, last_seen_before, last_seen_after, wan_prefix and tag (docs/http-api.md), each
// read through `value` (nullopt or "": not given). A bad value answers 400 with the code of its
// kind (invalid_value, invalid_name, invalid_time, too_long) naming the parameter as `field`.
// Fleet jobs resolve a {"query": {...}} target with the same function.
using filter_lookup = std::function<std::optional<std::string>(std::string_view name)>;
std::variant<device_query, http::response> parse_device_filter(const filter_lookup& value);
// A cursor-paged list's limit (1..limits::k_max_page) and cursor (a next_cursor the list
// answered), read through `value` into `limit` and `cursor` where given; 400 for a bad one.
std::optional<http::response> parse_page(const filter_lookup& value, std::size_t& limit,
                                         std::string& cursor);

// ---- JSON helpers ----

// JSON text stored by us (validated on the way in), answered parsed; null when empty or invalid.
struct json_text {
  std::string_view text;
};

// One key and value of an object built by json_row; the value becomes a cJSON node at once.
class json_field {
 public:
  json_field(const char* key, std::string_view v);
  json_field(const char* key, const std::string& v) : json_field(key, std::string_view(v)) {}
  json_field(const char* key, const char* v) : json_field(key, std::string_view(v)) {}
  json_field(const char* key, std::int64_t v);
  json_field(const char* key, const std::optional<std::int64_t>& v);  // null when empty
  template <std::same_as<bool> B>  // bool only: no integer or pointer turns into one
  json_field(const char* key, B v) : key_(key), node_(cJSON_CreateBool(v ? 1 : 0)) {}
  json_field(const char* key, json_text v);
  json_field(const char* key, common::json_ptr v);
  // A string array.
  json_field(const char* key, const std::vector<std::string>& v);
  // The text, or null when it is empty.
  static json_field text_or_null(const char* key, std::string_view v);

 private:
  friend common::json_ptr json_row(std::initializer_list<json_field> fields);
  json_field(const char* key, cJSON* node) : key_(key), node_(node) {}
  const char* key_;
  // Taken by json_row (an initializer_list hands out const elements).
  mutable common::json_ptr node_;
};

// An object of `fields` in their order: one declarative list per domain value.
common::json_ptr json_row(std::initializer_list<json_field> fields);

common::json_ptr json_object();
common::json_ptr json_array();
void add_string(cJSON* o, const char* key, std::string_view v);
void add_int(cJSON* o, const char* key, std::int64_t v);
void add_optional_int(cJSON* o, const char* key, const std::optional<std::int64_t>& v);
void add_bool(cJSON* o, const char* key, bool v);
// Takes ownership of `child`.
void add_item(cJSON* o, const char* key, common::json_ptr child);
void append_item(cJSON* array, common::json_ptr child);

// A device's members, written into an object the caller began (and ends), in the order the API
// answers them; lists of devices are written without a cJSON tree (bench_api: a page of 500
// spent about a fifth of its time allocating nodes).
void write_device_fields(common::json_writer& w, const device& d);
// The device as one object, a raw cJSON node: append it or answer it, never add members to it.
common::json_ptr to_json(const device& d);
common::json_ptr to_json(const command_record& c);  // install args without salt or hash
common::json_ptr to_json(const destination& d);
common::json_ptr to_json(const technician_login& t);  // never the salt or hash
common::json_ptr account_json(const account& a);

// The body as a JSON object; 400 response otherwise.
std::variant<common::json_ptr, http::response> object_body(const http::request& req);
http::response json_answer(unsigned status, const common::json_ptr& body);
// The text `w` wrote, as the answer's body.
http::response json_answer(unsigned status, common::json_writer& w);

}  // namespace aterm::cloud::api
