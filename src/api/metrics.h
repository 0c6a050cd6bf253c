// Metrics: request counters and latency histograms by route and status, rendered as
// Prometheus text for GET /metrics. Thread-safe. Each recording thread writes to a shard of its
// own (a short, uncontended mutex hold), so HTTP threads on different cores do not pass one
// lock and one map back and forth on every request; Render() adds the shards up.
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
  static constexpr size_t kShards = 8;

  void RecordRequest(std::string_view route, unsigned status, int64_t latency_us);
  // Appends the request metrics in Prometheus text format.
  void Render(std::string* out) const;

 private:
  struct Histogram {
    std::array<uint64_t, kLatencyBucketsSeconds.size()> buckets{};
    uint64_t count = 0;
    double sum_seconds = 0;
    void Add(const Histogram& other);
  };
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
  using ByRoute = std::map<std::pair<std::string, unsigned>, Histogram, KeyLess>;
  struct alignas(64) Shard {
    mutable std::mutex mu;
    ByRoute requests;  // keyed by (route template, HTTP status); count is the histogram's
  };
  std::array<Shard, kShards> shards_;
};

}  // namespace oc::api
