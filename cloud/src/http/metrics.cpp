#include "aterm/cloud/http/metrics.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>

#include "aterm/cloud/http/limits.h"
#include "aterm/cloud/http/router.h"

namespace aterm::cloud::http {

namespace {

[[maybe_unused]] bool valid_metric_name(std::string_view n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string escape(std::string_view v, bool quote) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="1",b="2"}` or "" for no labels; `extra` is appended (histogram "le").
std::string render_labels(const metric_labels& labels, std::string_view extra = {}) {
  if (labels.empty() && extra.empty()) return {};
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out += ',';
    out += k + "=\"" + escape(v, true) + "\"";
  }
  if (!extra.empty()) {
    if (out.size() > 1) out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  return std::string(buf, end);
}

}  // namespace

void gauge::add(double d) {
  value_.fetch_add(d, std::memory_order_relaxed);
}

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
}

void histogram::observe(double v) {
  auto idx = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                      bounds_.begin());
  std::lock_guard lock(mu_);
  ++counts_[idx];
  sum_ += v;
  ++count_;
}

histogram::snapshot histogram::read() const {
  std::lock_guard lock(mu_);
  snapshot s;
  s.bounds = bounds_;
  std::uint64_t running = 0;
  for (auto c : counts_) {
    running += c;
    s.cumulative.push_back(running);
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

std::vector<double> default_latency_buckets() {
  return {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

metrics_registry::family& metrics_registry::family_for(std::string_view name, std::string_view help,
                                                       kind type) {
  assert(valid_metric_name(name));
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), family{type, std::string(help), {}, {}, {}}).first;
  }
  assert(it->second.type == type && "metric family used with two types");
  return it->second;
}

counter& metrics_registry::get_counter(std::string_view name, std::string_view help,
                                       const metric_labels& l) {
  std::lock_guard lock(mu_);
  auto& f = family_for(name, help, kind::counter);
  auto key = render_labels(l);
  auto& slot = f.counters[key];
  if (!slot) {
    assert(f.counters.size() <= limits::k_max_metric_series);
    slot = std::make_unique<counter>();
  }
  return *slot;
}

gauge& metrics_registry::get_gauge(std::string_view name, std::string_view help,
                                   const metric_labels& l) {
  std::lock_guard lock(mu_);
  auto& f = family_for(name, help, kind::gauge);
  auto& slot = f.gauges[render_labels(l)];
  if (!slot) {
    assert(f.gauges.size() <= limits::k_max_metric_series);
    slot = std::make_unique<gauge>();
  }
  return *slot;
}

histogram& metrics_registry::get_histogram(std::string_view name, std::string_view help,
                                           const metric_labels& l,
                                           const std::vector<double>& bounds) {
  std::lock_guard lock(mu_);
  auto& f = family_for(name, help, kind::histogram);
  // The label set is kept unrendered-compatible: "le" is added per bucket at render time.
  std::string key;
  for (const auto& [k, v] : l) key += k + "=\"" + escape(v, true) + "\",";
  auto& slot = f.histograms[key];
  if (!slot) {
    assert(f.histograms.size() <= limits::k_max_metric_series);
    slot = std::make_unique<histogram>(bounds);
  }
  return *slot;
}

std::string metrics_registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == kind::counter ? "counter"
                       : f.type == kind::gauge ? "gauge"
                                               : "histogram";
    out += "# HELP " + name + " " + escape(f.help, false) + "\n";
    out += "# TYPE " + name + " " + type + "\n";
    for (const auto& [labels, c] : f.counters) {
      out += name + labels + " " + std::to_string(c->value()) + "\n";
    }
    for (const auto& [labels, g] : f.gauges) {
      out += name + labels + " " + format_number(g->value()) + "\n";
    }
    for (const auto& [labels, h] : f.histograms) {
      auto s = h->read();
      // Captured by name: clang 14 (the sanitizer builds) cannot capture a structured binding.
      auto with = [&labels = labels](const std::string& extra) {
        std::string inner = labels + extra;
        return "{" + inner + "}";
      };
      std::string plain = labels.empty() ? "" : "{" + labels.substr(0, labels.size() - 1) + "}";
      for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
        std::string le = i < s.bounds.size() ? format_number(s.bounds[i]) : "+Inf";
        out += name + "_bucket" + with("le=\"" + le + "\"") + " " +
               std::to_string(s.cumulative[i]) + "\n";
      }
      out += name + "_sum" + plain + " " + format_number(s.sum) + "\n";
      out += name + "_count" + plain + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

void register_health(router& r) {
  r.add("GET", "/healthz", [](request&) {
    response res;
    res.body = R"({"status":"ok"})";
    return res;
  });
}

void register_health_and_metrics(router& r, metrics_registry& m) {
  register_health(r);
  r.add("GET", "/metrics", [&m](request&) {
    response res;
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    res.body = m.render();
    return res;
  });
}

}  // namespace aterm::cloud::http
