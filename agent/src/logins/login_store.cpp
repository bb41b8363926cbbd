#include "aterm/agent/login_store.h"

#include <algorithm>
#include <fstream>

#include "aterm/agent/journal_file.h"
#include "aterm/agent/limits.h"
#include "aterm/agent/router_agent.h"
#include "aterm/common/command_table.h"
#include "aterm/common/crypto.h"
#include "aterm/common/json.h"
#include "aterm/common/protocol.h"
#include "aterm/common/technician_credential.h"

namespace aterm::agent {

using common::status;
namespace cmd = common::commands;
namespace crypto = common::crypto;
namespace tc = common::technician_credential;

namespace {

std::int64_t mono_ns(const common::clock& c) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(c.mono().time_since_epoch()).count();
}

constexpr std::int64_t k_ns = 1000000000LL;

std::filesystem::path secret_file(const std::filesystem::path& logins) {
  return logins.parent_path() / "technician-secret";
}

std::filesystem::path state_file(const std::filesystem::path& logins) {
  return logins.parent_path() / "technician-state.json";
}

std::string_view to_string(login_record::state s) {
  switch (s) {
    case login_record::state::open:
      return "open";
    case login_record::state::used:
      return "used";
    case login_record::state::locked:
      return "locked";
    case login_record::state::revoked:
      return "revoked";
  }
  return "open";
}

login_record::state parse_state(std::string_view s) {
  if (s == "used") return login_record::state::used;
  if (s == "locked") return login_record::state::locked;
  if (s == "revoked") return login_record::state::revoked;
  return login_record::state::open;
}

}  // namespace

std::string read_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

common::result<login_store> login_store::open(const std::filesystem::path& file,
                                              const common::clock& clock, std::string boot_id,
                                              offline_rules rules) {
  login_store store(file, clock, std::move(boot_id));
  store.rules_ = std::move(rules);
  {
    std::ifstream in(secret_file(file));
    std::string hex;
    if (in && std::getline(in, hex)) {
      auto s = crypto::from_hex(hex);
      if (s.ok() && s->size() == tc::k_secret_bytes) store.secret_ = std::move(*s);
    }
  }
  auto state = journal_file::read_json(state_file(file));
  if (!state.ok()) return state.error();
  if (*state) {
    const cJSON* o = state->get();
    store.last_trusted_s_ = common::json_int(o, "last_trusted_s").value_or(0);
    store.window_boot_id_ = common::json_string(o, "window_boot_id").value_or("");
    store.window_start_ns_ = common::json_int(o, "window_start_mono_ns").value_or(0);
    store.window_failures_ = static_cast<int>(common::json_int(o, "window_failures").value_or(0));
  }
  auto parsed = journal_file::read_json(file);
  if (!parsed.ok()) return parsed.error();
  if (!*parsed) return store;
  const cJSON* arr = parsed->get();
  if (!cJSON_IsArray(arr)) return status::error("bad_json", file.string() + ": not an array");
  const std::size_t before = static_cast<std::size_t>(cJSON_GetArraySize(arr));
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, arr) {
    if (common::json_bool(item, "offline").value_or(false)) {
      auto id = common::json_string(item, "login_id");
      auto exp = common::json_int(item, "expires_at");
      if (!id || !exp) continue;
      login_record r;
      r.login_id = *id;
      r.expires_at = *exp;
      r.failures = static_cast<int>(common::json_int(item, "failures").value_or(0));
      r.st = parse_state(common::json_string(item, "state").value_or("open"));
      r.session_until = common::json_int(item, "session_until").value_or(0);
      r.session_until_mono_s = common::json_int(item, "session_until_mono_s").value_or(0);
      r.session_open = common::json_bool(item, "session_open").value_or(false);
      r.session_boot_id = common::json_string(item, "session_boot_id").value_or("");
      r.config_rev_before = common::json_int(item, "config_rev_before");
      store.records_.push_back(std::move(r));
      continue;
    }
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
  if (store.expire() == 0 && store.logins_.size() + store.records_.size() != before) {
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
  auto removed = before - logins_.size();
  if (clock_trusted()) {
    const auto now = clock_->now_s();
    const auto records_before = records_.size();
    records_.erase(std::remove_if(records_.begin(), records_.end(),
                                  [&](const login_record& r) {
                                    return !r.session_open && r.expires_at <= now &&
                                           r.session_until <= now;
                                  }),
                   records_.end());
    removed += records_before - records_.size();
  }
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
  for (const auto& r : records_) {
    cJSON* o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "login_id", r.login_id.c_str());
    cJSON_AddBoolToObject(o, "offline", 1);
    cJSON_AddNumberToObject(o, "expires_at", static_cast<double>(r.expires_at));
    cJSON_AddNumberToObject(o, "failures", r.failures);
    cJSON_AddStringToObject(o, "state", std::string(to_string(r.st)).c_str());
    if (r.session_until != 0)
      cJSON_AddNumberToObject(o, "session_until", static_cast<double>(r.session_until));
    if (r.session_until_mono_s != 0)
      cJSON_AddNumberToObject(o, "session_until_mono_s",
                              static_cast<double>(r.session_until_mono_s));
    if (r.session_open) {
      cJSON_AddBoolToObject(o, "session_open", 1);
      cJSON_AddStringToObject(o, "session_boot_id", r.session_boot_id.c_str());
    }
    if (r.config_rev_before)
      cJSON_AddNumberToObject(o, "config_rev_before", static_cast<double>(*r.config_rev_before));
    cJSON_AddItemToArray(arr.get(), o);
  }
  return journal_file::write_atomic(file_, common::print_json(arr.get()), 0600);
}

common::status login_store::save_state() const {
  common::json_ptr o(cJSON_CreateObject());
  cJSON_AddNumberToObject(o.get(), "last_trusted_s", static_cast<double>(last_trusted_s_));
  cJSON_AddStringToObject(o.get(), "window_boot_id", window_boot_id_.c_str());
  cJSON_AddNumberToObject(o.get(), "window_start_mono_ns", static_cast<double>(window_start_ns_));
  cJSON_AddNumberToObject(o.get(), "window_failures", window_failures_);
  return journal_file::write_atomic(state_file(file_), common::print_json(o.get()), 0600);
}

common::status login_store::set_secret(std::string_view secret_hex) {
  auto s = crypto::from_hex(secret_hex);
  if (!s.ok() || s->size() != tc::k_secret_bytes)
    return cmd::op_failure(cmd::op_error::bad_args,
                           "technician_login.secret: secret must be 64 hex digits");
  auto st = journal_file::write_atomic(secret_file(file_), std::string(secret_hex) + "\n", 0600);
  if (!st.ok()) return st;
  secret_ = std::move(*s);
  if (clock_trusted()) {
    last_trusted_s_ = std::max(last_trusted_s_, clock_->now_s());
    return save_state();
  }
  return {};
}

bool login_store::clock_trusted() const {
  return clock_trustworthy(*clock_, rules_.trust_floor, rules_.require_sync);
}

bool login_store::throttled() {
  const auto now = mono_ns(*clock_);
  if (window_boot_id_ != boot_id_) {
    // Rebooted: the elapsed time is unknown, so the count stays and a new window starts.
    window_boot_id_ = boot_id_;
    window_start_ns_ = now;
    (void)save_state();
  } else if (now - window_start_ns_ >= rules_.failure_window_s * k_ns) {
    window_start_ns_ = now;
    window_failures_ = 0;
    (void)save_state();
  }
  return window_failures_ >= rules_.failure_limit;
}

void login_store::count_failure() {
  ++window_failures_;
  (void)save_state();
}

const login_record* login_store::record(std::string_view login_id) const {
  auto it = std::find_if(records_.begin(), records_.end(),
                         [&](const login_record& r) { return r.login_id == login_id; });
  return it == records_.end() ? nullptr : &*it;
}

login_record& login_store::record_for(std::string_view login_id, std::int64_t expires_at) {
  auto it = std::find_if(records_.begin(), records_.end(),
                         [&](const login_record& r) { return r.login_id == login_id; });
  if (it != records_.end()) return *it;
  if (records_.size() >= limits::k_max_login_records) {
    auto victim = std::min_element(records_.begin(), records_.end(),
                                   [](const login_record& a, const login_record& b) {
                                     const bool a_open = a.st == login_record::state::open;
                                     const bool b_open = b.st == login_record::state::open;
                                     if (a_open != b_open) return a_open;
                                     return a.failures < b.failures;
                                   });
    records_.erase(victim);
  }
  login_record r;
  r.login_id = std::string(login_id);
  r.expires_at = expires_at;
  records_.push_back(std::move(r));
  return records_.back();
}

void login_store::tombstone(std::string_view login_id, login_record::state st) {
  auto f = tc::decode_login_id(login_id);
  if (!f) return;  // not an offline-form id: no other path could accept it
  record_for(login_id, f->issued_at_s() + f->ttl_s()).st = st;
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
  if (const auto* r = record(l.login_id); r && r->st != login_record::state::open)
    return cmd::op_failure(cmd::op_error::bad_args, "technician login already used or revoked");
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
  const bool held = logins_.size() != before;
  const bool offline_form = tc::decode_login_id(login_id).has_value();
  if (!held && !offline_form) return false;
  tombstone(login_id, login_record::state::revoked);
  auto st = save();
  if (!st.ok()) return st;
  return true;
}

login_store::check_result login_store::check(std::string_view login_id, std::string_view password,
                                             std::optional<std::int64_t> config_rev) {
  if (throttled()) return {outcome::throttled, 0};
  if (clock_trusted() && clock_->now_s() > last_trusted_s_) {
    last_trusted_s_ = clock_->now_s();
    (void)save_state();
  }
  auto it = std::find_if(logins_.begin(), logins_.end(),
                         [&](const technician_login& l) { return l.login_id == login_id; });
  if (it == logins_.end()) {
    const auto r = check_offline(login_id, password, config_rev);
    if (r.result != outcome::accepted) count_failure();
    return r;
  }
  if (dead(*it)) {
    logins_.erase(it);
    (void)save();
    count_failure();
    return {outcome::expired, 0};
  }
  const auto derived = crypto::pbkdf2_hmac_sha256(password, it->salt, it->iterations, 32);
  if (password.size() <= limits::k_max_password && crypto::constant_time_equal(derived, it->hash)) {
    const auto expires_at = it->expires_at;
    const auto until_mono_s = it->mono_deadline_ns / k_ns;
    logins_.erase(it);  // single use
    // The record outlives the credential as long as the offline path could still accept it.
    const auto f = tc::decode_login_id(login_id);
    auto& r =
        record_for(login_id, f ? std::max(expires_at, f->issued_at_s() + f->ttl_s()) : expires_at);
    r.st = login_record::state::used;
    open_session(r, expires_at, until_mono_s, config_rev);
    if (!save().ok()) return {outcome::wrong_password, 0};
    return {outcome::accepted, 0};
  }
  count_failure();
  const int failures = ++it->failures;
  if (failures >= limits::k_login_max_failures) {
    logins_.erase(it);
    tombstone(login_id, login_record::state::locked);
    (void)save();
    return {outcome::locked, failures};
  }
  (void)save();
  return {outcome::wrong_password, failures};
}

login_store::check_result login_store::check_offline(std::string_view login_id,
                                                     std::string_view password,
                                                     std::optional<std::int64_t> config_rev) {
  if (secret_.empty()) return {outcome::unknown, 0};
  const auto f = tc::decode_login_id(login_id);
  if (!f) return {outcome::unknown, 0};
  const auto issued = f->issued_at_s();
  const auto ttl = f->ttl_s();
  const bool trusted = clock_trusted();
  const auto now = clock_->now_s();
  if (const auto* r = record(login_id)) {
    if (r->st == login_record::state::used || r->st == login_record::state::revoked)
      return {outcome::used, r->failures};
    if (r->st == login_record::state::locked) return {outcome::locked, r->failures};
  }
  if (trusted ? (now < issued - rules_.max_clock_skew_s || now >= issued + ttl)
              : issued <= last_trusted_s_)
    return {outcome::expired, 0};
  if (password.size() > limits::k_max_password ||
      !tc::verify(secret_, rules_.device_id, login_id, password)) {
    auto& r = record_for(login_id, issued + ttl);
    const int failures = ++r.failures;
    if (failures >= limits::k_login_max_failures) r.st = login_record::state::locked;
    (void)save();
    return {failures >= limits::k_login_max_failures ? outcome::locked : outcome::wrong_password,
            failures};
  }
  auto& r = record_for(login_id, issued + ttl);
  r.st = login_record::state::used;
  open_session(r, std::min(issued + ttl, now + ttl), mono_ns(*clock_) / k_ns + ttl, config_rev);
  // Refused when the use cannot be recorded: the credential must not work twice.
  if (!save().ok()) return {outcome::wrong_password, 0};
  return {outcome::accepted, 0};
}

void login_store::open_session(login_record& r, std::int64_t until_s, std::int64_t until_mono_s,
                               std::optional<std::int64_t> config_rev) {
  r.session_until = clock_trusted() ? until_s : 0;
  r.session_until_mono_s = until_mono_s;
  r.session_open = true;
  r.session_boot_id = boot_id_;
  r.config_rev_before = config_rev;
}

std::optional<ended_session> login_store::logout(std::string_view login_id) {
  auto it = std::find_if(records_.begin(), records_.end(), [&](const login_record& r) {
    return r.login_id == login_id && r.session_open;
  });
  if (it == records_.end()) return std::nullopt;
  it->session_open = false;
  (void)save();
  return ended_session{it->login_id, ended_session::reason::logout, it->config_rev_before};
}

std::vector<ended_session> login_store::end_sessions() {
  std::vector<ended_session> out;
  const bool trusted = clock_trusted();
  const auto now = clock_->now_s();
  const auto mono_s = mono_ns(*clock_) / k_ns;
  for (auto& r : records_) {
    if (!r.session_open) continue;
    ended_session e{r.login_id, ended_session::reason::expired, r.config_rev_before};
    if (r.session_boot_id != boot_id_)
      e.why = ended_session::reason::reboot;
    else if (mono_s < r.session_until_mono_s &&
             !(trusted && r.session_until != 0 && now >= r.session_until))
      continue;
    r.session_open = false;
    out.push_back(std::move(e));
  }
  if (!out.empty()) (void)save();
  return out;
}

std::string_view to_string(ended_session::reason r) {
  switch (r) {
    case ended_session::reason::logout:
      return "logout";
    case ended_session::reason::expired:
      return "expired";
    case ended_session::reason::reboot:
      return "reboot";
  }
  return "expired";
}

}  // namespace aterm::agent
