// Inventory: per-SKU stock counters and the all-or-nothing reservation of an order's lines.
//
// The invariant it exists for: for every SKU, reserved + sold <= on_hand - safety_buffer, at
// every instant — widened only by `oversold`, the units an order was explicitly accepted for
// without stock (a channel order already paid on the platform), which nothing else can grow.
// Reserve() takes all of an order's lines or none (lines naming the same SKU are summed first),
// so a refused order leaves no partial hold; it can also release a checkout hold in the same
// step, so a hold turns into its order without a window where the stock is free. Release() and
// ConvertToSold() undo or settle a reservation. Designed for the single writer (DESIGN.md): one
// thread mutates it with no locks, so ten thousand buyers of one hot SKU serialise on nothing but
// that thread. A batch journal lets the writer undo every change of a batch whose transaction
// rolled back, so memory never runs ahead of the database. Not thread-safe: the owner serialises
// access.
#pragma once

#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"

namespace oc::inventory {

inline constexpr int64_t kStockQuantityMax = int64_t{1} << 40;  // far beyond any warehouse

struct StockLevel {
  int64_t on_hand = 0;
  int64_t safety_buffer = 0;
  int64_t reserved = 0;
  int64_t sold = 0;
  // Units promised beyond stock by orders accepted as oversold and not yet covered by a restock
  // or a cancellation. Shrinks by itself as the shortfall does; only an accepted oversell grows it.
  int64_t oversold = 0;
  // on_hand - reserved - sold - safety_buffer, never negative (API.md).
  int64_t available() const;
  // How far reserved + sold exceed what may be promised (0 when they don't).
  int64_t shortfall() const;
  bool holds_invariant() const {
    return oversold >= 0 && reserved >= 0 && sold >= 0 &&
           reserved + sold <= on_hand - safety_buffer + oversold;
  }
};

struct StockLine {
  std::string sku;
  int64_t qty = 0;
};

class Inventory {
 public:
  // Sets a SKU's on_hand and safety buffer (creating it). Refused (409 stock_committed) when
  // on_hand - safety_buffer would fall below what is already reserved or sold, and (422
  // invalid_request) when the buffer is larger than on_hand with nothing committed.
  Status SetLevel(std::string_view sku, int64_t on_hand, int64_t safety_buffer);

  std::optional<StockLevel> Get(std::string_view sku) const;

  // Puts back a SKU exactly as it was persisted (at start-up; no checks, no journal).
  void Restore(const std::string& sku, const StockLevel& level) { levels_[sku] = level; }

  // Reserves every line or none. 409 out_of_stock naming each SKU that is short (an unknown SKU
  // has no stock). Quantities must be positive.
  Status Reserve(std::span<const StockLine> lines);

  struct ReserveOptions {
    // Reserved stock given back in the same step (a checkout hold converting into its order):
    // its units count as available to `lines`, and on a refusal it stays held.
    std::span<const StockLine> releasing;
    // Accept lines that are short instead of refusing: the shortfall is recorded as oversold.
    bool accept_oversell = false;
  };
  // Reserve() with options. Returns the shortfall per SKU that was accepted as oversold (empty
  // unless accept_oversell and something was short).
  Result<std::vector<StockLine>> Reserve(std::span<const StockLine> lines,
                                         const ReserveOptions& options);
  // Gives reserved stock back (cancel or refund before shipping).
  Status Release(std::span<const StockLine> lines);
  // Turns reserved stock into sold stock (shipping).
  Status ConvertToSold(std::span<const StockLine> lines);

  // The batch journal. Between BeginBatch() and EndBatch() every change is recorded;
  // RollbackBatch() restores each touched SKU exactly as it was at BeginBatch().
  void BeginBatch();
  void EndBatch();
  void RollbackBatch();
  // SKUs changed since BeginBatch(), sorted, for persisting in the batch's transaction.
  std::vector<std::string> TouchedInBatch() const;

  size_t size() const { return levels_.size(); }
  // Grows with every change; the writer compares it around a command to see whether the
  // command changed stock (then a failure after it must roll the whole batch back).
  int64_t mutations() const { return mutations_; }

 private:
  // Quantities per SKU, sorted by SKU, viewing the lines' own strings. Most orders and holds
  // have a line or two: those fit inline, without a heap allocation.
  using SkuTotals = boost::container::small_vector<std::pair<std::string_view, int64_t>, 4>;
  // Sums lines per SKU, refusing non-positive or absurd quantities.
  static Result<SkuTotals> Aggregate(std::span<const StockLine> lines);
  StockLevel& Touch(std::string_view sku);

  // Looks SKUs up by string_view (no key string made per lookup).
  struct SkuHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, StockLevel, SkuHash, std::equal_to<>> levels_;
  bool in_batch_ = false;
  int64_t mutations_ = 0;
  // The level before the batch's first change, or nullopt for a SKU the batch created.
  std::map<std::string, std::optional<StockLevel>, std::less<>> journal_;
};

}  // namespace oc::inventory
