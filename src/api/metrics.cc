#include "api/metrics.h"

#include <fmt/format.h>

#include <atomic>

namespace oc::api {

namespace {
// The shard this thread records into: threads are spread over the shards as they first record.
size_t ThisThreadsShard() {
  static std::atomic<size_t> next{0};
  thread_local const size_t shard = next.fetch_add(1, std::memory_order_relaxed);
  return shard % Metrics::kShards;
}
}  // namespace

void Metrics::Histogram::Add(const Histogram& other) {
  for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
  count += other.count;
  sum_seconds += other.sum_seconds;
}

void Metrics::RecordRequest(std::string_view route, unsigned status, int64_t latency_us) {
  double seconds = static_cast<double>(latency_us) / 1e6;
  Shard& shard = shards_[ThisThreadsShard()];
  std::lock_guard lock(shard.mu);
  auto it = shard.requests.find(std::make_pair(route, status));
  if (it == shard.requests.end()) {
    it = shard.requests.emplace(std::make_pair(std::string(route), status), Histogram{}).first;
  }
  Histogram& h = it->second;
  for (size_t i = 0; i < kLatencyBucketsSeconds.size(); ++i) {
    if (seconds <= kLatencyBucketsSeconds[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum_seconds += seconds;
}

void Metrics::Render(std::string* out) const {
  ByRoute requests;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    for (const auto& [key, h] : shard.requests) requests[key].Add(h);
  }
  out->append("# HELP ordercenter_http_requests_total HTTP requests by route and status.\n");
  out->append("# TYPE ordercenter_http_requests_total counter\n");
  for (const auto& [key, h] : requests) {
    out->append(fmt::format("ordercenter_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                            key.first, key.second, h.count));
  }
  out->append(
      "# HELP ordercenter_http_request_duration_seconds Request latency by route and status.\n");
  out->append("# TYPE ordercenter_http_request_duration_seconds histogram\n");
  for (const auto& [key, h] : requests) {
    const auto& [route, status] = key;
    for (size_t i = 0; i < kLatencyBucketsSeconds.size(); ++i) {
      out->append(
          fmt::format("ordercenter_http_request_duration_seconds_bucket{{route=\"{}\","
                      "status=\"{}\",le=\"{}\"}} {}\n",
                      route, status, kLatencyBucketsSeconds[i], h.buckets[i]));
    }
    out->append(
        fmt::format("ordercenter_http_request_duration_seconds_bucket{{route=\"{}\","
                    "status=\"{}\",le=\"+Inf\"}} {}\n",
                    route, status, h.count));
    out->append(fmt::format(
        "ordercenter_http_request_duration_seconds_sum{{route=\"{}\",status=\"{}\"}} {}\n", route,
        status, h.sum_seconds));
    out->append(fmt::format(
        "ordercenter_http_request_duration_seconds_count{{route=\"{}\",status=\"{}\"}} {}\n", route,
        status, h.count));
  }
}

}  // namespace oc::api
