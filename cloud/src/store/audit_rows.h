// Access-log rows on the store's database (security/audit_chain.h holds the rules): the columns
// a record is read from, and the append that seals a record onto the chain and moves the head in
// the caller's transaction. Shared by the store (sql_store.cpp) and the jobs' lifecycle port.
// Functions of one connection; the caller holds its write transaction (sql/transactions.h), which
// excludes every other writer, so the head read and moved here stays exact across instances.
// Throw db_error.
#pragma once

#include <cstdint>
#include <string>

#include "aterm/cloud/model.h"
#include "sql/sql.h"

namespace aterm::cloud::store_sql {

using sql::connection;
using sql::query;

// "SELECT <record columns> FROM audit_log " (a trailing space; add WHERE/ORDER BY).
extern const std::string k_audit_select;
audit_record read_audit(const query& q);

// The chain's head; {0, genesis hash} before the first record.
audit_head read_audit_head(connection& db);

// Inserts a sealed record as it is (seq, prev_hash and hash set by security::seal_record).
void insert_audit_record(connection& db, const audit_record& r);

// Seals `e`, its fields bounded (security/audit_fields.h), at `ts_ms` after the current head
// under `key` (null: plain SHA-256, for stores opened without a key file), inserts it and stores
// the new head.
audit_record append_audit_record(connection& db, const secret_key* key, const audit_entry& e,
                                 std::int64_t ts_ms);

// Appends a key start for `key` unless the chain is empty or its last record is already sealed
// under `key` (a chain begun unkeyed or under a key no longer in use). True when it appended.
bool start_keyed_chain(connection& db, const secret_key& key, std::int64_t ts_ms);

// Appends the rotation record naming `new_key_id`, sealed under `old_key`.
void append_key_rotation(connection& db, const secret_key& old_key, const std::string& new_key_id,
                         std::int64_t ts_ms);

}  // namespace aterm::cloud::store_sql
