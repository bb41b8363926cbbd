// The bounded queue between Paho's receive thread (producer) and the ingest thread (consumer).
// Bounded by message count and by bytes; a producer that finds it full waits for room
// (backpressure, see bridge.h). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

#include "aterm/bridge/ingest.h"
#include "aterm/bridge/metrics.h"

namespace aterm::bridge {

class ingest_queue {
 public:
  ingest_queue(std::size_t max_messages, std::size_t max_bytes, bridge_metrics& metrics)
      : max_messages_(max_messages), max_bytes_(max_bytes), metrics_(metrics) {}

  // Producer: adds `m`, waiting while the queue is full unless producers were released.
  // After close() the message is dropped and counted.
  void push(raw_message m) {
    std::unique_lock lk(mu_);
    if (closed_) {
      metrics_.add(metrics_.queue_drops);
      return;
    }
    if (full() && !released_) {
      metrics_.add(metrics_.queue_waits);
      ++waiting_;
      room_.wait(lk, [&] { return !full() || released_ || closed_; });
      --waiting_;
      if (closed_) {
        metrics_.add(metrics_.queue_drops);
        return;
      }
    }
    metrics_.add(metrics_.received);
    bytes_ += m.payload.size() + m.topic.size();
    const bool was_empty = q_.empty();
    q_.push_back(std::move(m));
    metrics_.queue_depth.store(q_.size(), std::memory_order_relaxed);
    if (was_empty) ready_.notify_one();
  }

  // Consumer: waits up to `max` for messages or a stop request, then moves every queued
  // message into `out`. Returns true when stop was requested (everything queued is in `out`).
  bool pop_all(std::deque<raw_message>& out, std::chrono::nanoseconds max) {
    std::unique_lock lk(mu_);
    ready_.wait_for(lk, max, [&] { return !q_.empty() || stop_; });
    out.swap(q_);
    bytes_ = 0;
    metrics_.queue_depth.store(0, std::memory_order_relaxed);
    if (waiting_ > 0) room_.notify_all();
    return stop_;
  }

  // Producers stop waiting for room (during shutdown, so the disconnect cannot hang).
  void release_producers() {
    std::lock_guard lk(mu_);
    released_ = true;
    room_.notify_all();
  }
  // Later pushes are dropped and counted.
  void close() {
    std::lock_guard lk(mu_);
    closed_ = true;
    room_.notify_all();
  }
  // The consumer's next pop_all returns true.
  void request_stop() {
    std::lock_guard lk(mu_);
    stop_ = true;
    ready_.notify_one();
  }

 private:
  bool full() const { return q_.size() >= max_messages_ || bytes_ >= max_bytes_; }

  const std::size_t max_messages_;
  const std::size_t max_bytes_;
  bridge_metrics& metrics_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::condition_variable room_;
  std::deque<raw_message> q_;
  std::size_t bytes_ = 0;
  int waiting_ = 0;
  bool released_ = false;
  bool closed_ = false;
  bool stop_ = false;
};

}  // namespace aterm::bridge
