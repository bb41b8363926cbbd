#include "aterm/cloud/security/audit_chain.h"

#include <doctest/doctest.h>

#include <regex>
#include <vector>

#include "aterm/common/crypto.h"

namespace sec = aterm::cloud::security;
using aterm::cloud::audit_head;
using aterm::cloud::audit_record;

namespace {

constexpr std::int64_t k_t0_ms = 1'800'000'000'000;

audit_record entry(int i) {
  audit_record r;
  r.ts_ms = k_t0_ms + i * 1000;
  r.company_id = i % 2 == 0 ? "acme" : "globex";
  r.actor = "user" + std::to_string(i);
  r.action = "session.login";
  r.target = "user" + std::to_string(i);
  r.result = i % 3 == 0 ? "failure" : "success";
  r.detail = "attempt " + std::to_string(i);
  r.source_ip = "192.0.2." + std::to_string(i);
  return r;
}

struct chain {
  std::vector<audit_record> records;
  audit_head head;

  void append(audit_record r) {
    head = sec::seal_record(r, head);
    records.push_back(std::move(r));
  }
};

chain make_chain(int n) {
  chain c;
  for (int i = 1; i <= n; ++i) c.append(entry(i));
  return c;
}

// The store's purge: checkpoint first, then delete everything before its start.
void purge_before(chain& c, std::int64_t first_kept_seq, std::int64_t now_ms) {
  std::optional<audit_record> first_kept;
  for (const auto& r : c.records) {
    if (r.seq == first_kept_seq) first_kept = r;
  }
  const sec::checkpoint cp = sec::purge_checkpoint(first_kept, c.head);
  c.append(sec::make_checkpoint(cp, now_ms));
  std::erase_if(c.records, [&](const audit_record& r) { return r.seq < cp.start_seq; });
}

}  // namespace

TEST_CASE("audit chain: seal_record links records from the genesis hash") {
  const chain c = make_chain(3);
  CHECK(c.records[0].seq == 1);
  CHECK(c.records[0].prev_hash == sec::k_genesis_hash);
  CHECK(c.records[1].prev_hash == c.records[0].hash);
  CHECK(c.head.seq == 3);
  CHECK(c.head.hash == c.records[2].hash);
  // h = SHA-256(h_prev bytes || canonical record), computed independently here.
  auto prev = aterm::common::crypto::from_hex(c.records[1].prev_hash);
  std::string input(prev->begin(), prev->end());
  input += sec::canonical_record(c.records[1]);
  CHECK(aterm::common::crypto::to_hex(aterm::common::crypto::sha256(input)) == c.records[1].hash);
  // A model.h head of an empty chain may carry an empty hash.
  audit_record r = entry(1);
  CHECK(sec::seal_record(r, audit_head{0, ""}).hash == c.records[0].hash);
}

TEST_CASE("audit chain: user text cannot shift a field boundary") {
  audit_record a = entry(1);
  audit_record b = a;
  a.actor = "alice";
  a.action = "x";
  b.actor = "alice;1:x";
  b.action = "";
  CHECK(sec::canonical_record(a) != sec::canonical_record(b));
  audit_record c = entry(1);
  audit_record d = entry(1);
  c.target = "ab";
  c.result = "";
  d.target = "a";
  d.result = "b";
  CHECK(sec::canonical_record(c) != sec::canonical_record(d));
  CHECK(sec::canonical_record(entry(1)) == sec::canonical_record(entry(1)));
}

TEST_CASE("audit chain: verification table") {
  struct row {
    const char* name;
    void (*tamper)(chain&);
    sec::chain_problem problem;
    std::int64_t first_bad_seq;
  };
  const row rows[] = {
      {"intact", [](chain&) {}, sec::chain_problem::none, 0},
      {"detail edited", [](chain& c) { c.records[3].detail = "nothing happened"; },
       sec::chain_problem::edited, 4},
      {"result edited", [](chain& c) { c.records[6].result = "failure"; },
       sec::chain_problem::edited, 7},
      {"timestamp edited", [](chain& c) { c.records[0].ts_ms += 1; }, sec::chain_problem::edited,
       1},
      {"edited and rehashed",
       [](chain& c) {
         c.records[3].detail = "nothing happened";
         c.records[3].hash = sec::chain_hash(c.records[3].prev_hash, c.records[3]);
       },
       sec::chain_problem::broken_link, 5},
      {"middle record deleted", [](chain& c) { c.records.erase(c.records.begin() + 4); },
       sec::chain_problem::gap, 5},
      {"records reordered", [](chain& c) { std::swap(c.records[2], c.records[3]); },
       sec::chain_problem::gap, 3},
      {"record repeated", [](chain& c) { c.records[3] = c.records[2]; },
       sec::chain_problem::out_of_order, 3},
      {"first record deleted", [](chain& c) { c.records.erase(c.records.begin()); },
       sec::chain_problem::bad_start, 2},
      {"tail cut", [](chain& c) { c.records.resize(7); }, sec::chain_problem::cut_tail, 8},
      {"everything deleted", [](chain& c) { c.records.clear(); }, sec::chain_problem::cut_tail, 1},
      {"last record replaced and rehashed",
       [](chain& c) {
         auto& r = c.records.back();
         r.detail = "other";
         r.hash = sec::chain_hash(r.prev_hash, r);
       },
       sec::chain_problem::head_mismatch, 10},
      {"record appended behind the head's back",
       [](chain& c) {
         audit_record r = entry(99);
         sec::seal_record(r, audit_head{c.records.back().seq, c.records.back().hash});
         c.records.push_back(r);
       },
       sec::chain_problem::head_mismatch, 11},
      {"genesis replaced", [](chain& c) { c.records[0].prev_hash = std::string(64, '1'); },
       sec::chain_problem::broken_link, 1},
  };
  for (const auto& r : rows) {
    CAPTURE(std::string(r.name));
    chain c = make_chain(10);
    r.tamper(c);
    const auto report = sec::verify_chain(c.records, c.head);
    CHECK(report.problem == r.problem);
    CHECK(report.first_bad_seq == r.first_bad_seq);
    CHECK(report.intact() == (r.problem == sec::chain_problem::none));
    if (!report.intact()) {
      const std::regex names_seq("seq " + std::to_string(r.first_bad_seq) + "\\b");
      CHECK(std::regex_search(report.message, names_seq));
    }
  }
}

TEST_CASE("audit chain: the empty chain is intact against an empty head") {
  CHECK(sec::verify_chain({}, audit_head{}).intact());
  CHECK(sec::verify_chain({}, audit_head{0, ""}).intact());
  const auto r = sec::verify_chain(make_chain(5).records, make_chain(5).head);
  CHECK(r.intact());
  CHECK(r.records == 5);
  CHECK(r.first_seq == 1);
  CHECK(r.last_seq == 5);
  CHECK(sec::to_string(r.problem) == "intact");
}

TEST_CASE("audit chain: a purge with a checkpoint still verifies, without one it does not") {
  SUBCASE("purge the oldest six") {
    chain c = make_chain(10);
    purge_before(c, 7, k_t0_ms + 400 * 86400 * 1000LL);
    CHECK(c.records.front().seq == 7);
    CHECK(c.records.back().action == sec::k_checkpoint_action);
    const auto r = sec::verify_chain(c.records, c.head);
    CHECK_MESSAGE(r.intact(), r.message);
    CHECK(r.first_seq == 7);
    CHECK(r.last_seq == 11);
    // Appending continues after the checkpoint.
    c.append(entry(12));
    CHECK(sec::verify_chain(c.records, c.head).intact());
  }
  SUBCASE("purge everything: the checkpoint starts the chain") {
    chain c = make_chain(4);
    purge_before(c, 0, k_t0_ms);
    REQUIRE(c.records.size() == 1);
    CHECK(c.records[0].seq == 5);
    CHECK(sec::verify_chain(c.records, c.head).intact());
  }
  SUBCASE("two purges") {
    chain c = make_chain(10);
    purge_before(c, 4, k_t0_ms);
    for (int i = 12; i <= 15; ++i) c.append(entry(i));
    purge_before(c, 13, k_t0_ms);  // the first checkpoint (seq 11) is purged too
    const auto r = sec::verify_chain(c.records, c.head);
    CHECK_MESSAGE(r.intact(), r.message);
    CHECK(r.first_seq == 13);
  }
  SUBCASE("deleting more than the checkpoint covers is detected") {
    chain c = make_chain(10);
    purge_before(c, 5, k_t0_ms);
    c.records.erase(c.records.begin());  // seq 5 goes too
    const auto r = sec::verify_chain(c.records, c.head);
    CHECK(r.problem == sec::chain_problem::bad_start);
    CHECK(r.first_bad_seq == 6);
  }
  SUBCASE("an edited checkpoint is detected") {
    chain c = make_chain(10);
    purge_before(c, 5, k_t0_ms);
    c.records.back().detail = "start_seq=6 start_prev_hash=" + c.records[1].prev_hash;
    const auto r = sec::verify_chain(c.records, c.head);
    CHECK(r.problem == sec::chain_problem::edited);
    CHECK(r.first_bad_seq == 11);
  }
}

TEST_CASE("audit chain: checkpoint records round trip, other records are not checkpoints") {
  const sec::checkpoint cp{42, std::string(64, 'a')};
  const audit_record r = sec::make_checkpoint(cp, k_t0_ms);
  CHECK(r.action == sec::k_checkpoint_action);
  CHECK(r.company_id == aterm::cloud::k_platform_company);
  CHECK(sec::parse_checkpoint(r) == cp);
  CHECK_FALSE(sec::parse_checkpoint(entry(1)));
  audit_record forged = entry(1);
  forged.detail = r.detail;  // the action is what makes a checkpoint
  CHECK_FALSE(sec::parse_checkpoint(forged));
  for (const char* detail : {"start_seq=x start_prev_hash=aa", "start_seq=4",
                             "start_seq=0 "
                             "start_prev_hash=",
                             "start_seq=4 start_prev_hash=ABC"}) {
    audit_record bad = r;
    bad.detail = detail;
    CHECK_FALSE(sec::parse_checkpoint(bad));
  }
}

TEST_CASE("audit chain: the verifier streams and stops at the first problem") {
  chain c = make_chain(10);
  c.records[2].detail = "x";
  sec::chain_verifier v;
  int fed = 0;
  for (const auto& r : c.records) {
    ++fed;
    if (!v.add(r)) break;
  }
  CHECK(fed == 3);
  const auto report = v.finish(c.head);
  CHECK(report.problem == sec::chain_problem::edited);
  CHECK(report.first_bad_seq == 3);
}

namespace {

aterm::cloud::secret_key test_key(char fill) {
  aterm::cloud::secret_key k;
  k.secret.assign(32, fill);
  k.id = sec::key_id_of(k.secret);
  return k;
}

// A chain begun unkeyed (before the key existed), then a key start, then `keyed` records.
chain keyed_chain(const aterm::cloud::secret_key& key, int unkeyed, int keyed) {
  chain c;
  for (int i = 1; i <= unkeyed; ++i) c.append(entry(i));
  auto start = sec::make_key_start(key.id, k_t0_ms);
  c.head = sec::seal_record(start, c.head, &key);
  c.records.push_back(start);
  for (int i = 1; i <= keyed; ++i) {
    auto r = entry(100 + i);
    c.head = sec::seal_record(r, c.head, &key);
    c.records.push_back(r);
  }
  return c;
}

}  // namespace

TEST_CASE("audit chain: a keyed chain after an unkeyed prefix verifies only with its key") {
  const auto key = test_key('k');
  auto c = keyed_chain(key, 3, 4);
  CHECK(sec::verify_chain(c.records, c.head, {key}).intact());
  auto wrong = sec::verify_chain(c.records, c.head, {test_key('w')});
  CHECK(wrong.problem == sec::chain_problem::unknown_key);
  // The unkeyed prefix can no longer be recomputed: the key start's MAC covers it.
  c.records[1].detail = "forged";
  c.records[1].hash = sec::chain_hash(c.records[1].prev_hash, c.records[1]);
  c.records[2].prev_hash = c.records[1].hash;
  c.records[2].hash = sec::chain_hash(c.records[2].prev_hash, c.records[2]);
  auto r = sec::verify_chain(c.records, c.head, {key});
  CHECK_FALSE(r.intact());
  CHECK(r.first_bad_seq == 4);
}

TEST_CASE("audit chain: an unkeyed chain is refused when a key is expected") {
  auto c = make_chain(5);
  CHECK(sec::verify_chain(c.records, c.head).intact());
  auto r = sec::verify_chain(c.records, c.head, {test_key('k')});
  CHECK(r.problem == sec::chain_problem::not_keyed);
  CHECK(r.first_bad_seq == 1);
}

TEST_CASE("audit chain: a rotation switches to the named key") {
  const auto k1 = test_key('1');
  const auto k2 = test_key('2');
  auto c = keyed_chain(k1, 0, 2);
  auto rot = sec::make_key_rotation(k2.id, k_t0_ms);
  c.head = sec::seal_record(rot, c.head, &k1);
  c.records.push_back(rot);
  auto after = entry(200);
  c.head = sec::seal_record(after, c.head, &k2);
  c.records.push_back(after);
  CHECK(sec::verify_chain(c.records, c.head, {k1, k2}).intact());
  CHECK(sec::verify_chain(c.records, c.head, {k2}).problem == sec::chain_problem::unknown_key);
}

TEST_CASE("audit chain: anchors find a consistent rewrite and a cut tail") {
  const auto key = test_key('k');
  auto c = keyed_chain(key, 0, 6);
  sec::audit_anchor a{"2027-01-01T00:00:00Z", 4, c.records[3].hash, key.id};
  auto parsed = sec::parse_anchors(sec::format_anchor(a));
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 1);
  CHECK((*parsed)[0].mac == a.mac);
  CHECK(sec::verify_chain(c.records, c.head, {key}, *parsed).intact());

  SUBCASE("rewritten under the key") {
    auto d = c;
    d.records[1].detail = "forged";
    for (std::size_t i = 1; i < d.records.size(); ++i) {
      d.records[i].prev_hash = d.records[i - 1].hash;
      d.records[i].hash = sec::chain_mac(&key, d.records[i].prev_hash, d.records[i]);
    }
    d.head.hash = d.records.back().hash;
    CHECK(sec::verify_chain(d.records, d.head, {key}).intact());
    auto r = sec::verify_chain(d.records, d.head, {key}, *parsed);
    CHECK(r.problem == sec::chain_problem::rewritten);
    CHECK(r.first_bad_seq == 4);
  }
  SUBCASE("cut after the anchor's record is fine, at it is not") {
    auto d = c;
    d.records.resize(3);
    d.head = {d.records.back().seq, d.records.back().hash};
    auto r = sec::verify_chain(d.records, d.head, {key}, *parsed);
    CHECK(r.problem == sec::chain_problem::cut_tail);
    CHECK(r.first_bad_seq == 4);
    // A restore line back to seq 3 lifts the later anchor.
    sec::audit_anchor restored{"2027-01-02T00:00:00Z", 3, d.head.hash, key.id, true};
    auto both = *parsed;
    both.push_back(restored);
    CHECK(sec::verify_chain(d.records, d.head, {key}, both).intact());
  }
}
