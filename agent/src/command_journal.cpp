#include "aterm/agent/command_journal.h"

#include "aterm/common/json.h"

namespace aterm::agent {

using common::status;

namespace {
std::string encode_record(const std::string& id, const std::optional<std::string>& payload) {
  common::json_ptr o(cJSON_CreateObject());
  cJSON_AddStringToObject(o.get(), "id", id.c_str());
  if (payload) cJSON_AddStringToObject(o.get(), "r", payload->c_str());
  return common::print_json(o.get());
}
}  // namespace

common::result<command_journal> command_journal::open(const std::filesystem::path& file,
                                                      std::size_t capacity) {
  command_journal j(file, capacity == 0 ? 1 : capacity);
  auto loaded = j.file_.load();
  if (!loaded.ok()) return loaded.error();
  j.skipped_ = loaded->skipped;
  common::json_limits lim;
  lim.max_bytes = limits::k_max_journal_line;
  for (const auto& rec : loaded->records) {
    auto parsed = common::parse_json(rec, lim);
    if (!parsed.ok()) {
      ++j.skipped_;
      continue;
    }
    auto id = common::json_string(parsed->get(), "id");
    if (!id || id->empty()) {
      ++j.skipped_;
      continue;
    }
    j.remember(*id, common::json_string(parsed->get(), "r"));
  }
  // Rewrite only when needed (a damaged line, or many superseded ones): a fleet of simulated
  // routers, or a router's flash, should not pay a rewrite per start.
  if (loaded->skipped > 0 || j.file_.lines() > j.order_.size() * limits::k_journal_compact_factor) {
    auto st = j.compact();
    if (!st.ok()) return st;
  }
  return j;
}

void command_journal::remember(const std::string& id, std::optional<std::string> payload) {
  auto it = entries_.find(id);
  if (it != entries_.end()) {
    // A finish after a begin: keep the position, store the result.
    if (payload) it->second = std::move(payload);
    return;
  }
  entries_.emplace(id, std::move(payload));
  order_.push_back(id);
  while (order_.size() > capacity_) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
}

command_journal::lookup command_journal::find(std::string_view id) const {
  auto it = entries_.find(std::string(id));
  if (it == entries_.end()) return {};
  if (!it->second) return {seen::running, {}};
  return {seen::finished, *it->second};
}

common::status command_journal::append(const std::string& id,
                                       const std::optional<std::string>& payload) {
  if (file_.lines() >= capacity_ * limits::k_journal_compact_factor) {
    auto st = compact();
    if (!st.ok()) return st;
  }
  return file_.append(encode_record(id, payload));
}

common::status command_journal::begin(std::string_view id) {
  const std::string key(id);
  auto st = append(key, std::nullopt);
  if (!st.ok()) return st;
  remember(key, std::nullopt);
  return {};
}

common::status command_journal::finish(std::string_view id, std::string_view result_payload) {
  const std::string key(id);
  std::optional<std::string> payload{std::string(result_payload)};
  auto st = append(key, payload);
  // Remembered even when the disk failed: this process still must not run it twice.
  remember(key, std::move(payload));
  return st;
}

common::status command_journal::compact() {
  std::vector<std::string> records;
  records.reserve(order_.size());
  for (const auto& id : order_) records.push_back(encode_record(id, entries_.at(id)));
  return file_.rewrite(records);
}

}  // namespace aterm::agent
