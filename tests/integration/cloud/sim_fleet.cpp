#include "sim_fleet.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "aterm/common/json.h"
#include "aterm/test/sql.h"

namespace aterm::test {

namespace {

// Every record of the journal `path` that names a command id, with its result when it has one.
template <typename F>
void each_journal_record(const fs::path& path, F&& f) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.size() < 10) continue;
    auto rec = common::parse_json(line.substr(9));
    if (!rec.ok()) continue;
    auto id = common::json_string(rec->get(), "id");
    if (!id) continue;
    f(*id, common::json_string(rec->get(), "r").has_value());
  }
}

}  // namespace

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

sim_fleet::sim_fleet(cloud_stack& s, std::string db, const std::string& prefix, int count,
                     const std::string& settings)
    : s_(s), db_(std::move(db)), prefix_(prefix), count_(count), fleet_(s.dir() / "fleet") {
  for (int i = 1; i <= count_; ++i) s_.register_device("acme", router_id(i));
  const fs::path config = s_.dir() / "sim.json";
  std::ofstream(config) << R"({"broker":{"uri":")" << s_.mqtt().uri() << R"(","ca":")"
                        << s_.pki().ca().string() << R"("},"data_dir":")" << fleet_.string()
                        << "\"," << settings << (settings.empty() ? "" : ",")
                        << R"("simulate":{"ca_cert":")" << s_.pki().ca().string()
                        << R"(","ca_key":")" << s_.pki().ca_key().string() << R"("}})";
  sim_ = std::make_unique<process>(
      std::vector<std::string>{binary("agent/aterm-agent").string(), "simulate", "--config",
                               config.string(), "--count", std::to_string(count_), "--id-prefix",
                               prefix_},
      s_.dir() / "sim.log");
}

sim_fleet::~sim_fleet() = default;

std::string sim_fleet::router_id(int i) const {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%05d", i);
  return prefix_ + digits;
}

int sim_fleet::online(https_client& c) const {
  auto a = c.request("GET", "devices?online=true&limit=500");
  if (a.status != 200 || !a.json) return 0;
  return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a.json.get(), "devices"));
}

std::vector<std::string> sim_fleet::create_commands(const std::vector<https_client*>& clients,
                                                    int from, int to) const {
  const auto k = static_cast<int>(clients.size());
  std::vector<std::vector<std::string>> ids(clients.size());
  std::vector<std::string> refused(clients.size());
  std::vector<std::thread> threads;
  for (int t = 0; t < k; ++t) {
    threads.emplace_back([&, t] {
      auto& c = *clients[static_cast<std::size_t>(t)];
      for (int n = from + t; n < to; n += k) {
        auto a = c.request("POST", "devices/" + router_id(n % count_ + 1) + "/commands",
                           R"({"op":"ping","args":{},"timeout_s":600})");
        if (a.status != 202) {
          refused[static_cast<std::size_t>(t)] = std::to_string(a.status) + " " + a.body;
          return;
        }
        ids[static_cast<std::size_t>(t)].push_back(a.str("id"));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::string> out;
  for (std::size_t t = 0; t < clients.size(); ++t) {
    REQUIRE_MESSAGE(refused[t].empty(), refused[t]);
    out.insert(out.end(), ids[t].begin(), ids[t].end());
  }
  return out;
}

std::map<std::string, int> sim_fleet::journal_runs() const {
  std::map<std::string, int> runs;
  for (int i = 1; i <= count_; ++i) {
    each_journal_record(fleet_ / router_id(i) / "commands.journal",
                        [&](const std::string& id, bool result) {
                          if (!result) ++runs[id];
                        });
  }
  return runs;
}

std::set<std::string> sim_fleet::journal_results() const {
  std::set<std::string> out;
  for (int i = 1; i <= count_; ++i) {
    each_journal_record(fleet_ / router_id(i) / "commands.journal",
                        [&](const std::string& id, bool result) {
                          if (result) out.insert(id);
                        });
  }
  return out;
}

std::int64_t sim_fleet::count_commands(const std::string& condition) const {
  return query_int(db_,
                   "SELECT count(*) FROM commands c WHERE c.op = 'ping' AND (" + condition + ")");
}

std::int64_t sim_fleet::count_commands(const std::vector<std::string>& ids,
                                       const std::string& condition) const {
  if (ids.empty()) return 0;
  // Ids are the store's own (hex and dashes): quoting them is enough.
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "'" : ", '") + id + "'";
  return count_commands("c.id IN (" + list + ") AND (" + condition + ")");
}

}  // namespace aterm::test
