// Simulated routers for the tests of several instances and of database outages: `aterm-agent
// simulate` with `count` routers of company "acme" on a cloud_stack's broker, commands created
// through the API, and what the routers' command journals and the store say about them.
// Used by one test thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cloud_stack.h"

namespace aterm::test {

// How often `what` occurs in `text` (a process's log).
std::size_t count_of(const std::string& text, const std::string& what);

class sim_fleet {
 public:
  // Registers routers PREFIX00001.. under "acme" and starts the simulator (its log and data
  // folder in the stack's folder). `db` is the stack's store (a file path or a URI). `settings`:
  // more members of the simulator's configuration as JSON, e.g. R"("state_interval_s": 3600)".
  sim_fleet(cloud_stack& s, std::string db, const std::string& prefix, int count,
            const std::string& settings = {});
  ~sim_fleet();
  sim_fleet(const sim_fleet&) = delete;
  sim_fleet& operator=(const sim_fleet&) = delete;

  // Router i, 1-based.
  std::string router_id(int i) const;
  process& sim() { return *sim_; }
  // Routers the API lists online.
  int online(https_client& c) const;
  // Creates commands n = from .. to-1 (a ping for router n % count + 1), command n through
  // clients[n % clients.size()], every client on a thread of its own; REQUIREs 202 for each.
  // Their ids, in no particular order.
  std::vector<std::string> create_commands(const std::vector<https_client*>& clients, int from,
                                           int to) const;

  // For each command id in the routers' journals (commands.journal: "<8 hex> <record>" lines),
  // how many times a router began running it (records without a result "r").
  std::map<std::string, int> journal_runs() const;
  // The command ids whose result a router recorded in its journal (and then published).
  std::set<std::string> journal_results() const;

  // The store's ping commands (what the tests create) with `condition` on commands `c`, e.g.
  // "c.status IN ('queued', 'sent')" (read through a connection of the test's own).
  std::int64_t count_commands(const std::string& condition) const;
  // The same among the commands `ids`.
  std::int64_t count_commands(const std::vector<std::string>& ids,
                              const std::string& condition) const;

 private:
  cloud_stack& s_;
  std::string db_;
  std::string prefix_;
  int count_;
  fs::path fleet_;
  std::unique_ptr<process> sim_;
};

}  // namespace aterm::test
