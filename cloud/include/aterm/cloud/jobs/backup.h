// Daily backups and restore (DESIGN.md section 5, "backups"). A backup is SQLite's VACUUM INTO
// of the live database (a consistent snapshot while the daemon writes) into
// backup.dir/aterm-cloud-YYYY-MM-DD.db (the UTC day), checked with PRAGMA integrity_check, with a
// signed sidecar YYYY-MM-DD.db.json (backup_sidecar.h) recording the access-log head it holds
// and the file's SHA-256. Each backup also anchors that head in the anchor file
// (security/audit_chain.h). Backups older than keep_days days are deleted.
//
// restore refuses a file without a sidecar, whose sidecar is not signed with the backup key,
// whose checksum differs from its sidecar, that fails integrity_check, whose schema is newer than
// this program, whose schema (tables, indexes, triggers, views) differs in any way from the
// project's own migrations at its version (naming the difference: a planted trigger or view
// would run inside the restored database), or whose access log does not verify under the audit
// key against its own head, the sidecar's and the anchors up to it; then copies a private copy of
// the checked file over the database with SQLite's online backup API, and anchors the restored
// head as a restore. Stop the daemon first: a running `serve` would keep writing on top of the
// restored data.
// Functions are safe to call from any one thread at a time per database.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "aterm/cloud/model.h"
#include "aterm/cloud/security/audit_chain.h"
#include "aterm/common/clock.h"
#include "aterm/common/config.h"
#include "aterm/common/status.h"

namespace aterm::cloud::jobs {

// The keys and files outside the database that backups and restores use.
struct backup_keys {
  secret_key backup_key;              // signs and checks sidecars (backup.key_file)
  security::keyring audit_ring;       // the access log's keys (security.audit_key_file)
  std::filesystem::path anchor_file;  // security.audit_anchor_file; "" = no anchors
};

// The files of security::secret_files_from(c): the backup key and the audit keys (each created
// 0600 when missing) and the anchor file's path. Error "key_file".
common::result<backup_keys> load_backup_keys(const common::config& c);

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
// The sidecar is signed with keys.backup_key and the head appended to keys.anchor_file.
common::result<backup_info> make_backup(const std::string& db_path,
                                        const std::filesystem::path& dir, common::wall_time as_of,
                                        const backup_keys& keys);

// True when `dir` holds the backup of the day of `as_of`.
bool has_backup_for(const std::filesystem::path& dir, common::wall_time as_of);

// Deletes backups (and their sidecars) of days before the day of `as_of` minus keep_days - 1,
// so exactly keep_days daily backups remain. Returns the deleted backup files.
common::result<std::vector<std::filesystem::path>> prune_backups(const std::filesystem::path& dir,
                                                                 common::wall_time as_of,
                                                                 std::int64_t keep_days);

// The checks restore makes, without restoring. Error "bad_backup" naming what is wrong.
common::result<backup_info> check_backup(const std::filesystem::path& file,
                                         const backup_keys& keys);

// check_backup, then the copy over db_path; returns the restored head.
common::result<backup_info> restore_backup(const std::string& db_path,
                                           const std::filesystem::path& file,
                                           const backup_keys& keys);

// Streams the access log of the SQLite file `db_path` through a chain_verifier with the audit
// keys and anchors (none: an unkeyed chain without anchors).
common::result<security::chain_report> verify_audit_file(
    const std::string& db_path, const security::keyring& audit_ring = {},
    const std::vector<security::audit_anchor>& anchors = {});

// "file:" URI of a path for sqlite3_open_v2 with SQLITE_OPEN_URI: every byte outside
// [A-Za-z0-9/._~-] percent-encoded, so '?', '#' and '%' in a file name stay part of the name.
std::string sqlite_file_uri(const std::string& path);

}  // namespace aterm::cloud::jobs
