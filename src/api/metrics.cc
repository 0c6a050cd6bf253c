#include "api/metrics.h"

#include <fmt/format.h>

namespace oc::api {

void Metrics::RecordRequest(std::string_view route, unsigned status, int64_t latency_us) {
  double seconds = static_cast<double>(latency_us) / 1e6;
  std::lock_guard lock(mu_);
  auto it = requests_.find(std::make_pair(route, status));
  if (it == requests_.end()) {
    it = requests_.emplace(std::make_pair(std::string(route), status), Histogram{}).first;
  }
  Histogram& h = it->second;
  for (size_t i = 0; i < kLatencyBucketsSeconds.size(); ++i) {
    if (seconds <= kLatencyBucketsSeconds[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum_seconds += seconds;
}

void Metrics::Render(std::string* out) const {
  std::lock_guard lock(mu_);
  out->append("# HELP ordercenter_http_requests_total HTTP requests by route and status.\n");
  out->append("# TYPE ordercenter_http_requests_total counter\n");
  for (const auto& [key, h] : requests_) {
    out->append(fmt::format("ordercenter_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                            key.first, key.second, h.count));
  }
  out->append(
      "# HELP ordercenter_http_request_duration_seconds Request latency by route and status.\n");
  out->append("# TYPE ordercenter_http_request_duration_seconds histogram\n");
  for (const auto& [key, h] : requests_) {
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
