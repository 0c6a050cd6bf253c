// Metrics: request counters and latency histograms by route and status, rendered as
// Prometheus text for GET /metrics. Thread-safe; recording takes one short mutex hold.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace oc::api {

class Metrics {
 public:
  static constexpr std::array<double, 13> kLatencyBucketsSeconds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

  void RecordRequest(std::string_view route, unsigned status, int64_t latency_us);
  // Appends the request metrics in Prometheus text format.
  void Render(std::string* out) const;

 private:
  struct Histogram {
    std::array<uint64_t, kLatencyBucketsSeconds.size()> buckets{};
    uint64_t count = 0;
    double sum_seconds = 0;
  };
  mutable std::mutex mu_;
  // Orders (route, status) keys against a (string_view, status) probe too, so recording a
  // request builds no string.
  struct KeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return std::string_view(a.first) != std::string_view(b.first)
                 ? std::string_view(a.first) < std::string_view(b.first)
                 : a.second < b.second;
    }
  };
  // Keyed by (route template, HTTP status); the request count is the histogram's count.
  std::map<std::pair<std::string, unsigned>, Histogram, KeyLess> requests_;
};

}  // namespace oc::api
