// The sidecar of a backup (backup.h): backup.dir/aterm-cloud-YYYY-MM-DD.db.json, one JSON object
//   {"format": "aterm-backup-sidecar-2", "file": "aterm-cloud-YYYY-MM-DD.db", "day": "YYYY-MM-DD",
//    "head_seq": N, "head_hash": "<64 hex>", "sha256": "<64 hex>", "bytes": N,
//    "key_id": "<id of the backup key>", "mac": "<64 hex>"}
// head_seq/head_hash are the access-log head the copy holds (also an anchor of the chain),
// sha256/bytes the backup file's. mac = HMAC-SHA-256(backup key, signed_text) where signed_text
// is every other field, each as "<byte length>:<bytes>;" in the order above (numbers in
// decimal), under a key kept outside the database and the backup folder (backup.key_file,
// security/key_file.h). restore refuses a backup without a sidecar, with another format, or whose
// MAC does not verify under the configured key.
// Pure functions: bytes in, values out (no file access), safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aterm/cloud/model.h"
#include "aterm/common/status.h"

namespace aterm::cloud::jobs {

inline constexpr std::string_view k_sidecar_format = "aterm-backup-sidecar-2";

struct backup_sidecar {
  std::string format = std::string(k_sidecar_format);
  std::string file;  // the backup's file name, without a folder
  std::string day;
  std::int64_t head_seq = 0;
  std::string head_hash;
  std::string sha256;
  std::int64_t bytes = 0;
  std::string key_id;
  std::string mac;
};

// The bytes the MAC covers.
std::string sidecar_signed_text(const backup_sidecar& s);
// Sets key_id and mac under `key`.
void sign_sidecar(backup_sidecar& s, const secret_key& key);
// True when s names `key` and its mac is the MAC under it (compared in constant time).
bool sidecar_authentic(const backup_sidecar& s, const secret_key& key);

// The sidecar file's text (one JSON object and a newline).
std::string format_backup_sidecar(const backup_sidecar& s);
// Parses a sidecar file's text; every field required, hashes 64 lowercase hex, numbers
// non-negative integers. Error "bad_backup" naming the field. Does not check the MAC.
common::result<backup_sidecar> parse_backup_sidecar(std::string_view text);

}  // namespace aterm::cloud::jobs
