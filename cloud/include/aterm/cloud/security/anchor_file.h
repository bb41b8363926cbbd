// The anchor file of the access log (security.audit_anchor_file; its lines are
// security/audit_chain.h's anchors): append-only, created 0600, each line synced to the disk.
// Functions of one thread at a time per file.
#pragma once

#include <filesystem>
#include <vector>

#include "aterm/cloud/security/audit_chain.h"
#include "aterm/common/status.h"

namespace aterm::cloud::security {

// Appends one anchor line to `file` (created 0600 when missing) and syncs it. Error "anchor".
common::status append_audit_anchor(const std::filesystem::path& file, const audit_anchor& a);
// The anchors of `file`; none when `file` is empty or does not exist. Error "bad_anchor".
common::result<std::vector<audit_anchor>> load_audit_anchors(const std::filesystem::path& file);

}  // namespace aterm::cloud::security
