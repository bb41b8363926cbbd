// The tamper-evident access log (DESIGN.md section 5, "access log"). Records form one chain over
// the whole platform with a gap-free sequence number:
//   h(seq) = HMAC-SHA-256(key, h(seq-1) || canonical_record(record(seq))),   h(0) = 32 zero bytes,
// under a key kept outside the database (security/key_file.h, security.audit_key_file), so
// whoever can write the database file but not read the key cannot recompute the chain.
// canonical_record is length-prefixed in a fixed field order, so no user-supplied text can shift
// a field boundary or forge another record.
//
// Keys. The records after an "audit.key_start key_id=K" record (itself sealed under K) are sealed
// under K; "audit.key_rotation key_id=K2" is sealed under the key before it and the records after
// it under K2 (`aterm-cloud audit rotate-key`). A chain begun before any key existed starts with
// records sealed with plain SHA-256 (no key); the store appends a key start as soon as it opens
// with a key, and from there the keyed record's MAC covers the hash of the unkeyed prefix, so that
// prefix can no longer be recomputed either. verify, given the key file, refuses a chain that
// ends unkeyed (not_keyed) and any record not sealed under the key in force.
//
// Anchors. The head (seq, MAC) is also written outside the database, one line per anchor in an
// append-only file (security.audit_anchor_file) and in every backup's sidecar:
//   <UTC ISO 8601 time> seq=<n> mac=<64 hex> key_id=<id>
//   <UTC ISO 8601 time> restored seq=<n> mac=<64 hex> key_id=<id>
// The second form is written by `aterm-cloud restore`: the records after the restored head are
// gone on purpose (the restore's own record says so), so the earlier anchors past seq n no longer
// apply; the restored head is anchored instead.
// verify checks each anchored record's MAC against the anchor (a rewrite made after the anchor,
// even with a consistent chain: rewritten) and that no anchor names a record past the last
// (cut_tail).
//
// How the store persists it (the contract with `aterm-cloud audit verify`):
// - table audit_log: seq INTEGER PRIMARY KEY (gap-free, from 1: head.seq + 1, assigned in the
//   appending transaction), ts_ms INTEGER (UTC unix milliseconds, stored exactly as hashed),
//   company_id, actor, action, target, result, detail, source_ip (TEXT, stored byte-exact),
//   prev_hash, hash (TEXT, 64 lowercase hex). Triggers refuse every UPDATE, and a DELETE of a
//   row with seq >= audit_head.purge_before (so only the purge's rows can go).
// - table audit_head: one row (seq, hash, purge_before) = the last appended record, updated in
//   the SAME transaction as the insert (seal_record returns it), and the start of the chain after
//   the last purge (0 before any). A trigger refuses lowering any of its numbers. A cut tail (the
//   newest records deleted) is detected against it and against the anchors; backups carry it and
//   `audit verify` prints it. Raising purge_before by hand and deleting is still found: no
//   checkpoint confirms the new start (bad_start).
// - append: BEGIN IMMEDIATE; read audit_head; seal_record(r, head, key); INSERT r; UPDATE
//   audit_head; COMMIT.
// - 365-day purge: in one transaction, append make_checkpoint(purge_checkpoint(first kept record,
//   head), now) like any record, set audit_head.purge_before = checkpoint.start_seq, then delete
//   the records with seq < checkpoint.start_seq. The first kept record is the oldest with
//   ts_ms >= now - 365 days; none kept -> the checkpoint itself starts the chain.
// - verify: stream the rows ordered by seq into a chain_verifier, then finish(audit_head).
// Pure functions and values; a chain_verifier is used by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "aterm/cloud/audit_chain_port.h"
#include "aterm/cloud/model.h"
#include "aterm/cloud/security/key_file.h"
#include "aterm/common/status.h"

namespace aterm::cloud::security {

// h(0): 32 zero bytes, as hex.
inline constexpr std::string_view k_genesis_hash = k_empty_chain_hash;
// The action of a checkpoint record.
inline constexpr std::string_view k_checkpoint_action = "audit.checkpoint";
// The actions of the key records, and the field of their detail ("key_id=<id>").
inline constexpr std::string_view k_key_start_action = "audit.key_start";
inline constexpr std::string_view k_key_rotation_action = "audit.key_rotation";
inline constexpr std::string_view k_key_id_field = "key_id=";

// Records and the head are model.h's aterm::cloud::audit_record and audit_head. A head with
// seq 0 is the empty chain (its hash empty or k_genesis_hash).

// The bytes hashed for a record: a version tag, then seq, ts_ms, company_id, actor, action,
// target, result, detail, source_ip, each as "<byte length>:<bytes>;" (numbers in decimal).
std::string canonical_record(const audit_record& r);
// Lowercase hex HMAC-SHA-256(key, prev || canonical_record(r)); plain SHA-256 when key is null
// (a chain begun before the key existed). REQUIRES: prev_hash_hex is 64 hex digits.
std::string chain_mac(const secret_key* key, std::string_view prev_hash_hex, const audit_record& r);
// chain_mac without a key.
std::string chain_hash(std::string_view prev_hash_hex, const audit_record& r);
// True when r.hash is r's MAC after r.prev_hash under `key` (null: plain SHA-256).
bool sealed_with(const audit_record& r, const secret_key* key);

// Makes `r` the record after `head` sealed under `key` (null: plain SHA-256): sets seq,
// prev_hash and hash (the caller fills ts_ms and the text fields first). Returns the new head to
// store with it.
audit_head seal_record(audit_record& r, const audit_head& head, const secret_key* key = nullptr);

// Unsealed key records (actor "system", detail "key_id=<id>"): a key start, sealed under the key
// it names; a rotation, sealed under the key in force before it.
audit_record make_key_start(const std::string& key_id, std::int64_t ts_ms);
audit_record make_key_rotation(const std::string& new_key_id, std::int64_t ts_ms);
// The key id a key start or rotation names; nullopt for any other record.
std::optional<std::string> key_record_id(const audit_record& r);

// One anchor of the head outside the database.
struct audit_anchor {
  std::string time;  // UTC ISO 8601, when it was taken
  std::int64_t seq = 0;
  std::string mac;  // the hash of record `seq`
  std::string key_id;
  bool restored = false;  // a restore's line: earlier anchors past `seq` no longer apply
};
// The anchor file's line for `a`, with its newline.
std::string format_anchor(const audit_anchor& a);
// The anchors of an anchor file's text (no file access). Error "bad_anchor" naming the line.
common::result<std::vector<audit_anchor>> parse_anchors(std::string_view text);

// Where the remaining chain starts after a purge: the first kept record's seq and the hash
// before it.
struct checkpoint {
  std::int64_t start_seq = 0;
  std::string start_prev_hash;

  friend bool operator==(const checkpoint&, const checkpoint&) = default;
};

// The checkpoint for a purge that keeps `first_kept` and every later record; when nothing is
// kept, the checkpoint record itself starts the chain ({head.seq + 1, head.hash}).
checkpoint purge_checkpoint(const std::optional<audit_record>& first_kept, const audit_head& head);
// An unsealed checkpoint record (actor "system", action k_checkpoint_action, detail
// "start_seq=<n> start_prev_hash=<hex>"); seal it like any record.
audit_record make_checkpoint(const checkpoint& c, std::int64_t ts_ms);
// The checkpoint a record carries; nullopt when it is not a well-formed checkpoint record.
std::optional<checkpoint> parse_checkpoint(const audit_record& r);

enum class chain_problem {
  none,
  edited,         // the record's content or hash does not match the chain: first_bad_seq edited
  broken_link,    // prev_hash differs from the hash before it (that one or this one was changed)
  gap,            // a sequence number is missing (a record deleted in the middle)
  out_of_order,   // a sequence number repeats or goes back
  bad_start,      // the first record is neither seq 1 after the genesis nor confirmed by a
                  // checkpoint (records deleted at the start)
  cut_tail,       // the head names later records than exist (the newest records deleted)
  head_mismatch,  // the last record differs from the head, or records exist beyond it
  not_keyed,      // given a key file, the chain ends in records sealed without a key
  unknown_key,    // a key record names a key the key file does not hold
  rewritten       // an anchored record's MAC differs from the anchor's
};

// "intact", "edited", "broken_link", "gap", "out_of_order", "bad_start", "cut_tail",
// "head_mismatch", "not_keyed", "unknown_key", "rewritten".
std::string_view to_string(chain_problem p);

struct chain_report {
  chain_problem problem = chain_problem::none;
  std::int64_t first_bad_seq = 0;  // the first record found bad (or missing); 0 when intact
  std::int64_t records = 0;        // records checked
  std::int64_t first_seq = 0;      // the range checked (0 when empty)
  std::int64_t last_seq = 0;
  std::string message;  // one line for humans, naming the record

  bool intact() const { return problem == chain_problem::none; }
};

// Verifies a chain streamed in seq order. Feed every record to add(); it returns false once a
// problem is found (stop feeding), then call finish() with the separately kept head. `ring` is the
// key file's keys (empty: an unkeyed chain is expected); `anchors` the heads anchored outside.
class chain_verifier {
 public:
  explicit chain_verifier(keyring ring = {}, std::vector<audit_anchor> anchors = {});
  chain_verifier(const chain_verifier&) = delete;  // key_ points into ring_
  chain_verifier& operator=(const chain_verifier&) = delete;
  bool add(const audit_record& r);
  chain_report finish(const audit_head& head);

 private:
  bool fail(chain_problem p, std::int64_t seq, std::string message);
  const secret_key* first_key(const audit_record& r) const;

  keyring ring_;
  std::map<std::int64_t, audit_anchor> anchors_;
  const secret_key* key_ = nullptr;  // the key in force (into ring_); null: unkeyed
  std::int64_t first_unkeyed_ = 0;   // the first of the trailing unkeyed records; 0: none

  chain_report report_;
  bool failed_ = false;
  std::int64_t prev_seq_ = 0;
  std::string running_hash_;
  std::string start_prev_hash_;
  bool start_confirmed_ = false;
};

// verify_chain over records in memory (ordered by seq).
chain_report verify_chain(std::span<const audit_record> records, const audit_head& head,
                          const keyring& ring = {}, const std::vector<audit_anchor>& anchors = {});

// This file's rule as the store's audit_chain_port (audit_chain_port.h): every store is opened
// with it (store_options::audit_chain), so the store seals nothing by a rule of its own.
std::shared_ptr<const audit_chain_port> audit_chain_rule();

}  // namespace aterm::cloud::security
