#include "audit_rows.h"

namespace aterm::cloud::store_sql {

const std::string k_audit_select =
    "SELECT seq, ts_ms, company_id, actor, action, target, result, detail, source_ip, "
    "prev_hash, hash FROM audit_log ";

audit_record read_audit(const query& q) {
  audit_record r;
  r.seq = q.i64(0);
  r.ts_ms = q.i64(1);
  r.company_id = q.text(2);
  r.actor = q.text(3);
  r.action = q.text(4);
  r.target = q.text(5);
  r.result = q.text(6);
  r.detail = q.text(7);
  r.source_ip = q.text(8);
  r.prev_hash = q.text(9);
  r.hash = q.text(10);
  return r;
}

audit_head read_audit_head(connection& db) {
  auto q = db.prepare("SELECT seq, hash FROM audit_head WHERE id = 1");
  if (!q.step()) return {0, std::string(k_empty_chain_hash)};
  return {q.i64(0), q.text(1)};
}

void insert_audit_record(connection& db, const audit_record& r) {
  db.prepare(
        "INSERT INTO audit_log(seq, ts_ms, company_id, actor, action, target, result, "
        "detail, source_ip, prev_hash, hash) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(r.seq)
      .bind(r.ts_ms)
      .bind(r.company_id)
      .bind(r.actor)
      .bind(r.action)
      .bind(r.target)
      .bind(r.result)
      .bind(r.detail)
      .bind(r.source_ip)
      .bind(r.prev_hash)
      .bind(r.hash)
      .exec();
}

void seal_and_insert(connection& db, const audit_chain_port& chain, const secret_key* key,
                     audit_record& r) {
  audit_head head = read_audit_head(db);
  audit_head next = chain.seal(r, head, key);
  insert_audit_record(db, r);
  db.prepare(
        "INSERT INTO audit_head(id, seq, hash) VALUES(1, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash")
      .bind(next.seq)
      .bind(next.hash)
      .exec();
}

audit_record append_audit_record(connection& db, const audit_sealing& sealing,
                                 const audit_entry& entry, std::int64_t ts_ms) {
  // Every append of the store and the jobs passes here, so no caller escapes the size rule.
  const audit_entry e = sealing.chain->bounded(entry);
  audit_record r;
  r.ts_ms = ts_ms;
  r.company_id = e.company_id;
  r.actor = e.actor;
  r.action = e.action;
  r.target = e.target;
  r.result = e.result;
  r.detail = e.detail;
  r.source_ip = e.source_ip;
  seal_and_insert(db, *sealing.chain, sealing.key_or_null(), r);
  return r;
}

bool start_keyed_chain(connection& db, const audit_sealing& sealing, std::int64_t ts_ms) {
  if (!sealing.key) return false;
  audit_head head = read_audit_head(db);
  if (head.seq == 0) return false;
  auto q = db.prepare(k_audit_select + "WHERE seq = ?");
  q.bind(head.seq);
  if (q.step() && sealing.chain->sealed_with(read_audit(q), *sealing.key)) return false;
  audit_record r = sealing.chain->key_start(sealing.key->id, ts_ms);
  seal_and_insert(db, *sealing.chain, &*sealing.key, r);
  return true;
}

void append_key_rotation(connection& db, const audit_sealing& sealing,
                         const std::string& new_key_id, std::int64_t ts_ms) {
  audit_record r = sealing.chain->key_rotation(new_key_id, ts_ms);
  seal_and_insert(db, *sealing.chain, sealing.key_or_null(), r);
}

}  // namespace aterm::cloud::store_sql
