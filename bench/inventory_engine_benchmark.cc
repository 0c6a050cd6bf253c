// Issue 3 benchmark (a): the inventory engine in-process. Counts *successful* reservations per
// second (stock is large enough never to sell out during the timed part) and checks
// conservation after every run: reserved == successes, and the invariant holds. A separate
// sell-out benchmark checks exactness: N units, many more attempts, exactly N successes.
// Run: build/bench/inventory_engine_benchmark (see BENCHMARKS.md for the side-by-side peers).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>
#include <vector>

#include "inventory/inventory.h"

namespace oc::inventory {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::cerr << "conservation violated: " << what << "\n";
    std::abort();  // a benchmark that oversells must not report a number
  }
}

void BM_ReserveOneHotSku(benchmark::State& state) {
  Inventory inv;
  Check(inv.SetLevel("AIR-PURIFIER-X1", kStockQuantityMax, 0).ok(), "set level");
  const std::vector<StockLine> order = {{"AIR-PURIFIER-X1", 1}};
  int64_t ok = 0;
  for (auto _ : state) {
    ok += inv.Reserve(order).ok() ? 1 : 0;
  }
  auto level = *inv.Get("AIR-PURIFIER-X1");
  Check(level.reserved == ok && level.holds_invariant(), "one hot SKU");
  state.counters["successful_per_s"] =
      benchmark::Counter(static_cast<double>(ok), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ReserveOneHotSku);

void BM_ReserveThreeLineOrder(benchmark::State& state) {
  Inventory inv;
  for (const char* sku : {"A", "B", "C"}) Check(inv.SetLevel(sku, kStockQuantityMax, 0).ok(), "set");
  const std::vector<StockLine> order = {{"A", 1}, {"B", 2}, {"C", 1}};
  int64_t ok = 0;
  for (auto _ : state) {
    ok += inv.Reserve(order).ok() ? 1 : 0;
  }
  Check(inv.Get("A")->reserved == ok && inv.Get("B")->reserved == 2 * ok, "three lines");
  state.counters["successful_per_s"] =
      benchmark::Counter(static_cast<double>(ok), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ReserveThreeLineOrder);

// 100 units, 10,000 buyers per iteration: exactly 100 succeed, every time.
void BM_SellOutExactness(benchmark::State& state) {
  const std::vector<StockLine> order = {{"HOT", 1}};
  for (auto _ : state) {
    Inventory inv;
    Check(inv.SetLevel("HOT", 100, 0).ok(), "set");
    int ok = 0;
    for (int buyer = 0; buyer < 10000; ++buyer) ok += inv.Reserve(order).ok() ? 1 : 0;
    Check(ok == 100 && inv.Get("HOT")->reserved == 100, "sell-out exactness");
  }
}
BENCHMARK(BM_SellOutExactness);

}  // namespace
}  // namespace oc::inventory

BENCHMARK_MAIN();
