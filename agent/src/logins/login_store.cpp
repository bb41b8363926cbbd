#include "aterm/agent/login_store.h"

#include <algorithm>
#include <fstream>

#include "aterm/agent/journal_file.h"
#include "aterm/agent/limits.h"
#include "aterm/common/command_table.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"
#include "aterm/common/protocol.h"

namespace aterm::agent {

using common::status;
namespace cmd = common::commands;
namespace crypto = common::crypto;

namespace {

std::int64_t mono_ns(const common::clock& c) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(c.mono().time_since_epoch()).count();
}

}  // namespace

std::string read_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

common::result<login_store> login_store::open(const std::filesystem::path& file,
                                              const common::clock& clock, std::string boot_id) {
  login_store store(file, clock, std::move(boot_id));
  auto parsed = journal_file::read_json(file);
  if (!parsed.ok()) return parsed.error();
  if (!*parsed) return store;
  const cJSON* arr = parsed->get();
  if (!cJSON_IsArray(arr)) return status::error("bad_json", file.string() + ": not an array");
  const std::size_t before = static_cast<std::size_t>(cJSON_GetArraySize(arr));
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, arr) {
    technician_login l;
    auto id = common::json_string(item, "login_id");
    auto salt = common::json_string(item, "salt");
    auto hash = common::json_string(item, "hash");
    auto it = common::json_int(item, "iterations");
    auto exp = common::json_int(item, "expires_at");
    auto md = common::json_int(item, "mono_deadline_ns");
    auto boot = common::json_string(item, "boot_id");
    auto fails = common::json_int(item, "failures");
    if (!id || !salt || !hash || !it || !exp || !md || !boot || !fails) continue;
    auto s = crypto::from_hex(*salt);
    auto h = crypto::from_hex(*hash);
    if (!s.ok() || !h.ok() || *it < 1 || *it > common::limits::k_max_login_iterations) continue;
    l.login_id = *id;
    l.salt = std::move(*s);
    l.hash = std::move(*h);
    l.iterations = static_cast<std::uint32_t>(*it);
    l.expires_at = *exp;
    l.mono_deadline_ns = *md;
    l.boot_id = *boot;
    l.failures = static_cast<int>(*fails);
    store.logins_.push_back(std::move(l));
  }
  if (store.expire() == 0 && store.logins_.size() != before) {
    auto st = store.save();  // unreadable entries were dropped
    if (!st.ok()) return st;
  }
  return store;
}

bool login_store::dead(const technician_login& l) const {
  if (clock_->now_s() >= l.expires_at) return true;
  if (l.boot_id != boot_id_) return true;  // rebooted: the ttl clock is unknown
  if (mono_ns(*clock_) >= l.mono_deadline_ns) return true;
  return l.failures >= limits::k_login_max_failures;
}

std::size_t login_store::expire() {
  const auto before = logins_.size();
  logins_.erase(std::remove_if(logins_.begin(), logins_.end(),
                               [&](const technician_login& l) { return dead(l); }),
                logins_.end());
  const auto removed = before - logins_.size();
  if (removed > 0) (void)save();
  return removed;
}

bool login_store::contains(std::string_view login_id) const {
  return std::any_of(logins_.begin(), logins_.end(),
                     [&](const technician_login& l) { return l.login_id == login_id; });
}

common::status login_store::save() const {
  common::json_ptr arr(cJSON_CreateArray());
  for (const auto& l : logins_) {
    cJSON* o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "login_id", l.login_id.c_str());
    cJSON_AddStringToObject(o, "salt", crypto::to_hex(l.salt).c_str());
    cJSON_AddNumberToObject(o, "iterations", l.iterations);
    cJSON_AddStringToObject(o, "hash", crypto::to_hex(l.hash).c_str());
    cJSON_AddNumberToObject(o, "expires_at", static_cast<double>(l.expires_at));
    // Nanoseconds since boot stay below 2^53 for 104 days; beyond that the deadline rounds by
    // well under a microsecond.
    cJSON_AddNumberToObject(o, "mono_deadline_ns", static_cast<double>(l.mono_deadline_ns));
    cJSON_AddStringToObject(o, "boot_id", l.boot_id.c_str());
    cJSON_AddNumberToObject(o, "failures", l.failures);
    cJSON_AddItemToArray(arr.get(), o);
  }
  return journal_file::write_atomic(file_, common::print_json(arr.get()), 0600);
}

common::status login_store::install(std::string_view args_json) {
  auto a = common::commands::decode_technician_login_install(args_json);
  if (!a.ok()) return a.error();
  auto salt = crypto::from_hex(a->salt_hex);
  auto hash = crypto::from_hex(a->hash_hex);
  if (!salt.ok() || !hash.ok())
    return cmd::op_failure(cmd::op_error::bad_args,
                           "technician_login.install: salt and hash must be hex");
  technician_login l;
  l.login_id = a->login_id;
  l.salt = std::move(*salt);
  l.iterations = static_cast<std::uint32_t>(a->iterations);
  l.hash = std::move(*hash);
  l.expires_at = a->expires_at;
  l.mono_deadline_ns = mono_ns(*clock_) + a->ttl_s * 1000000000LL;
  l.boot_id = boot_id_;
  if (dead(l)) return cmd::op_failure(cmd::op_error::bad_args, "technician login already expired");
  expire();
  logins_.erase(std::remove_if(logins_.begin(), logins_.end(),
                               [&](const technician_login& x) { return x.login_id == l.login_id; }),
                logins_.end());
  if (logins_.size() >= limits::k_max_logins)
    return cmd::op_failure(cmd::op_error::bad_args, "too many technician logins on this router");
  logins_.push_back(std::move(l));
  return save();
}

common::result<bool> login_store::revoke(std::string_view login_id) {
  const auto before = logins_.size();
  logins_.erase(std::remove_if(logins_.begin(), logins_.end(),
                               [&](const technician_login& x) { return x.login_id == login_id; }),
                logins_.end());
  if (logins_.size() == before) return false;
  auto st = save();
  if (!st.ok()) return st;
  return true;
}

login_store::check_result login_store::check(std::string_view login_id, std::string_view password) {
  auto it = std::find_if(logins_.begin(), logins_.end(),
                         [&](const technician_login& l) { return l.login_id == login_id; });
  if (it == logins_.end()) return {outcome::unknown, 0};
  if (dead(*it)) {
    logins_.erase(it);
    (void)save();
    return {outcome::expired, 0};
  }
  const auto derived = crypto::pbkdf2_hmac_sha256(password, it->salt, it->iterations, 32);
  if (password.size() <= limits::k_max_password && crypto::constant_time_equal(derived, it->hash)) {
    logins_.erase(it);  // single use
    if (!save().ok()) return {outcome::wrong_password, 0};
    return {outcome::accepted, 0};
  }
  const int failures = ++it->failures;
  if (failures >= limits::k_login_max_failures) {
    logins_.erase(it);
    (void)save();
    return {outcome::locked, failures};
  }
  (void)save();
  return {outcome::wrong_password, failures};
}

}  // namespace aterm::agent
