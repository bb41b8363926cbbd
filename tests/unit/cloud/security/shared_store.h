// The store the security rules count through (shared_counters.h), for their unit tests:
// a real store on a fresh database of the suite's engine (aterm::test::test_db), opened once per
// instance a test plays.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "aterm/cloud/security/rules_for_store.h"
#include "aterm/cloud/store.h"
#include "aterm/common/clock.h"
#include "aterm/test/pg_cluster.h"

namespace aterm::test {

class shared_store {
 public:
  explicit shared_store(const common::clock& clock) : clock_(clock) {}

  // A further connection to the same database, as another instance holds.
  std::unique_ptr<cloud::store> open() {
    cloud::store_options o;
    o.rules = aterm::cloud::security::rules_for_store();
    o.db = db_;
    auto s = cloud::open_store(o, clock_);
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    return std::move(s).value();
  }

 private:
  std::string db_ = test_db("unit_cloud_security");
  const common::clock& clock_;
};

}  // namespace aterm::test
