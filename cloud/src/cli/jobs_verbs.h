// The jobs' verbs of aterm-cloud (DESIGN.md section 7), dispatched by cli.cpp:
//   jobs run --config F --as-of TIME [--dry-run]   one lifecycle sweep as of TIME (ISO 8601 with
//                                                 Z or an offset); one line per action on stdout
//   backup --config F [--as-of TIME]              the backup of the day (default: now); JSON
//   restore --config F FILE                       checks FILE and restores it over db; JSON
//   audit anchor --config F                       appends the access-log head to the anchor file
//   audit rotate-key --config F                   a new audit key: the rotation record under the
//                                                 old key names it, later records use it (stop
//                                                 the daemon first: it keeps the key it loaded)
//   admin account unlock --config F --company ID --login L
//                                                 lifts any lock, inactivity included: the CLI is
//                                                 the host's operator, a site administrator
// Exit codes as cli.h: 0 ok, 1 refused or failed (a sweep with failures), 2 usage.
#pragma once

#include <ostream>

#include "aterm/cloud/cli.h"

namespace aterm::cloud::jobs {

int jobs_run_verb(const cli::invocation& inv, std::ostream& out, std::ostream& err);
int backup_verb(const cli::invocation& inv, std::ostream& out, std::ostream& err);
int restore_verb(const cli::invocation& inv, std::ostream& out, std::ostream& err);
int account_unlock_verb(const cli::invocation& inv, std::ostream& out, std::ostream& err);
int audit_anchor_verb(const cli::invocation& inv, std::ostream& out, std::ostream& err);
int audit_rotate_key_verb(const cli::invocation& inv, std::ostream& out, std::ostream& err);

}  // namespace aterm::cloud::jobs
