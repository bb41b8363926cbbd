#include "aterm/bridge/metrics.h"

#include <doctest/doctest.h>

#include <string>

using aterm::bridge::bad_reason;
using aterm::bridge::bridge_metrics;

TEST_CASE("decode error codes map to bad reasons and back") {
  for (const char* code : {"bad_topic", "too_large", "bad_json", "bad_version", "missing_field",
                           "wrong_type", "bad_value", "id_mismatch", "unknown_command"}) {
    CAPTURE(code);
    CHECK(aterm::bridge::to_string(aterm::bridge::bad_reason_from_code(code)) == code);
  }
  CHECK(aterm::bridge::bad_reason_from_code("something_new") == bad_reason::other);
}

TEST_CASE("snapshot and Prometheus text carry the counters") {
  bridge_metrics m;
  m.add(m.ingested[1], 5);
  m.add(m.bad[static_cast<std::size_t>(bad_reason::id_mismatch)]);
  bridge_metrics::raise_max(m.batch_size_max, 7);
  bridge_metrics::raise_max(m.batch_size_max, 3);
  m.add(m.state_refreshes, 2);
  m.add(m.states_coalesced, 3);
  m.add(m.states_shed, 4);
  m.connected.store(true);
  auto s = m.snapshot();
  CHECK(s.state_refreshes == 2);
  CHECK(s.ingested[1] == 5);
  CHECK(s.batch_size_max == 7);
  auto text = aterm::bridge::format_prometheus(s);
  CHECK(text.find("aterm_bridge_ingested_total{kind=\"state\"} 5\n") != std::string::npos);
  CHECK(text.find("aterm_bridge_dropped_total{reason=\"id_mismatch\"} 1\n") != std::string::npos);
  CHECK(text.find("aterm_bridge_batch_size_max 7\n") != std::string::npos);
  CHECK(text.find("aterm_bridge_connected 1\n") != std::string::npos);
  CHECK(text.find("aterm_bridge_state_refreshes_total 2\n") != std::string::npos);
  CHECK(text.find("aterm_bridge_states_coalesced_total 3\n") != std::string::npos);
  CHECK(text.find("aterm_bridge_states_shed_total 4\n") != std::string::npos);
}
