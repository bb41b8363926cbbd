// Daily backups and restore (DESIGN.md section 5, "backups"). A backup is SQLite's VACUUM INTO
// of the live database (a consistent snapshot while the daemon writes) into
// backup.dir/aterm-cloud-YYYY-MM-DD.db (the UTC day), checked with PRAGMA integrity_check, with a
// sidecar YYYY-MM-DD.db.json recording the access-log head (seq, hash) it holds and the file's
// SHA-256. Backups older than keep_days days are deleted.
//
// restore refuses a file whose checksum differs from its sidecar, that fails integrity_check,
// whose schema is newer than this program, or whose access log does not verify against its own
// head (and the sidecar's); then copies it over the database with SQLite's online backup API.
// Stop the daemon first: a running `serve` would keep writing on top of the restored data.
// Functions are safe to call from any one thread at a time per database.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "aterm/cloud/model.h"
#include "aterm/cloud/security/audit_chain.h"
#include "aterm/common/clock.h"
#include "aterm/common/status.h"

namespace aterm::cloud::jobs {

struct backup_info {
  std::filesystem::path file;
  std::string day;  // "YYYY-MM-DD" (UTC)
  audit_head head;  // the access-log head held by the copy
  std::string sha256;
  std::int64_t bytes = 0;
};

// "aterm-cloud-YYYY-MM-DD.db" for the UTC day of `t`.
std::string backup_file_name(common::wall_time t);

// Writes (replacing) the backup of the day of `as_of`. Error "backup" naming the failing step.
common::result<backup_info> make_backup(const std::string& db_path,
                                        const std::filesystem::path& dir, common::wall_time as_of);

// True when `dir` holds the backup of the day of `as_of`.
bool has_backup_for(const std::filesystem::path& dir, common::wall_time as_of);

// Deletes backups (and their sidecars) of days before the day of `as_of` minus keep_days - 1,
// so exactly keep_days daily backups remain. Returns the deleted backup files.
common::result<std::vector<std::filesystem::path>> prune_backups(const std::filesystem::path& dir,
                                                                 common::wall_time as_of,
                                                                 std::int64_t keep_days);

// The checks restore makes, without restoring. Error "bad_backup" naming what is wrong.
common::result<backup_info> check_backup(const std::filesystem::path& file);

// check_backup, then the copy over db_path; returns the restored head.
common::result<backup_info> restore_backup(const std::string& db_path,
                                           const std::filesystem::path& file);

// Streams the access log of the SQLite file `db_path` through a chain_verifier.
common::result<security::chain_report> verify_audit_file(const std::string& db_path);

}  // namespace aterm::cloud::jobs
