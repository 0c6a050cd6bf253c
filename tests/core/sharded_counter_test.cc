// ShardedCounter: adds from many threads, on any shards, all count.
#include "core/sharded_counter.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace oc {
namespace {

TEST(ShardedCounterTest, RacingAddsAndSubtractsSumExactly) {
  ShardedCounter c;
  constexpr int kThreads = 8;
  constexpr int kRounds = 100'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&c, t] {
      // Shards past kShards wrap; several threads share some shards.
      for (int i = 0; i < kRounds; ++i) {
        c.Add(static_cast<size_t>(t * 3), 2);
        c.Add(static_cast<size_t>(t * 3), -1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(c.Read(), int64_t{kThreads} * kRounds);
  c.Add(ShardedCounter::kShards + 1, -5);
  EXPECT_EQ(c.Read(), int64_t{kThreads} * kRounds - 5);
}

}  // namespace
}  // namespace oc
