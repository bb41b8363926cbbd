// The store's fleet jobs and tags (store.h, "fleet jobs and tags"), written once against the SQL
// seam like the rest of the store. The store (sql_store.cpp) derives from it, so these methods
// run on the store's pool and join the thread's running operation (store::run_operation).
// Thread-safe like the store.
#pragma once

#include <memory>

#include "aterm/cloud/store.h"
#include "sql/transactions.h"

namespace aterm::cloud::store_sql {

class job_store : public store {
 public:
  job_store(std::shared_ptr<sql::connection_pool> pool, const common::clock& clock);

  result<std::vector<std::string>> set_device_tags(const std::string& company_id,
                                                   const std::string& device_id,
                                                   std::vector<std::string> tags) override;
  result<std::map<std::string, std::vector<std::string>>> device_tags(
      const std::string& company_id, std::span<const std::string> device_ids) override;
  result<fleet_job> create_job(const std::string& company_id, const new_job& job) override;
  result<std::vector<fleet_job>> list_jobs(const std::string& company_id,
                                           std::size_t limit) override;
  result<fleet_job> get_job(const std::string& company_id, std::int64_t job_id) override;
  result<running_jobs> summarize_running_jobs(const std::string& company_id,
                                              std::size_t limit) override;
  result<job_device_page> list_job_devices(const std::string& company_id, std::int64_t job_id,
                                           const job_device_query& query) override;
  result<fleet_job> cancel_job(const std::string& company_id, std::int64_t job_id) override;
  result<job_tick> release_jobs(std::int64_t now_ms, std::int64_t minute_ms) override;

 private:
  result<fleet_job> job_locked(const std::string& company_id, std::int64_t job_id);
  job_counts counts_locked(std::int64_t job_id);
  void replace_tags_locked(const std::string& company_id, const std::string& device_id,
                           const std::vector<std::string>& tags);
  // Cancels the job's queued routers and its released commands not yet claimed.
  void cancel_unsent_locked(std::int64_t job_id, std::int64_t now_s, const std::string& why);
  void finish_locked(std::int64_t job_id, job_state state, const std::string& reason,
                     std::int64_t now_s);
  // One running job's share of a tick; true when it ended.
  bool tick_job_locked(const fleet_job& job, std::int64_t now_ms, std::int64_t minute_ms,
                       std::int64_t& budget, job_tick& out);

  sql::transactions job_tx_;
  sql::current_connection job_db_{job_tx_};  // used only inside job_tx_'s transactions
  const common::clock& job_clock_;
};

}  // namespace aterm::cloud::store_sql
