// ShardedCounter: a count that several threads change on every request and one thread reads
// now and then (the HTTP server's requests in flight, read by the group commit).
//
// Each changing thread adds to a shard of its own, on its own cache line, so two cores counting
// do not pass one line back and forth twice per request. Read() sums the shards: exact when
// nothing changes meanwhile, otherwise a value within the changes made during the call, which is
// all a heuristic needs. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace oc {

class ShardedCounter {
 public:
  static constexpr size_t kShards = 16;

  void Add(size_t shard, int64_t delta) {
    shards_[shard % kShards].value.fetch_add(delta, std::memory_order_relaxed);
  }
  int64_t Read() const {
    int64_t sum = 0;
    for (const Shard& s : shards_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  struct alignas(64) Shard {
    std::atomic<int64_t> value{0};
  };
  std::array<Shard, kShards> shards_;
};

}  // namespace oc
