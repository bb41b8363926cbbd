#include "aterm/cloud/security/audit_chain.h"

#include <algorithm>
#include <cassert>
#include <charconv>

#include "aterm/cloud/security/audit_fields.h"
#include "aterm/cloud/security/limits.h"
#include "aterm/common/crypto.h"

namespace aterm::cloud::security {

namespace crypto = common::crypto;

namespace {

// Bumped if the canonical form ever changes; old chains then need the old form to verify.
constexpr std::string_view k_canonical_tag = "aterm-audit-v1";

void put_field(std::string& out, std::string_view value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += ';';
}

bool is_hash_hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string seq_text(std::int64_t seq) {
  return "seq " + std::to_string(seq);
}

// A record the platform writes about the chain itself (unsealed).
audit_record system_record(std::string_view action, std::string detail, std::int64_t ts_ms) {
  audit_record r;
  r.ts_ms = ts_ms;
  r.company_id = std::string(k_platform_company);
  r.actor = "system";
  r.action = std::string(action);
  r.result = "ok";
  r.detail = std::move(detail);
  return r;
}

}  // namespace

std::string canonical_record(const audit_record& r) {
  std::string out;
  out.reserve(64 + r.company_id.size() + r.actor.size() + r.action.size() + r.target.size() +
              r.result.size() + r.detail.size() + r.source_ip.size());
  put_field(out, k_canonical_tag);
  put_field(out, std::to_string(r.seq));
  put_field(out, std::to_string(r.ts_ms));
  put_field(out, r.company_id);
  put_field(out, r.actor);
  put_field(out, r.action);
  put_field(out, r.target);
  put_field(out, r.result);
  put_field(out, r.detail);
  put_field(out, r.source_ip);
  return out;
}

std::string chain_hash(std::string_view prev_hash_hex, const audit_record& r) {
  return chain_mac(nullptr, prev_hash_hex, r);
}

std::string chain_mac(const secret_key* key, std::string_view prev_hash_hex,
                      const audit_record& r) {
  auto prev = crypto::from_hex(prev_hash_hex);
  assert(prev && prev->size() == 32);
  std::string input(prev->begin(), prev->end());
  input += canonical_record(r);
  if (key == nullptr) return crypto::to_hex(crypto::sha256(input));
  return crypto::to_hex(crypto::hmac_sha256(key->secret, input));
}

audit_head seal_record(audit_record& r, const audit_head& head, const secret_key* key) {
  const std::string prev =
      head.seq == 0 || head.hash.empty() ? std::string(k_genesis_hash) : head.hash;
  r.seq = head.seq + 1;
  r.prev_hash = prev;
  r.hash = chain_mac(key, prev, r);
  return audit_head{r.seq, r.hash};
}

bool sealed_with(const audit_record& r, const secret_key* key) {
  if (!is_hash_hex(r.prev_hash)) return false;
  return chain_mac(key, r.prev_hash, r) == r.hash;
}

// ---- key records ----

audit_record make_key_start(const std::string& key_id, std::int64_t ts_ms) {
  return system_record(k_key_start_action, std::string(k_key_id_field) + key_id, ts_ms);
}

audit_record make_key_rotation(const std::string& new_key_id, std::int64_t ts_ms) {
  return system_record(k_key_rotation_action, std::string(k_key_id_field) + new_key_id, ts_ms);
}

std::optional<std::string> key_record_id(const audit_record& r) {
  if (r.action != k_key_start_action && r.action != k_key_rotation_action) return std::nullopt;
  std::string_view d = r.detail;
  if (!d.starts_with(k_key_id_field)) return std::nullopt;
  d.remove_prefix(k_key_id_field.size());
  if (d.empty() || d.size() > 64) return std::nullopt;
  return std::string(d);
}

// ---- anchors ----

std::string format_anchor(const audit_anchor& a) {
  return a.time + (a.restored ? " restored" : "") + " seq=" + std::to_string(a.seq) +
         " mac=" + a.mac + " key_id=" + a.key_id + "\n";
}

common::result<std::vector<audit_anchor>> parse_anchors(std::string_view text) {
  std::vector<audit_anchor> out;
  std::size_t line_no = 0;
  auto bad = [&](std::string_view why) {
    return common::status::error("bad_anchor",
                                 "line " + std::to_string(line_no) + ": " + std::string(why));
  };
  while (!text.empty()) {
    ++line_no;
    std::string_view line = take_line(text);
    if (line.empty()) continue;
    audit_anchor a;
    auto take = [&line](std::string_view prefix) -> std::optional<std::string_view> {
      auto at = line.find(prefix);
      if (at == std::string_view::npos) return std::nullopt;
      auto v = line.substr(at + prefix.size());
      return v.substr(0, v.find(' '));
    };
    a.time = std::string(line.substr(0, line.find(' ')));
    a.restored = line.find(" restored seq=") != std::string_view::npos;
    auto seq = take(" seq=");
    auto mac = take(" mac=");
    auto key = take(" key_id=");
    if (!seq || !mac || !key) return bad("expected \"<time> seq=<n> mac=<hex> key_id=<id>\"");
    auto [p, ec] = std::from_chars(seq->data(), seq->data() + seq->size(), a.seq);
    if (ec != std::errc{} || p != seq->data() + seq->size() || a.seq < 0) return bad("bad seq");
    if (!is_hash_hex(*mac)) return bad("bad mac");
    a.mac = std::string(*mac);
    a.key_id = std::string(*key);
    if (out.size() >= limits::k_max_anchors) return bad("too many anchors");
    out.push_back(std::move(a));
  }
  return out;
}

// ---- checkpoints ----

checkpoint purge_checkpoint(const std::optional<audit_record>& first_kept, const audit_head& head) {
  if (first_kept) return checkpoint{first_kept->seq, first_kept->prev_hash};
  return checkpoint{head.seq + 1,
                    head.seq == 0 || head.hash.empty() ? std::string(k_genesis_hash) : head.hash};
}

audit_record make_checkpoint(const checkpoint& c, std::int64_t ts_ms) {
  return system_record(
      k_checkpoint_action,
      "start_seq=" + std::to_string(c.start_seq) + " start_prev_hash=" + c.start_prev_hash, ts_ms);
}

std::optional<checkpoint> parse_checkpoint(const audit_record& r) {
  if (r.action != k_checkpoint_action) return std::nullopt;
  constexpr std::string_view k_seq = "start_seq=";
  constexpr std::string_view k_prev = " start_prev_hash=";
  std::string_view d = r.detail;
  if (!d.starts_with(k_seq)) return std::nullopt;
  d.remove_prefix(k_seq.size());
  const std::size_t space = d.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view num = d.substr(0, space);
  checkpoint c;
  auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), c.start_seq);
  if (ec != std::errc{} || end != num.data() + num.size() || c.start_seq < 1) return std::nullopt;
  d.remove_prefix(space);
  if (!d.starts_with(k_prev)) return std::nullopt;
  d.remove_prefix(k_prev.size());
  if (!is_hash_hex(d)) return std::nullopt;
  c.start_prev_hash = std::string(d);
  return c;
}

// ---- verification ----

std::string_view to_string(chain_problem p) {
  switch (p) {
    case chain_problem::none:
      return "intact";
    case chain_problem::edited:
      return "edited";
    case chain_problem::broken_link:
      return "broken_link";
    case chain_problem::gap:
      return "gap";
    case chain_problem::out_of_order:
      return "out_of_order";
    case chain_problem::bad_start:
      return "bad_start";
    case chain_problem::cut_tail:
      return "cut_tail";
    case chain_problem::head_mismatch:
      return "head_mismatch";
    case chain_problem::not_keyed:
      return "not_keyed";
    case chain_problem::unknown_key:
      return "unknown_key";
    case chain_problem::rewritten:
      return "rewritten";
  }
  return "intact";
}

bool chain_verifier::fail(chain_problem p, std::int64_t seq, std::string message) {
  failed_ = true;
  report_.problem = p;
  report_.first_bad_seq = seq;
  report_.message = std::move(message);
  return false;
}

chain_verifier::chain_verifier(keyring ring, std::vector<audit_anchor> anchors)
    : ring_(std::move(ring)) {
  for (auto& a : anchors) {
    const std::int64_t seq = a.seq;
    if (a.restored) anchors_.erase(anchors_.upper_bound(seq), anchors_.end());
    anchors_.insert_or_assign(seq, std::move(a));
  }
}

const secret_key* chain_verifier::first_key(const audit_record& r) const {
  // The chain's first record tells which key it starts under: none for a chain begun before the
  // key existed (a prefix that a keyed record must follow), else one of the ring.
  if (sealed_with(r, nullptr)) return nullptr;
  for (const auto& k : ring_) {
    if (sealed_with(r, &k)) return &k;
  }
  return ring_.empty() ? nullptr : &ring_.back();
}

bool chain_verifier::add(const audit_record& r) {
  if (failed_) return false;
  if (report_.records == 0) {
    report_.first_seq = r.seq;
    if (r.seq < 1) return fail(chain_problem::out_of_order, r.seq, "sequence numbers start at 1");
    if (r.seq == 1) {
      if (r.prev_hash != k_genesis_hash) {
        return fail(chain_problem::broken_link, r.seq,
                    seq_text(r.seq) + ": the first record does not follow the genesis hash");
      }
      start_confirmed_ = true;
    } else if (!is_hash_hex(r.prev_hash)) {
      return fail(chain_problem::bad_start, r.seq,
                  seq_text(r.seq) + ": the first record has no valid prev_hash");
    }
    // A later start is taken on trust here and must be confirmed by a checkpoint in the chain.
    start_prev_hash_ = r.prev_hash;
    running_hash_ = r.prev_hash;
    key_ = first_key(r);
  } else if (r.seq <= prev_seq_) {
    return fail(chain_problem::out_of_order, r.seq,
                seq_text(r.seq) + " follows " + seq_text(prev_seq_));
  } else if (r.seq != prev_seq_ + 1) {
    return fail(chain_problem::gap, prev_seq_ + 1,
                seq_text(prev_seq_ + 1) + " is missing (the chain jumps from " +
                    seq_text(prev_seq_) + " to " + seq_text(r.seq) + ")");
  } else if (r.prev_hash != running_hash_) {
    return fail(chain_problem::broken_link, r.seq,
                seq_text(r.seq) + ": prev_hash does not match the hash of " + seq_text(prev_seq_) +
                    " (one of the two was changed)");
  }
  // A key start is sealed under the key it names, a rotation under the key before it; the records
  // after either are sealed under the named key.
  const secret_key* sealing = key_;
  const secret_key* next = key_;
  if (auto id = key_record_id(r)) {
    const secret_key* named = find_key(ring_, *id);
    if (named == nullptr) {
      return fail(chain_problem::unknown_key, r.seq,
                  seq_text(r.seq) + ": names key " + id->substr(0, limits::k_max_report_text) +
                      ", which the key file does not hold");
    }
    if (r.action == k_key_start_action) sealing = named;
    next = named;
  }
  if (chain_mac(sealing, running_hash_, r) != r.hash) {
    return fail(chain_problem::edited, r.seq,
                seq_text(r.seq) + " (" + r.action.substr(0, limits::k_max_report_text) +
                    "): its content does not match its " +
                    (sealing == nullptr ? std::string("hash") : "MAC under key " + sealing->id));
  }
  if (auto a = anchors_.find(r.seq); a != anchors_.end() && a->second.mac != r.hash) {
    return fail(chain_problem::rewritten, r.seq,
                seq_text(r.seq) + ": differs from the anchor of " +
                    a->second.time.substr(0, limits::k_max_report_text) +
                    " (the access log was rewritten at or before " + seq_text(r.seq) +
                    " after that anchor)");
  }
  if (key_ == nullptr && next == nullptr && first_unkeyed_ == 0) first_unkeyed_ = r.seq;
  if (next != nullptr) first_unkeyed_ = 0;
  key_ = next;
  if (auto c = parse_checkpoint(r)) {
    if (c->start_seq == report_.first_seq && c->start_prev_hash == start_prev_hash_) {
      start_confirmed_ = true;
    }
  }
  running_hash_ = r.hash;
  prev_seq_ = r.seq;
  report_.last_seq = r.seq;
  ++report_.records;
  return true;
}

chain_report chain_verifier::finish(const audit_head& head) {
  if (failed_) return report_;
  if (report_.records == 0) {
    if (!anchors_.empty() && anchors_.rbegin()->first > 0 && head.seq == 0) {
      fail(chain_problem::cut_tail, 1,
           "no records, but the anchor of " +
               anchors_.rbegin()->second.time.substr(0, limits::k_max_report_text) + " names " +
               seq_text(anchors_.rbegin()->first));
    } else if (head.seq != 0) {
      fail(chain_problem::cut_tail, 1,
           seq_text(1) + " to " + seq_text(head.seq) +
               " are missing: no records, but the head names " + seq_text(head.seq));
    }
    return report_;
  }
  if (!start_confirmed_) {
    fail(chain_problem::bad_start, report_.first_seq,
         "the chain starts at " + seq_text(report_.first_seq) +
             " but no checkpoint confirms that start (records deleted at the start)");
    return report_;
  }
  if (head.seq > report_.last_seq) {
    fail(chain_problem::cut_tail, report_.last_seq + 1,
         seq_text(report_.last_seq + 1) + " to " + seq_text(head.seq) +
             " are missing: the last record is " + seq_text(report_.last_seq) +
             " but the head names " + seq_text(head.seq) + " (records deleted at the end)");
  } else if (head.seq < report_.last_seq) {
    fail(chain_problem::head_mismatch, head.seq + 1,
         "records after the head's " + seq_text(head.seq) + " exist, up to " +
             seq_text(report_.last_seq));
  } else if (head.hash != running_hash_) {
    fail(chain_problem::head_mismatch, report_.last_seq,
         seq_text(report_.last_seq) + ": the last record's hash differs from the head's");
  }
  if (failed_) return report_;
  if (!anchors_.empty() && anchors_.rbegin()->first > report_.last_seq) {
    const auto& a = anchors_.rbegin()->second;
    fail(chain_problem::cut_tail, report_.last_seq + 1,
         seq_text(report_.last_seq + 1) + " to " + seq_text(a.seq) +
             " are missing: the anchor of " + a.time.substr(0, limits::k_max_report_text) +
             " names " + seq_text(a.seq) + " but the last record is " + seq_text(report_.last_seq) +
             " (records deleted at the end)");
  } else if (!ring_.empty() && first_unkeyed_ != 0) {
    fail(chain_problem::not_keyed, first_unkeyed_,
         seq_text(first_unkeyed_) + " to " + seq_text(report_.last_seq) +
             " are not sealed with the audit key (recomputed without it, or written before it "
             "existed and not yet followed by a keyed record)");
  }
  return report_;
}

chain_report verify_chain(std::span<const audit_record> records, const audit_head& head,
                          const keyring& ring, const std::vector<audit_anchor>& anchors) {
  chain_verifier v(ring, anchors);
  for (const auto& r : records) {
    if (!v.add(r)) break;
  }
  return v.finish(head);
}

namespace {

class chain_rule final : public audit_chain_port {
 public:
  audit_entry bounded(const audit_entry& e) const override { return bounded_audit_entry(e); }
  audit_head seal(audit_record& r, const audit_head& head, const secret_key* key) const override {
    return seal_record(r, head, key);
  }
  bool sealed_with(const audit_record& r, const secret_key& key) const override {
    return security::sealed_with(r, &key);
  }
  audit_record key_start(const std::string& key_id, std::int64_t ts_ms) const override {
    return make_key_start(key_id, ts_ms);
  }
  audit_record key_rotation(const std::string& new_key_id, std::int64_t ts_ms) const override {
    return make_key_rotation(new_key_id, ts_ms);
  }
  purge_start purge(const std::optional<audit_record>& first_kept, const audit_head& head,
                    std::int64_t ts_ms) const override {
    const checkpoint cp = purge_checkpoint(first_kept, head);
    return {make_checkpoint(cp, ts_ms), cp.start_seq};
  }
};

}  // namespace

std::shared_ptr<const audit_chain_port> audit_chain_rule() {
  static const auto rule = std::make_shared<const chain_rule>();
  return rule;
}

}  // namespace aterm::cloud::security
