// One-time technician logins (DESIGN.md section 4): issue, list (no secrets), revoke.
#include <algorithm>

#include "api_internal.h"
#include "aterm/cloud/security/password_policy.h"
#include "aterm/common/command_table.h"
#include "aterm/common/crypto.h"
#include "aterm/common/protocol.h"

namespace aterm::cloud::api {

namespace crypto = common::crypto;

namespace {

// Login ids are read out over the phone: capitals and digits without look-alikes.
constexpr std::string_view k_login_id_alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
constexpr std::size_t k_login_id_chars = 8;
constexpr std::size_t k_technician_password_chars = 12;
constexpr std::size_t k_technician_salt_bytes = 16;
constexpr std::size_t k_technician_hash_bytes = 32;
// A duplicate id among 32^8 is rare; a few tries make it vanish.
constexpr int k_login_id_attempts = 4;
// A revoke is worth delivering for at least this long, even for a login about to expire.
constexpr std::int64_t k_min_revoke_life_s = 60;

http::response feature_disabled() {
  return http::error_response(403, "feature_disabled",
                              "technician logins are disabled for this company");
}

}  // namespace

http::response api_service::impl::create_technician_login(http::request& req, const caller& c,
                                                          op_audit& a) {
  const auto& device_id = req.param("id");
  if (!common::protocol::valid_device_id(device_id)) {
    return http::error_response(404, "not_found", "no such device");
  }
  const std::int64_t ttl_minutes = c.comp.settings.technician_login_ttl_minutes;
  if (ttl_minutes <= 0) return feature_disabled();
  // Check the device first: a foreign or unknown id must not cost a hash.
  if (auto d = ctx.db.get_device(c.comp.id, device_id); !d.ok()) {
    return store_error(d.error(), "get_device");
  }

  const std::string password = crypto::generate_password(k_technician_password_chars);
  const auto salt = crypto::random_bytes(k_technician_salt_bytes);
  const std::uint32_t iterations = ctx.settings.technician_login_iterations;
  const auto hash =
      security::pbkdf2_sha256_fast(password, salt, iterations, k_technician_hash_bytes);
  const std::int64_t issued = now_s();
  const std::int64_t ttl_s = ttl_minutes * 60;

  for (int attempt = 0; attempt < k_login_id_attempts; ++attempt) {
    technician_login t;
    t.login_id = "T-" + crypto::generate_from(k_login_id_alphabet, k_login_id_chars);
    t.company_id = c.comp.id;
    t.device_id = device_id;
    t.salt_hex = crypto::to_hex(salt);
    t.iterations = iterations;
    t.hash_hex = crypto::to_hex(hash);
    t.issued_at_s = issued;
    t.expires_at_s = issued + ttl_s;
    t.created_by = c.acct.login_id;

    common::commands::technician_login_install args;
    args.login_id = t.login_id;
    args.salt_hex = t.salt_hex;
    args.iterations = t.iterations;
    args.hash_hex = t.hash_hex;
    args.expires_at = t.expires_at_s;
    args.ttl_s = ttl_s;
    new_command install;
    install.device_id = device_id;
    install.op = std::string(to_string(common::commands::op_id::technician_login_install));
    install.args_json = common::commands::encode(args);
    // Dropped, not delivered, once the login itself has expired.
    install.deadline_s = t.expires_at_s;
    install.created_by = c.acct.login_id;

    auto created = ctx.db.create_technician_login(t, install);
    if (!created.ok()) {
      if (created.error().code() == k_conflict) continue;
      return store_error(created.error(), "create_technician_login");
    }
    a.detail = "login_id=" + created->login_id + " command=" + created->install_command_id;
    notify(device_id);
    auto out = to_json(*created);
    // The plaintext is answered once, here, and never stored or logged.
    add_string(out.get(), "password", password);
    add_int(out.get(), "ttl_s", ttl_s);
    return json_answer(201, out);
  }
  return http::error_response(409, "conflict", "could not allocate a login id; try again");
}

http::response api_service::impl::list_technician_logins(http::request& req, const caller& c,
                                                         op_audit&) {
  const auto& device_id = req.param("id");
  if (!common::protocol::valid_device_id(device_id)) {
    return http::error_response(404, "not_found", "no such device");
  }
  if (auto d = ctx.db.get_device(c.comp.id, device_id); !d.ok()) {
    return store_error(d.error(), "get_device");
  }
  auto list = ctx.db.list_technician_logins(c.comp.id, device_id, now_s());
  if (!list.ok()) return store_error(list.error(), "list_technician_logins");
  auto out = json_object();
  auto arr = json_array();
  for (const auto& t : *list) append_item(arr.get(), to_json(t));
  add_item(out.get(), "technician_logins", std::move(arr));
  add_bool(out.get(), "enabled", c.comp.settings.technician_login_ttl_minutes > 0);
  return json_answer(200, out);
}

http::response api_service::impl::revoke_technician_login(http::request& req, const caller& c,
                                                          op_audit& a) {
  const auto& device_id = req.param("id");
  const auto& login_id = req.param("login_id");
  a.target = device_id;
  a.detail = "login_id=" + login_id.substr(0, 64);
  auto existing = ctx.db.get_technician_login(c.comp.id, login_id);
  if (!existing.ok()) return store_error(existing.error(), "get_technician_login");
  if (existing->device_id != device_id) {
    return http::error_response(404, "not_found", "no such technician login for this device");
  }
  auto args = json_object();
  add_string(args.get(), "login_id", login_id);
  new_command revoke;
  revoke.device_id = device_id;
  revoke.op = std::string(to_string(common::commands::op_id::technician_login_revoke));
  revoke.args_json = common::print_json(args.get());
  revoke.deadline_s = std::max(existing->expires_at_s, now_s() + k_min_revoke_life_s);
  revoke.created_by = c.acct.login_id;
  auto cmd = ctx.db.revoke_technician_login(c.comp.id, device_id, login_id, revoke);
  if (!cmd.ok()) return store_error(cmd.error(), "revoke_technician_login");
  a.detail += " command=" + cmd->id;
  notify(device_id);
  auto out = json_object();
  add_string(out.get(), "login_id", login_id);
  add_string(out.get(), "device_id", device_id);
  add_string(out.get(), "status", "revoked");
  add_string(out.get(), "revoke_command_id", cmd->id);
  return json_answer(200, out);
}

}  // namespace aterm::cloud::api
