// The PostgreSQL engine of backups (jobs/backup_port.h), with Debian's postgresql-client:
//
//   backup   pg_dump --format=custom of one snapshot: this engine exports the snapshot in a
//            REPEATABLE READ transaction, reads the access-log head in it and hands it to
//            pg_dump (--snapshot), so the head recorded in the sidecar is exactly the dump's.
//            The archive is then read back (pg_restore --list).
//   check    pg_restore (--single-transaction --exit-on-error --no-owner --no-privileges
//            --no-subscriptions) into a new scratch database created from template0 with the
//            live database's encoding and locale; its schema version must be one this program
//            restores, and pg_dump --schema-only of it must equal, object by object, that of a
//            second scratch database freshly migrated to the same version (every difference
//            named: a planted function, trigger, view or event trigger). No large objects.
//   restore  the checked scratch database becomes the live one by two renames in one
//            transaction, run from the maintenance database (postgres, else template1):
//            live -> <live>_replaced_<UTC time>, scratch -> live. PostgreSQL refuses to rename a
//            database while any other session is connected to it, so a restore cannot swap a
//            database under a running instance; the replaced database is kept for the operator
//            to drop (dropdb) once satisfied. A refusal ("restore_refused") names the sessions.
//
// Needs: the role of the URI owns its database and has CREATEDB (scratch databases). pg_dump and
// pg_restore run as child processes with an argument vector (no shell); the URI's password
// reaches them only as PGPASSWORD in their environment, never on their command line, and no
// message names it. A URI with sslpassword is refused (no child could receive it safely).
// Scratch databases are dropped when a check fails or its copy is destroyed.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "aterm/cloud/jobs/backup_port.h"

namespace aterm::cloud::postgres {

// The engine for the database of `uri`; pg_dump and pg_restore are taken from `bin_dir`.
std::unique_ptr<jobs::backup_engine> make_backup_engine(const std::string& uri,
                                                        const std::filesystem::path& bin_dir);

}  // namespace aterm::cloud::postgres
