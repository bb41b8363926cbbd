#include "aterm/bridge/dispatcher.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "aterm/bridge/limits.h"
#include "aterm/common/clock.h"
#include "aterm/common/protocol.h"
#include "fake_store.h"

namespace {

using namespace std::chrono_literals;
namespace protocol = aterm::common::protocol;
using aterm::bridge::bridge_metrics;
using aterm::bridge::command_publisher;
using aterm::bridge::dispatch_settings;
using aterm::bridge::dispatcher;
using aterm::bridge::outbound_command;
using aterm::bridge::test::command_state;
using aterm::bridge::test::fake_store;
using aterm::common::manual_clock;

// Records publishes; refuses the ids in `refuse`.
class fake_publisher final : public command_publisher {
 public:
  bool connected() const override { return up; }
  std::vector<std::string> publish(std::span<const outbound_command> commands) override {
    std::vector<std::string> ok;
    for (const auto& c : commands) {
      published.push_back(c);
      if (!refuse.contains(c.id)) ok.push_back(c.id);
    }
    return ok;
  }
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& c : published) out.push_back(c.id);
    return out;
  }
  bool up = true;
  std::set<std::string> refuse;
  std::vector<outbound_command> published;
};

constexpr std::int64_t k_start_s = 1'800'000'000;

struct fixture {
  fake_store store;
  manual_clock clock{aterm::common::from_unix_s(k_start_s)};
  bridge_metrics metrics;
  fake_publisher pub;
  dispatcher disp{dispatch_settings{1000ms}, store, pub, clock, metrics};
};

}  // namespace

TEST_CASE("a device that comes online gets the commands sent in its earlier connection, once") {
  fixture f;
  f.store.add_command("dev-aaaa", "c1", k_start_s + 60);
  f.store.add_command("dev-aaaa", "c2", k_start_s + 60);
  f.store.add_command("dev-aaaa", "c-old", k_start_s - 1);  // deadline passed
  f.store.add_command("dev-bbbb", "c3", k_start_s + 60);
  f.store.set_online("dev-aaaa", true);
  f.disp.step();  // first poll: expire_overdue, then claims and publishes c1, c2
  CHECK(f.store.command("c-old").state == command_state::expired);
  CHECK(f.pub.ids() == std::vector<std::string>{"c1", "c2"});
  CHECK(f.store.command("c1").claimed_by == "aterm-cloud");
  f.pub.published.clear();

  // The presence of the connection they went out in: nothing again.
  f.disp.post_online({"dev-aaaa"});
  f.disp.step();
  CHECK(f.pub.published.empty());

  // A new connection: both go again, oldest first, the other device's do not.
  f.store.set_online("dev-aaaa", false);
  f.store.set_online("dev-aaaa", true);
  f.disp.post_online({"dev-aaaa"});
  f.disp.step();
  CHECK(f.pub.ids() == std::vector<std::string>{"c1", "c2"});
  CHECK(f.store.command("c1").attempts == 2);
  CHECK(f.store.command("c2").attempts == 2);
  for (const auto& c : f.pub.published) {
    auto cmd = protocol::decode_command(c.payload, "dev-aaaa");
    REQUIRE(cmd.ok());
    CHECK(cmd->id == c.id);
  }

  // A second instance saw the same presence: the first claimed them for this connection.
  fake_publisher other_pub;
  dispatch_settings other_settings;
  other_settings.instance = "aterm-cloud-b";
  dispatcher other{other_settings, f.store, other_pub, f.clock, f.metrics};
  other.post_online({"dev-aaaa"});
  other.step();
  CHECK(other_pub.published.empty());
}

TEST_CASE("publishing: only accepted commands are marked sent") {
  fixture f;
  f.store.add_command("dev-aaaa", "c1", k_start_s + 60);
  f.store.add_command("dev-aaaa", "c2", k_start_s + 60);
  f.disp.step();  // the first poll, out of the way
  f.store.set_online("dev-aaaa", true);
  f.pub.refuse = {"c2"};
  f.disp.post_online({"dev-aaaa"});
  f.disp.step();
  CHECK(f.pub.ids() == std::vector<std::string>{"c1", "c2"});
  CHECK(f.store.command("c1").state == command_state::sent);
  // Its claim is given up: queued again for whichever instance claims it next.
  CHECK(f.store.command("c2").state == command_state::queued);
  CHECK(f.store.command("c2").claimed_at_ms == 0);
  auto s = f.metrics.snapshot();
  CHECK(s.commands_published == 1);
  CHECK(s.publish_failures == 1);
}

TEST_CASE("disconnected: nothing is published and posted work is left to the reconnect pass") {
  fixture f;
  f.store.add_command("dev-aaaa", "c1", k_start_s + 60);
  f.store.set_online("dev-aaaa", true);
  f.pub.up = false;
  f.disp.post_online({"dev-aaaa"});
  f.disp.post_command("dev-aaaa");
  f.disp.step();
  CHECK(f.pub.published.empty());
  CHECK(f.store.command("c1").state == command_state::queued);
  f.pub.up = true;
  f.disp.post_reconnected();
  f.disp.step();
  CHECK(f.pub.ids() == std::vector<std::string>{"c1"});
  CHECK(f.store.command("c1").state == command_state::sent);
}

TEST_CASE("a new command is published only when its device is online") {
  fixture f;
  f.disp.step();  // the first poll, out of the way
  f.store.add_command("dev-aaaa", "c-on", k_start_s + 60);
  f.store.add_command("dev-bbbb", "c-off", k_start_s + 60);
  f.store.set_online("dev-aaaa", true);
  const int sweeps = f.store.claim_for_online_calls();
  f.disp.post_command("dev-aaaa");
  f.disp.post_command("dev-bbbb");
  f.disp.step();
  CHECK(f.pub.ids() == std::vector<std::string>{"c-on"});
  CHECK(f.store.command("c-off").state == command_state::queued);
  // Claimed on its device alone, in the one commit that also counts the publish.
  CHECK(f.store.claim_for_online_calls() == sweeps);
  CHECK(f.store.command("c-on").attempts == 1);

  // A burst beyond one device's page goes out in the same step, not at the next poll.
  for (std::size_t i = 0; i <= aterm::bridge::limits::k_max_due_per_device; ++i) {
    f.store.add_command("dev-aaaa", "c-burst-" + std::to_string(i), k_start_s + 60);
  }
  f.pub.published.clear();
  f.disp.post_command("dev-aaaa");
  f.disp.step();
  CHECK(f.pub.published.size() == aterm::bridge::limits::k_max_due_per_device + 1);
  f.pub.published.clear();
  // A sent command is not re-published by notify or by the poll, only on reconnects.
  f.disp.post_command("dev-aaaa");
  f.disp.step();
  f.clock.advance(1s);
  f.disp.step();
  CHECK(f.pub.published.empty());
}

TEST_CASE("the poll runs every dispatch_poll: expire_overdue and queued commands") {
  fixture f;
  f.disp.step();
  CHECK(f.store.expire_calls() == 1);
  f.disp.step();
  CHECK(f.store.expire_calls() == 1);
  f.store.add_command("dev-aaaa", "c1", k_start_s + 5);
  f.store.set_online("dev-aaaa", true);
  f.clock.advance(999ms);
  f.disp.step();
  CHECK(f.store.expire_calls() == 1);
  CHECK(f.pub.published.empty());
  f.clock.advance(1ms);
  f.disp.step();
  CHECK(f.store.expire_calls() == 2);
  CHECK(f.pub.ids() == std::vector<std::string>{"c1"});
  f.clock.advance(5s);
  f.disp.step();
  CHECK(f.store.command("c1").state == command_state::timed_out);
  CHECK(f.metrics.snapshot().commands_expired == 1);
}

TEST_CASE("after the bridge's reconnect the commands it claimed go again, not another's") {
  fixture f;
  f.store.add_command("dev-aaaa", "c-theirs", k_start_s + 60);
  f.store.set_online("dev-aaaa", true);
  aterm::bridge::claim_request theirs;
  theirs.instance = "aterm-cloud-b";
  theirs.now_ms = k_start_s * 1000;
  REQUIRE(f.store.claim_for_online(theirs, 10)->size() == 1);
  f.store.add_command("dev-aaaa", "c-mine", k_start_s + 60);
  f.store.add_command("dev-aaaa", "c-done", k_start_s + 60);
  f.disp.step();
  REQUIRE(f.pub.ids() == std::vector<std::string>{"c-mine", "c-done"});
  aterm::bridge::device_message done;
  done.device_id = "dev-aaaa";
  done.kind = protocol::topic_kind::result;
  done.body = protocol::command_result{"c-done", protocol::result_status::ok, "{}", ""};
  REQUIRE(f.store.apply_batch(std::span(&done, 1)).ok());
  f.store.add_command("dev-aaaa", "c-queued", k_start_s + 60);
  f.store.add_command("dev-bbbb", "c-offline", k_start_s + 60);
  f.pub.published.clear();
  f.disp.post_reconnected();
  f.disp.step();
  std::set<std::string> ids;
  for (const auto& c : f.pub.published) ids.insert(c.id);
  CHECK(ids == std::set<std::string>{"c-mine", "c-queued"});
  CHECK(f.store.own_claim_calls() == 1);
  CHECK(f.store.command("c-theirs").claimed_by == "aterm-cloud-b");
}

TEST_CASE("a command without a final result for result_timeout goes again, by one instance") {
  fixture f;
  fake_publisher other_pub;
  dispatch_settings other_settings;
  other_settings.instance = "aterm-cloud-b";
  dispatcher other{other_settings, f.store, other_pub, f.clock, f.metrics};
  f.store.add_command("dev-aaaa", "c1", k_start_s + 600);
  f.store.set_online("dev-aaaa", true);
  f.disp.step();
  other.step();
  REQUIRE(f.pub.ids() == std::vector<std::string>{"c1"});
  CHECK(other_pub.published.empty());
  // Polls within the timeout leave it alone.
  f.clock.advance(59s);
  f.disp.step();
  other.step();
  CHECK(f.pub.published.size() == 1);
  CHECK(other_pub.published.empty());
  // Overdue: the first instance to poll re-claims it; the other finds it claimed.
  f.clock.advance(1s);
  other.step();
  f.disp.step();
  CHECK(other_pub.ids() == std::vector<std::string>{"c1"});
  CHECK(f.pub.published.size() == 1);
  CHECK(f.store.command("c1").claimed_by == "aterm-cloud-b");
  CHECK(f.store.command("c1").attempts == 2);
}

TEST_CASE("wait returns when work is posted") {
  fixture f;
  auto t0 = std::chrono::steady_clock::now();
  f.disp.post_command("dev-aaaa");
  f.disp.wait(10s);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  f.disp.wake();
  f.disp.wait(10s);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

// Moves the clock and the fake store's "now" together.
static void pass_time(fixture& f, std::chrono::milliseconds d) {
  f.clock.advance(d);
  f.store.set_now(aterm::common::to_unix_s(f.clock.now()));
}

// The devices of the state.refresh tests are online: their refreshes are claimed like any
// command, for online devices.
static void all_online(fixture& f) {
  for (const char* d : {"dev-aaaa", "dev-bbbb", "dev-cccc", "dev-dddd"})
    f.store.set_online(d, true);
}

TEST_CASE("a device seen online without state gets one state.refresh after a grace") {
  fixture f;
  all_online(f);
  f.disp.step();  // the first poll, out of the way
  f.store.set_now(k_start_s);
  f.store.set_has_state("dev-bbbb");
  f.disp.post_state_unknown({"dev-aaaa", "dev-bbbb", "dev-cccc"});
  f.disp.step();
  // The agent's snapshot follows its presence: give it the grace before asking.
  CHECK(f.store.refresh_calls() == 0);
  pass_time(f, 2900ms);
  f.disp.step();
  CHECK(f.store.refresh_calls() == 0);
  f.store.set_has_state("dev-cccc");  // its snapshot came in the meantime
  pass_time(f, 100ms);
  f.disp.step();
  CHECK(f.store.refresh_calls() == 1);
  auto refreshes = f.store.commands_of("state.refresh");
  REQUIRE(refreshes.size() == 1);
  const auto& r = refreshes[0];
  CHECK(r.device_id == "dev-aaaa");
  CHECK(r.created_by == "system");
  CHECK(r.deadline_s == k_start_s + 3 + 300);
  CHECK(r.state == command_state::sent);  // committed first, then claimed, published, marked
  REQUIRE(f.pub.ids() == std::vector<std::string>{r.id});
  auto cmd = protocol::decode_command(f.pub.published[0].payload, "dev-aaaa");
  REQUIRE(cmd.ok());
  CHECK(cmd->op == "state.refresh");
  CHECK(cmd->args_json == "{}");
  CHECK(f.metrics.snapshot().state_refreshes == 1);
  CHECK(f.metrics.snapshot().commands_published == 1);
}

TEST_CASE("state.refresh is not a storm: one open per device, rechecked at most once a minute") {
  fixture f;
  all_online(f);
  f.disp.step();
  f.store.set_now(k_start_s);
  f.store.set_has_state("dev-bbbb");
  // A message of each device, then the grace.
  auto seen = [&](std::vector<std::string> devices) {
    f.disp.post_state_unknown(std::move(devices));
    f.disp.step();
    pass_time(f, 3s);
    f.disp.step();
  };
  seen({"dev-aaaa", "dev-bbbb"});
  REQUIRE(f.store.commands_of("state.refresh").size() == 1);
  auto asked = f.store.refresh_asked();
  std::sort(asked.begin(), asked.end());
  CHECK(asked == std::vector<std::string>{"dev-aaaa", "dev-bbbb"});
  // Every message of the device within the minute: the store is not even asked.
  for (int i = 0; i < 10; ++i) seen({"dev-aaaa", "dev-bbbb"});
  CHECK(f.store.refresh_calls() == 1);
  // A minute later it is asked again, but the first one is still open: nothing new. The device
  // with a state is never asked about again.
  pass_time(f, 61s);
  seen({"dev-aaaa", "dev-bbbb"});
  CHECK(f.store.refresh_asked().size() == 3);
  CHECK(f.store.refresh_asked().back() == "dev-aaaa");
  CHECK(f.store.commands_of("state.refresh").size() == 1);
  // Finished, but its state never came (e.g. a bad snapshot): not again within 10 minutes ...
  f.store.finish(f.store.commands_of("state.refresh")[0].id);
  pass_time(f, 61s);
  seen({"dev-aaaa"});
  CHECK(f.store.refresh_asked().size() == 4);
  CHECK(f.store.commands_of("state.refresh").size() == 1);
  // ... and once after that.
  pass_time(f, 600s);
  seen({"dev-aaaa"});
  CHECK(f.store.commands_of("state.refresh").size() == 2);
  CHECK(f.metrics.snapshot().state_refreshes == 2);
  // (The first went out more than once: it stayed without a result past result_timeout.)
  std::set<std::string> published;
  for (const auto& c : f.pub.published) published.insert(c.id);
  CHECK(published.size() == 2);
}

TEST_CASE("state.refresh: an operator's open refresh counts, a failing store asks again") {
  fixture f;
  all_online(f);
  f.disp.step();
  auto seen = [&](std::vector<std::string> devices) {
    f.disp.post_state_unknown(std::move(devices));
    f.disp.step();
    pass_time(f, 3s);
    f.disp.step();
  };
  f.store.add_command("dev-aaaa", "c-op", k_start_s + 60, "state.refresh");
  seen({"dev-aaaa"});
  CHECK(f.store.refresh_calls() == 1);
  CHECK(f.store.commands_of("state.refresh").size() == 1);

  f.store.fail_refresh(true);
  seen({"dev-cccc"});
  CHECK(f.metrics.snapshot().dispatch_errors == 1);
  f.store.fail_refresh(false);
  seen({"dev-cccc"});
  auto refreshes = f.store.commands_of("state.refresh");
  REQUIRE(refreshes.size() == 2);
  CHECK(refreshes[1].device_id == "dev-cccc");
  // Disconnected: nothing is committed; the device waits and is asked about once connected.
  f.pub.up = false;
  seen({"dev-dddd"});
  CHECK(f.store.commands_of("state.refresh").size() == 2);
  f.pub.up = true;
  f.disp.step();
  refreshes = f.store.commands_of("state.refresh");
  REQUIRE(refreshes.size() == 3);
  CHECK(refreshes[2].device_id == "dev-dddd");
  CHECK(f.pub.ids().back() == refreshes[2].id);
}

TEST_CASE(
    "after the broker lost the bridge's session, a state older than the reconnect is asked "
    "for again") {
  fixture f;
  all_online(f);
  f.disp.step();
  f.store.set_now(k_start_s);
  f.store.set_has_state("dev-aaaa");  // stored before the reconnect (received_ms 0)
  f.disp.post_state_unknown({"dev-aaaa"});
  pass_time(f, 3s);
  f.disp.step();
  CHECK(f.store.commands_of("state.refresh").empty());  // it has a state: known from now on

  SUBCASE("the broker kept the session: nothing was missed") {
    f.disp.post_reconnected();
    f.disp.post_state_unknown({"dev-aaaa"});
    pass_time(f, 3s);
    f.disp.step();
    CHECK(f.store.commands_of("state.refresh").empty());
  }
  SUBCASE("the broker lost it: what was sent before the bridge subscribed again found nobody") {
    f.disp.post_reconnected(aterm::common::to_unix_s(f.clock.now()) * 1000);
    f.disp.post_state_unknown({"dev-aaaa"});
    pass_time(f, 3s);
    f.disp.step();
    auto refreshes = f.store.commands_of("state.refresh");
    REQUIRE(refreshes.size() == 1);
    CHECK(refreshes[0].device_id == "dev-aaaa");
    CHECK(refreshes[0].state == command_state::sent);
  }
}
