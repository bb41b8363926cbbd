// Secret keys kept outside the database: the access log's chain key (security.audit_key_file)
// and the backups' sidecar key (backup.key_file). A key file is text, one key a line, oldest
// first, the last line the key in use:
//   <key id> <64 lowercase hex digits: 32 random bytes>
// The key id is the first 16 hex digits of SHA-256 of the key bytes: it names a key in the
// access log, the anchors and the sidecars without revealing it. The file is created mode 0600;
// a file that the group or others may read or write is refused. Rotation appends a line, so the
// older keys stay available to verify what they sealed.
// Functions of one thread at a time per file.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "aterm/cloud/model.h"
#include "aterm/common/config.h"
#include "aterm/common/status.h"

namespace aterm::cloud::security {

// Oldest first; back() is the key in use. Never empty when returned ok.
using keyring = std::vector<secret_key>;

// The next line of `text` without its newline, removed from `text` (the key and anchor files'
// parsers).
std::string_view take_line(std::string_view& text);

// The id of a key's bytes.
std::string key_id_of(std::string_view secret);

// The keys of a key file text (no file access; the parser of load_keyring). Error "key_file".
common::result<keyring> parse_keyring(std::string_view text);

// Reads `path`. Error "key_file" when missing, unreadable, open to group or others, or malformed.
common::result<keyring> load_keyring(const std::filesystem::path& path);

// load_keyring, first creating the file (0600, one new key) when it does not exist. `created`
// tells whether it did.
common::result<keyring> load_or_create_keyring(const std::filesystem::path& path,
                                               bool* created = nullptr);

// Appends a new key to the file (rewritten through a 0600 temporary file and a rename) and
// returns the new ring. The old keys stay.
common::result<keyring> add_key(const std::filesystem::path& path);

// The key with this id, or nullptr.
const secret_key* find_key(const keyring& ring, std::string_view id);

// The files kept outside the database, from the cloud configuration. Each defaults to a name
// next to the database file; put the keys where whoever may write the database (or read the
// backups) may not read them.
struct secret_files {
  std::filesystem::path audit_key;      // security.audit_key_file. Default: <db>.audit-key
  std::filesystem::path audit_anchors;  // security.audit_anchor_file. Default: <db>.audit-anchors
  std::filesystem::path backup_key;     // backup.key_file. Default: <db>.backup-key
};
secret_files secret_files_from(const common::config& c);

}  // namespace aterm::cloud::security
