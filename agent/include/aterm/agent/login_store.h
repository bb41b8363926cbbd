// One-time technician logins on the router (DESIGN.md section 4). The store keeps only the
// PBKDF2 hash, salt and iteration count the cloud sent, never a password. A credential dies at
// the first success (single use), at 5 wrong passwords, at `expires_at` by the wall clock, or at
// receipt + ttl_s by the monotonic clock, whichever comes first (the router's wall clock may be
// wrong). The monotonic deadline is kept with the kernel's boot id: after a reboot the elapsed
// time cannot be known, so such credentials are dropped at load (the safe side). The file
// (data_dir/logins.json, mode 0600) is rewritten atomically on every change, and expired entries
// are removed at load. Owned by the agent thread (or by `login-check` when no agent runs, under
// the data_dir lock); not thread-safe.
//
// Offline credentials (common/technician_credential.h) need no install: when the router holds
// its per-device secret (data_dir/technician-secret, mode 0600, from technician_login.secret),
// a login id it does not hold is checked against the secret. Both paths share one single-use
// record: a used, locked or revoked login id stays in logins.json (as an `offline` entry) until
// its issue time + ttl has passed by a trusted clock, so neither path accepts it again. Rules of
// the offline path, in this order:
//   - router-wide, at most `failure_limit` refused attempts (any path, unknown ids included)
//     per `failure_window_s` on the monotonic clock; beyond it every check is refused;
//   - trusted clock: refused before issue - max_clock_skew_s and from issue + ttl; the last
//     trusted time is persisted (data_dir/technician-state.json);
//   - untrusted clock: only credentials issued after the last trusted time;
//   - 5 wrong passwords lock the login id; the first success consumes it and opens a local
//     session ending at min(issue + ttl, use + ttl) by a trusted clock, or use + ttl on the
//     monotonic clock when the clock is not trusted.
//
// The local session a success opens (on either path; an installed login's ends with the
// credential) is kept in the login id's record with the configuration revision at the use, until
// logout() or end_sessions() closes it: at its end by either clock, or at a reboot (the router's
// UI sessions do not survive one). A record with an open session is never dropped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/common/clock.h"
#include "aterm/common/status.h"

namespace aterm::agent {

struct technician_login {
  std::string login_id;
  std::vector<std::uint8_t> salt;
  std::uint32_t iterations = 0;
  std::vector<std::uint8_t> hash;     // 32 bytes
  std::int64_t expires_at = 0;        // unix seconds, wall clock
  std::int64_t mono_deadline_ns = 0;  // steady clock of this boot
  std::string boot_id;
  int failures = 0;
};

// The offline path's settings (agent configuration `technician.*`, `clock.*`).
struct offline_rules {
  std::string device_id;
  int failure_limit = 10;
  std::int64_t failure_window_s = 600;
  std::int64_t max_clock_skew_s = 300;
  std::int64_t trust_floor = 0;
  bool require_sync = false;
};

// A login id used, locked, revoked or failed on the router; kept until issue + ttl.
struct login_record {
  enum class state { open, used, locked, revoked };
  std::string login_id;
  std::int64_t expires_at = 0;  // issue + ttl, wall clock
  int failures = 0;
  state st = state::open;
  std::int64_t session_until = 0;         // used, trusted clock: wall seconds; else 0
  std::int64_t session_until_mono_s = 0;  // used: seconds since boot `session_boot_id`; else 0
  bool session_open = false;              // the local session the use opened has not ended
  std::string session_boot_id;
  std::optional<std::int64_t> config_rev_before;  // at the use, when the backend told it
};

// A local session that ended: what its technician_login.ended event reports.
struct ended_session {
  enum class reason { logout, expired, reboot };
  std::string login_id;
  reason why = reason::expired;
  std::optional<std::int64_t> config_rev_before;
};
std::string_view to_string(ended_session::reason r);

class login_store {
 public:
  // Errors: "io", "bad_json" (an unreadable file is an error, not an empty store).
  static common::result<login_store> open(const std::filesystem::path& file,
                                          const common::clock& clock, std::string boot_id,
                                          offline_rules rules = {});

  // Stores the per-device secret (technician_login.secret args). Errors: bad_args, io.
  common::status set_secret(std::string_view secret_hex);
  bool has_secret() const { return !secret_.empty(); }

  // Installs (or replaces) from the technician_login.install args (JSON object text).
  // Errors (op_error of common/command_table.h): bad_args naming the field, or saying the login
  // is already dead on arrival or the router holds too many; io.
  common::status install(std::string_view args_json);
  // Returns true when it existed. Errors: "io".
  common::result<bool> revoke(std::string_view login_id);

  enum class outcome { accepted, wrong_password, locked, expired, unknown, throttled, used };
  struct check_result {
    outcome result = outcome::unknown;
    int failures = 0;  // wrong passwords so far (for wrong_password and locked)
  };
  // Verifies in constant time and updates the store (consumes on success, invalidates at the
  // 5th failure). An I/O failure while saving refuses the login (the credential must not be
  // usable twice because a write failed). A success opens the local session, remembering
  // `config_rev` (the router's configuration revision now, when known).
  check_result check(std::string_view login_id, std::string_view password,
                     std::optional<std::int64_t> config_rev = std::nullopt);

  // Ends the open local session of `login_id` (the technician logged out); nullopt when it has
  // none. Saved before returning.
  std::optional<ended_session> logout(std::string_view login_id);
  // Ends every open session past its end (by the monotonic clock of its boot, or by a trusted
  // wall clock) or opened before a reboot; saved before returning.
  std::vector<ended_session> end_sessions();

  // Removes dead credentials (saving the file when any went); returns how many.
  std::size_t expire();
  std::size_t size() const { return logins_.size(); }
  const login_record* record(std::string_view login_id) const;
  bool contains(std::string_view login_id) const;

 private:
  login_store(std::filesystem::path file, const common::clock& clock, std::string boot_id)
      : file_(std::move(file)), clock_(&clock), boot_id_(std::move(boot_id)) {}
  bool dead(const technician_login& l) const;
  common::status save() const;
  common::status save_state() const;
  bool clock_trusted() const;
  // Whether the router-wide limit refuses checks now (opens a new window when one has passed).
  bool throttled();
  void count_failure();
  login_record& record_for(std::string_view login_id, std::int64_t expires_at);
  void tombstone(std::string_view login_id, login_record::state st);
  check_result check_offline(std::string_view login_id, std::string_view password,
                             std::optional<std::int64_t> config_rev);
  // Opens the session of a use ending at `until_mono_s` (seconds since boot) and, when the
  // clock is trusted, at `until_s`.
  void open_session(login_record& r, std::int64_t until_s, std::int64_t until_mono_s,
                    std::optional<std::int64_t> config_rev);

  std::filesystem::path file_;
  const common::clock* clock_;
  std::string boot_id_;
  std::vector<technician_login> logins_;
  offline_rules rules_;
  std::vector<std::uint8_t> secret_;
  std::vector<login_record> records_;
  std::int64_t last_trusted_s_ = 0;
  std::string window_boot_id_;
  std::int64_t window_start_ns_ = 0;
  int window_failures_ = 0;
};

// The kernel's boot id (/proc/sys/kernel/random/boot_id), or "" when unavailable.
std::string read_boot_id();

}  // namespace aterm::agent
