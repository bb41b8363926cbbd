// Access-log rows on the store's database: the columns a record is read from, and the append that
// has a record sealed onto the chain (by the rule the store was opened with, audit_chain_port.h)
// and moves the head in the caller's transaction. Shared by the store (sql_store.cpp) and the jobs'
// lifecycle port. Functions of one connection; the caller holds its write transaction
// (sql/transactions.h), which excludes every other writer, so the head read and moved here stays
// exact across instances. Throw db_error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "aterm/cloud/audit_chain_port.h"
#include "aterm/cloud/model.h"
#include "sql/sql.h"

namespace aterm::cloud::store_sql {

using sql::connection;
using sql::query;

// "SELECT <record columns> FROM audit_log " (a trailing space; add WHERE/ORDER BY).
extern const std::string k_audit_select;
audit_record read_audit(const query& q);

// The chain's head; {0, k_empty_chain_hash} before the first record.
audit_head read_audit_head(connection& db);

// Inserts a sealed record as it is (seq, prev_hash and hash set by the chain's rule).
void insert_audit_record(connection& db, const audit_record& r);

// How a store seals: the access log's rule (never null) and the key in force (none: plain
// SHA-256, for stores opened without a key file).
struct audit_sealing {
  std::shared_ptr<const audit_chain_port> chain;
  std::optional<secret_key> key;

  const secret_key* key_or_null() const { return key ? &*key : nullptr; }
};

// Has `e`, its fields bounded, sealed at `ts_ms` after the current head under the key in force,
// inserts it and stores the new head.
audit_record append_audit_record(connection& db, const audit_sealing& sealing, const audit_entry& e,
                                 std::int64_t ts_ms);

// Has `r` sealed after the current head under `key` (null: plain SHA-256), inserts it and stores
// the new head.
void seal_and_insert(connection& db, const audit_chain_port& chain, const secret_key* key,
                     audit_record& r);

// Appends a key start for the key in force unless there is none, the chain is empty or its last
// record is already sealed under it (a chain begun unkeyed or under a key no longer in use). True
// when it appended.
bool start_keyed_chain(connection& db, const audit_sealing& sealing, std::int64_t ts_ms);

// Appends the rotation record naming `new_key_id`, sealed under the key in force.
void append_key_rotation(connection& db, const audit_sealing& sealing,
                         const std::string& new_key_id, std::int64_t ts_ms);

}  // namespace aterm::cloud::store_sql
