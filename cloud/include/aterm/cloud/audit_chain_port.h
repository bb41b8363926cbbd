// The access log's chain as the store applies it (DESIGN.md section 5, "access log"). The store
// persists records and the chain's head, each append in the same transaction as the action it
// records; how a record is bounded, sealed onto the head and checkpointed is the rule's
// (security/audit_chain.h implements this port: security::audit_chain_rule()). The store holds
// no such rule of its own: it reads the head, asks the port, and writes what it answers.
// Implementations are pure and shared by every thread of a store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "aterm/cloud/model.h"

namespace aterm::cloud {

class audit_chain_port {
 public:
  virtual ~audit_chain_port() = default;

  // `e` with every field cut to the record's size rule.
  virtual audit_entry bounded(const audit_entry& e) const = 0;
  // Makes `r` the record after `head` under `key` (null: plain SHA-256): sets seq, prev_hash and
  // hash. Returns the new head, to be stored with the record.
  virtual audit_head seal(audit_record& r, const audit_head& head, const secret_key* key) const = 0;
  // True when `r` is sealed under `key`.
  virtual bool sealed_with(const audit_record& r, const secret_key& key) const = 0;
  // Unsealed records about the chain itself: a key start naming `key_id`, a rotation to
  // `new_key_id`.
  virtual audit_record key_start(const std::string& key_id, std::int64_t ts_ms) const = 0;
  virtual audit_record key_rotation(const std::string& new_key_id, std::int64_t ts_ms) const = 0;

  // A purge that keeps `first_kept` and every later record (none kept: nullopt): the unsealed
  // checkpoint record to append, and the seq the remaining chain starts at.
  struct purge_start {
    audit_record checkpoint;
    std::int64_t start_seq = 0;
  };
  virtual purge_start purge(const std::optional<audit_record>& first_kept, const audit_head& head,
                            std::int64_t ts_ms) const = 0;
};

}  // namespace aterm::cloud
