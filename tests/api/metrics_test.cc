// Metrics: counts recorded from many threads (each on its own shard) add up in one rendering.
#include "api/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace oc::api {
namespace {

TEST(MetricsTest, RequestsFromManyThreadsAddUpPerRouteAndStatus) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {  // more threads than shards: some share one
    threads.emplace_back([&m] {
      for (int i = 0; i < 1000; ++i) {
        m.RecordRequest("/v1/reservations", 201, 300);  // 0.3 ms: inside every bucket
        if (i % 10 == 0) m.RecordRequest("/v1/reservations", 409, 20'000);  // 20 ms
      }
    });
  }
  for (auto& th : threads) th.join();
  std::string out;
  m.Render(&out);
  auto has = [&](const std::string& line) {
    EXPECT_NE(out.find(line + "\n"), std::string::npos) << line << " not in:\n" << out;
  };
  has(R"(ordercenter_http_requests_total{route="/v1/reservations",status="201"} 12000)");
  has(R"(ordercenter_http_requests_total{route="/v1/reservations",status="409"} 1200)");
  has(R"(ordercenter_http_request_duration_seconds_bucket{route="/v1/reservations",status="201",le="0.0005"} 12000)");
  has(R"(ordercenter_http_request_duration_seconds_bucket{route="/v1/reservations",status="409",le="0.01"} 0)");
  has(R"(ordercenter_http_request_duration_seconds_bucket{route="/v1/reservations",status="409",le="0.025"} 1200)");
  has(R"(ordercenter_http_request_duration_seconds_count{route="/v1/reservations",status="409"} 1200)");
}

}  // namespace
}  // namespace oc::api
