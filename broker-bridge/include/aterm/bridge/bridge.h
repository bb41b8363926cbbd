// The MQTT bridge of the cloud (DESIGN.md sections 3 and 8): one Paho async client over mutual
// TLS with the cloud's identity subscribes to every device's presence, state, result and event
// (QoS 1; a persistent session, a clean one when shared), ingests them into the store in batches
// and publishes commands.
//
// Threads and ownership:
//  - Paho's threads run the callbacks, which only enqueue: messages into a bounded queue
//    (src/ingest_queue.h), connection events into the dispatcher's inbox. The queue's overload
//    policy keeps commands moving when ingest falls behind: state snapshots are replaceable,
//    so a device's newer snapshot replaces its queued one (states_coalesced) and one that finds
//    the snapshots' bound (limits.h) full is shed (states_shed; the device's next snapshot
//    brings the store up to date). The callback never waits for a snapshot, so Paho keeps
//    reading the socket: results, presence and PUBACKs of the bridge's own command publishes
//    do not queue behind snapshots in the broker or in TCP buffers. Results, presence and
//    events are never shed: they are admitted past the snapshots' bound up to a hard bound
//    of their own, and go into the next batch ahead of queued snapshots (per-device order
//    kept). Only past that hard bound does the callback wait for room, the last-resort
//    backpressure (queue_waits): Paho stops reading and the broker holds the messages in the
//    bridge's session, up to its max_queued_messages.
//  - The ingest thread owns the ingest (batching, decoding, rate-limited bad-input log) and is
//    the only caller of store_port::apply_batch. It commits by group commit: it takes whatever
//    is queued, commits it, and takes what queued up meanwhile, so a lone result is stored at
//    once and batches grow with the load. It never waits on Paho, so the callback's wait always
//    ends.
//  - The dispatch thread owns the dispatcher and the connection: connect and reconnect with
//    jittered exponential backoff, subscribe, TCP_NODELAY, command publishes (it waits on their
//    delivery tokens), polls.
//  - Retained messages: a device may publish with the retain flag (Mosquitto 2.0 cannot refuse
//    it per topic; `retain_available false` would also end the retained presence), and the
//    broker then hands the message to every later subscribe, so a stored result or event would
//    be replayed at each reconnect. Ingest applies a retained message only on presence (the
//    Last Will); on state, result and event it is dropped (bad reason `retained`), and the
//    dispatch thread clears it at the broker with an empty retained publish on that topic (the
//    empty message that follows is bad input, counted once more).
//  - start(), stop() and the destructor belong to the owner's thread; notify_command() and
//    metrics() may be called from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "aterm/bridge/metrics.h"
#include "aterm/bridge/store_port.h"
#include "aterm/common/clock.h"
#include "aterm/common/status.h"

namespace aterm::bridge {

struct bridge_config {
  std::string uri;  // "ssl://host:port"
  std::string ca;   // CA file that signed the broker's certificate (verified, with host name)
  // The cloud's client certificate: CN aterm-cloud, or aterm-cloud-NAME for a further instance
  // (scripts/dev-pki cloud), since the broker makes the CN the client id.
  std::string cert;
  std::string key;  // its private key
  // The broker sets the client id from the certificate (use_username_as_clientid), so several
  // instances need certificates of their own (two with one CN take over each other's session).
  // This id is what is sent and the instance's name in its command claims (store_port.h), so
  // each instance needs its own: the certificate's CN. Default: aterm-cloud.
  std::string client_id = "aterm-cloud";
  // Subscribe through $share/aterm-cloud/... so instances split device traffic. The session is
  // then clean: Mosquitto 2.0 hands a shared subscription's messages round-robin to every
  // session holding it, a disconnected persistent one included, and a dead instance's session
  // would keep its share queued until that instance returns, which may be never. A clean
  // session ends with its connection, so the live instances get every message sent after it.
  // Default: off (one instance, persistent session: the broker queues messages while it is
  // away).
  bool shared_subscription = false;
  // A command published this long ago without a final result is published again (by one
  // instance; the router answers a repeat from its journal). Default: 60 s.
  std::chrono::seconds result_timeout{60};
  std::size_t batch_max = 1000;  // Default: 1000 messages.
  // How long a batch may wait after its first message for more (ingest.h). Default: 0, group
  // commit: what is queued is committed as soon as the previous commit ended.
  std::chrono::milliseconds batch_delay{0};
  std::chrono::milliseconds dispatch_poll{1000};             // Default: 1 s.
  std::chrono::milliseconds bad_input_log_interval{60'000};  // Default: 1 min per device.
  std::chrono::milliseconds reconnect_min{500};              // Default: 0.5 s, doubling ...
  std::chrono::milliseconds reconnect_max{30'000};           // ... up to 30 s, with jitter.
  std::chrono::seconds keep_alive{30};                       // Default: 30 s.
  std::chrono::seconds connect_timeout{10};                  // Default: 10 s.
  std::chrono::milliseconds publish_timeout{10'000};         // Default: 10 s for a PUBACK.
  // State snapshots the ingest queue holds. Default (0): limits::k_ingest_queue_messages.
  std::size_t queue_messages = 0;
};

class bridge {
 public:
  bridge(bridge_config config, store_port& store, common::clock& clock);
  ~bridge();  // stop()
  bridge(const bridge&) = delete;
  bridge& operator=(const bridge&) = delete;

  // Checks the configuration (URI, readable certificate files, batch settings) and starts the
  // threads; connecting happens in the background and is retried until stop(). Errors:
  // "bad_config". REQUIRES: not started.
  common::status start();
  // Disconnects, applies every message already received (the last batch included) and joins
  // the threads. Idempotent.
  void stop();

  // A command for `device_id` was committed: publish it if the device is online. Thread-safe,
  // never blocks on the network.
  void notify_command(const std::string& device_id);

  metrics_snapshot metrics() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace aterm::bridge
