#include "aterm/agent/outbox.h"

#include <algorithm>

#include "aterm/common/json.h"

namespace aterm::agent {

using common::status;

namespace {

std::string add_record(const outbox::entry& e) {
  common::json_ptr o(cJSON_CreateObject());
  cJSON_AddStringToObject(o.get(), "op", "add");
  cJSON_AddNumberToObject(o.get(), "seq", static_cast<double>(e.seq));
  cJSON_AddStringToObject(o.get(), "k", e.k == outbox::kind::result ? "result" : "event");
  cJSON_AddStringToObject(o.get(), "p", e.payload.c_str());
  return common::print_json(o.get());
}

std::string del_record(std::uint64_t seq) {
  return "{\"op\":\"del\",\"seq\":" + std::to_string(seq) + "}";
}

}  // namespace

common::result<outbox> outbox::open(const std::filesystem::path& file, outbox_settings s) {
  outbox box(file, s);
  auto loaded = box.file_.load();
  if (!loaded.ok()) return loaded.error();
  common::json_limits lim;
  lim.max_bytes = limits::k_max_journal_line;
  for (const auto& rec : loaded->records) {
    auto parsed = common::parse_json(rec, lim);
    if (!parsed.ok()) continue;
    const auto op = common::json_string(parsed->get(), "op");
    const auto seq = common::json_int(parsed->get(), "seq");
    if (!op || !seq || *seq <= 0) continue;
    const auto useq = static_cast<std::uint64_t>(*seq);
    box.next_seq_ = std::max(box.next_seq_, useq + 1);
    if (*op == "del") {
      auto it = std::find_if(box.entries_.begin(), box.entries_.end(),
                             [&](const entry& e) { return e.seq == useq; });
      if (it != box.entries_.end()) {
        box.bytes_ -= it->payload.size();
        box.entries_.erase(it);
      }
    } else if (*op == "add") {
      const auto k = common::json_string(parsed->get(), "k");
      auto p = common::json_string(parsed->get(), "p");
      if (!k || !p) continue;
      box.bytes_ += p->size();
      box.entries_.push_back({useq, *k == "result" ? kind::result : kind::event, std::move(*p)});
    }
  }
  // Bounds may have shrunk since the file was written.
  while (box.entries_.size() > s.max_entries || box.bytes_ > s.max_bytes) box.drop_one();
  if (loaded->skipped > 0 || box.file_.lines() > box.entries_.size()) {
    auto st = box.compact();
    if (!st.ok()) return st;
  }
  return box;
}

void outbox::drop_one() {
  auto victim = std::find_if(entries_.begin(), entries_.end(),
                             [](const entry& e) { return e.k == kind::event; });
  if (victim == entries_.end()) victim = entries_.begin();
  if (victim == entries_.end()) return;
  if (victim->k == kind::event)
    ++dropped_events_;
  else
    ++dropped_results_;
  bytes_ -= victim->payload.size();
  entries_.erase(victim);
}

common::status outbox::write_line(const std::string& record) {
  if (file_.lines() >=
      std::max<std::size_t>(s_.max_entries, 16) * limits::k_journal_compact_factor) {
    auto st = compact();
    if (!st.ok()) return st;
  }
  return file_.append(record);
}

common::status outbox::push(kind k, std::string payload) {
  entry e{next_seq_++, k, std::move(payload)};
  const auto size = e.payload.size();
  if (size > s_.max_bytes) {  // can never fit
    if (k == kind::event)
      ++dropped_events_;
    else
      ++dropped_results_;
    return {};
  }
  bool dropped = false;
  while (entries_.size() + 1 > s_.max_entries || bytes_ + size > s_.max_bytes) {
    const bool queue_has_event = std::any_of(entries_.begin(), entries_.end(),
                                             [](const entry& x) { return x.k == kind::event; });
    if (k == kind::event && !queue_has_event) {
      // The new event is the oldest event there is: it goes before any result.
      ++dropped_events_;
      return dropped ? compact() : status{};
    }
    drop_one();
    dropped = true;
  }
  bytes_ += size;
  entries_.push_back(e);
  if (dropped) return compact();
  return write_line(add_record(entries_.back()));
}

common::status outbox::ack(std::uint64_t seq) {
  auto it =
      std::find_if(entries_.begin(), entries_.end(), [&](const entry& e) { return e.seq == seq; });
  if (it == entries_.end()) return {};
  bytes_ -= it->payload.size();
  entries_.erase(it);
  return write_line(del_record(seq));
}

common::status outbox::compact() {
  std::vector<std::string> records;
  records.reserve(entries_.size());
  for (const auto& e : entries_) records.push_back(add_record(e));
  return file_.rewrite(records);
}

}  // namespace aterm::agent
