// One-time technician logins on the router (DESIGN.md section 4). The store keeps only the
// PBKDF2 hash, salt and iteration count the cloud sent, never a password. A credential dies at
// the first success (single use), at 5 wrong passwords, at `expires_at` by the wall clock, or at
// receipt + ttl_s by the monotonic clock, whichever comes first (the router's wall clock may be
// wrong). The monotonic deadline is kept with the kernel's boot id: after a reboot the elapsed
// time cannot be known, so such credentials are dropped at load (the safe side). The file
// (data_dir/logins.json, mode 0600) is rewritten atomically on every change, and expired entries
// are removed at load. Owned by the agent thread (or by `login-check` when no agent runs, under
// the data_dir lock); not thread-safe.
#pragma once

#include <cstdint>
#include <filesystem>
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

class login_store {
 public:
  // Errors: "io", "bad_json" (an unreadable file is an error, not an empty store).
  static common::result<login_store> open(const std::filesystem::path& file,
                                          const common::clock& clock, std::string boot_id);

  // Installs (or replaces) from the technician_login.install args (JSON object text).
  // Errors (op_error of common/command_table.h): bad_args naming the field, or saying the login
  // is already dead on arrival or the router holds too many; io.
  common::status install(std::string_view args_json);
  // Returns true when it existed. Errors: "io".
  common::result<bool> revoke(std::string_view login_id);

  enum class outcome { accepted, wrong_password, locked, expired, unknown };
  struct check_result {
    outcome result = outcome::unknown;
    int failures = 0;  // wrong passwords so far (for wrong_password and locked)
  };
  // Verifies in constant time and updates the store (consumes on success, invalidates at the
  // 5th failure). An I/O failure while saving refuses the login (the credential must not be
  // usable twice because a write failed).
  check_result check(std::string_view login_id, std::string_view password);

  // Removes dead credentials (saving the file when any went); returns how many.
  std::size_t expire();
  std::size_t size() const { return logins_.size(); }
  bool contains(std::string_view login_id) const;

 private:
  login_store(std::filesystem::path file, const common::clock& clock, std::string boot_id)
      : file_(std::move(file)), clock_(&clock), boot_id_(std::move(boot_id)) {}
  bool dead(const technician_login& l) const;
  common::status save() const;

  std::filesystem::path file_;
  const common::clock* clock_;
  std::string boot_id_;
  std::vector<technician_login> logins_;
};

// The kernel's boot id (/proc/sys/kernel/random/boot_id), or "" when unavailable.
std::string read_boot_id();

}  // namespace aterm::agent
