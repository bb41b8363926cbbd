// Daily backups and restore (DESIGN.md section 5, "backups"), the same for every store engine
// (backup_port.h): the engine writes a consistent copy of the live database into
// backup.dir/aterm-cloud-YYYY-MM-DD<suffix> (the UTC day; SQLite ".db", PostgreSQL ".dump") and
// reports the access-log head it holds; a signed sidecar <file>.json (backup_sidecar.h) records
// that head and the file's SHA-256. Each backup also anchors that head in the anchor file
// (security/audit_chain.h). Backups older than keep_days days are deleted, whatever their engine.
//
// restore refuses a file without a sidecar, whose sidecar is not signed with the backup key or
// names another file, whose checksum differs from its sidecar, that its engine's checks refuse
// (integrity, a schema version this program does not restore, any difference from a freshly
// migrated schema: backup_port.h), or whose access log does not verify under the audit key
// against its own head, the sidecar's and the anchors up to it. Only then does the engine make
// it the live database; the restored access log is verified again and its head anchored as a
// restore. Every check and the restore read one private copy of the file, so it cannot change
// between them. Stop every aterm-cloud instance first: a running `serve` would keep writing on
// top of the restored data (PostgreSQL refuses while other sessions use the database).
// Functions are safe to call from any one thread at a time per database.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "aterm/cloud/jobs/backup_port.h"
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

// "aterm-cloud-YYYY-MM-DD<suffix>" for the UTC day of `t` and the engine's suffix.
std::string backup_file_name(const backup_engine& engine, common::wall_time t);

// Writes (replacing) the backup of the day of `as_of`. Error "backup" naming the failing step.
// The sidecar is signed with keys.backup_key and the head appended to keys.anchor_file.
common::result<backup_info> make_backup(backup_engine& engine, const std::filesystem::path& dir,
                                        common::wall_time as_of, const backup_keys& keys);

// True when `dir` holds the engine's backup of the day of `as_of`.
bool has_backup_for(const backup_engine& engine, const std::filesystem::path& dir,
                    common::wall_time as_of);

// Deletes backups (and their sidecars) of days before the day of `as_of` minus keep_days - 1,
// so exactly keep_days daily backups remain; a backup is any "aterm-cloud-YYYY-MM-DD.<ext>"
// (ext: 1..16 of [a-z0-9]), so an earlier engine's backups age out too. Returns the deleted
// backup files.
common::result<std::vector<std::filesystem::path>> prune_backups(const std::filesystem::path& dir,
                                                                 common::wall_time as_of,
                                                                 std::int64_t keep_days);

// The checks restore makes, without restoring. Error "bad_backup" naming what is wrong.
common::result<backup_info> check_backup(backup_engine& engine, const std::filesystem::path& file,
                                         const backup_keys& keys);

// check_backup, then the engine's restore; returns the restored head. Errors: "bad_backup",
// "backup", "restore_refused" (backup_port.h).
common::result<backup_info> restore_backup(backup_engine& engine, const std::filesystem::path& file,
                                           const backup_keys& keys);

// Streams the access log of `db` (copy) through a chain_verifier with the audit keys and
// anchors (none: an unkeyed chain without anchors).
common::result<security::chain_report> verify_audit(
    backup_copy& db, const security::keyring& audit_ring = {},
    const std::vector<security::audit_anchor>& anchors = {});

// verify_audit on the live database of `db` (a file path or a postgresql:// URI).
common::result<security::chain_report> verify_audit_file(
    const std::string& db, const security::keyring& audit_ring = {},
    const std::vector<security::audit_anchor>& anchors = {});

}  // namespace aterm::cloud::jobs
