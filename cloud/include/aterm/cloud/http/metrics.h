// A small metrics registry: counters, gauges and histograms with labels, rendered in the
// Prometheus text format (version 0.0.4) for GET /metrics. Thread-safe: any thread may create,
// update and render. Metric objects live as long as the registry; references stay valid.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aterm::cloud::http {

class router;

// Label name/value pairs in the order given; names match [a-zA-Z_][a-zA-Z0-9_]*.
using metric_labels = std::vector<std::pair<std::string, std::string>>;

class counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double d);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class histogram {
 public:
  // REQUIRES: `bounds` strictly increasing (the +Inf bucket is implicit).
  explicit histogram(std::vector<double> bounds);
  void observe(double v);
  struct snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  snapshot read() const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// Request latency buckets in seconds: from a static file to a 0.7 s PBKDF2 login.
std::vector<double> default_latency_buckets();

class metrics_registry {
 public:
  // The metric of family `name` with these labels, created on first use. REQUIRES: a family
  // keeps one type, and `name` matches [a-zA-Z_:][a-zA-Z0-9_:]*. `help` of the first call wins.
  counter& get_counter(std::string_view name, std::string_view help, const metric_labels& l = {});
  gauge& get_gauge(std::string_view name, std::string_view help, const metric_labels& l = {});
  histogram& get_histogram(std::string_view name, std::string_view help,
                           const metric_labels& l = {},
                           const std::vector<double>& bounds = default_latency_buckets());

  // Every family, sorted by name, in the Prometheus text format.
  std::string render() const;

 private:
  enum class kind { counter, gauge, histogram };
  struct family {
    kind type;
    std::string help;
    std::map<std::string, std::unique_ptr<counter>> counters;  // key: rendered label set
    std::map<std::string, std::unique_ptr<gauge>> gauges;
    std::map<std::string, std::unique_ptr<histogram>> histograms;
  };
  family& family_for(std::string_view name, std::string_view help, kind type);

  mutable std::mutex mu_;
  std::map<std::string, family, std::less<>> families_;
};

// GET /healthz -> 200 {"status":"ok"}: the public listener's only non-API route of the two.
void register_health(router& r);
// GET /healthz and GET /metrics -> the registry as text/plain 0.0.4: the routes of the metrics
// listener (metrics_listener.h), never of the public one.
void register_health_and_metrics(router& r, metrics_registry& m);

}  // namespace aterm::cloud::http
