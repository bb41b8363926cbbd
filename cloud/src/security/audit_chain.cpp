#include "aterm/cloud/security/audit_chain.h"

#include <algorithm>
#include <cassert>
#include <charconv>

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
  auto prev = crypto::from_hex(prev_hash_hex);
  assert(prev && prev->size() == 32);
  std::string input(prev->begin(), prev->end());
  input += canonical_record(r);
  return crypto::to_hex(crypto::sha256(input));
}

audit_head seal_record(audit_record& r, const audit_head& head) {
  const std::string prev =
      head.seq == 0 || head.hash.empty() ? std::string(k_genesis_hash) : head.hash;
  r.seq = head.seq + 1;
  r.prev_hash = prev;
  r.hash = chain_hash(prev, r);
  return audit_head{r.seq, r.hash};
}

// ---- checkpoints ----

checkpoint purge_checkpoint(const std::optional<audit_record>& first_kept, const audit_head& head) {
  if (first_kept) return checkpoint{first_kept->seq, first_kept->prev_hash};
  return checkpoint{head.seq + 1,
                    head.seq == 0 || head.hash.empty() ? std::string(k_genesis_hash) : head.hash};
}

audit_record make_checkpoint(const checkpoint& c, std::int64_t ts_ms) {
  audit_record r;
  r.ts_ms = ts_ms;
  r.company_id = std::string(k_platform_company);
  r.actor = "system";
  r.action = std::string(k_checkpoint_action);
  r.result = "ok";
  r.detail = "start_seq=" + std::to_string(c.start_seq) + " start_prev_hash=" + c.start_prev_hash;
  return r;
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
  if (chain_hash(running_hash_, r) != r.hash) {
    return fail(chain_problem::edited, r.seq,
                seq_text(r.seq) + " (" + r.action.substr(0, limits::k_max_report_text) +
                    "): its content does not match its hash");
  }
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
    if (head.seq != 0) {
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
  return report_;
}

chain_report verify_chain(std::span<const audit_record> records, const audit_head& head) {
  chain_verifier v;
  for (const auto& r : records) {
    if (!v.add(r)) break;
  }
  return v.finish(head);
}

}  // namespace aterm::cloud::security
