// Internal parts shared by the account, role, company, audit and admin routes (DESIGN.md sections
// 5 and 6). Each group lives in its own file and registers its routes through the function
// below; every handler runs inside api_service::impl::guarded (session, expiry, IP allowlist,
// CSRF, permission, access log) on a worker thread. Not a public header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api_internal.h"
#include "aterm/cloud/security/delegation_policy.h"

namespace aterm::cloud::api {

using route_fn = http::response (*)(api_service::impl&, http::request&, const caller&, op_audit&);

// A guarded_handler that calls `fn` with the service state.
guarded_handler bind_route(api_service::impl& m, route_fn fn);

// The positive integer path parameter `name`; nullopt when absent or not one.
std::optional<std::int64_t> id_param(const http::request& req, std::string_view name = "id");

// One-line text: 1..max characters (code points, so a Japanese name gets as many as an English
// one) of UTF-8 without control characters.
bool valid_line(std::string_view s, std::size_t max);

// An account with its lock state (locked: "none", "failed_logins", ...; locked_until_s).
common::json_ptr account_detail_json(const account& a, std::int64_t now_s);
common::json_ptr role_json(const role& r);
common::json_ptr company_json(const company& c);

// 204 without a body.
http::response no_content();
// The login gate's key of an account (session_routes.cpp uses the same form).
std::string gate_key(const std::string& company_id, std::int64_t account_id);

// Whether `who` may lift the lock of `a` (lockout_policy::unlock): 409 not_locked,
// 403 not_permitted; nullopt when it may. Changes nothing.
std::optional<http::response> unlock_refused(api_service::impl& m, const account& a,
                                             security::unlocker who);
// Lifts the lock of `a` as `who` (refused as unlock_refused), then unlocks in the store and
// forgets the gate's in-process state. nullopt on success.
std::optional<http::response> unlock_account(api_service::impl& m, const account& a,
                                             security::unlocker who);

// The delegation rule's view of the caller (security/delegation_policy.h).
security::delegator delegator_of(const caller& c);
// 403 forbidden for a refusal of the delegation rule; the access log's detail names it.
http::response delegation_refused(security::delegation_refusal r, op_audit& audit);
// The store-side check of an account change by `c`: runs the rule on the facts the store's
// transaction read and leaves its refusal, if any, in `refused` (which must outlive the call).
account_check delegation_check(const caller& c, security::account_change change,
                               std::optional<security::delegation_refusal>& refused);

// nullopt when `c` is a site administrator (company platform) holding `permission`; else 403
// forbidden, with the reason in the access log's detail.
std::optional<http::response> not_site_admin(const caller& c, std::string_view permission,
                                             op_audit& a);

void register_role_routes(api_service::impl& m, http::router& r, const std::string& base);
void register_company_routes(api_service::impl& m, http::router& r, const std::string& base);
void register_audit_routes(api_service::impl& m, http::router& r, const std::string& base);
void register_admin_routes(api_service::impl& m, http::router& r, const std::string& base);

}  // namespace aterm::cloud::api
