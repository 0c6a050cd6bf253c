// Compensation for oversold orders: what is still short, and what an operator can do about it.
//
// An order accepted without stock ("accept_oversell") stays on the work list until restocks or
// cancellations cover it. Restocks cover the oldest oversold orders of a SKU first (first come,
// first served), so each order's remaining shortfall is a pure function of the orders and the
// SKU's current oversold count. For what remains, three remedies are suggested: restock (with
// the order's place in the SKU's queue), a substitute SKU of the same category that has the
// units available now, and a coupon for the customer's wait (10% of the missing units' value,
// at least 5.00, rounded up to a whole unit of currency). Pure and deterministic: thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/store.h"

namespace oc::orders {

inline constexpr int64_t kCouponPercent = 10;
inline constexpr int64_t kCouponMinimumMinor = 500;
inline constexpr size_t kSubstitutesMax = 3;

struct ShortLine {
  std::string sku;
  int64_t qty_short = 0;    // when the order was accepted
  int64_t still_short = 0;  // now, after restocks covered older orders first
};

struct Remedy {
  std::string kind;  // "restock", "substitute", "coupon"
  std::string sku;
  int64_t qty = 0;             // restock: units needed; substitute: units to send instead
  int64_t queue_position = 0;  // restock: 1 = next to be covered for this SKU
  std::string substitute_sku;  // substitute
  int64_t available = 0;       // substitute: available now
  int64_t amount = 0;          // coupon, minor units
  std::string currency;        // coupon
};

struct OversoldCase {
  store::OversoldRecord order;
  std::vector<ShortLine> lines;
  std::vector<Remedy> remedies;
};

// The still-open cases among `oversold` (oldest first, as Store::ListOversold returns them),
// given every SKU's current counters and category.
std::vector<OversoldCase> PlanCompensation(const std::vector<store::OversoldRecord>& oversold,
                                           const std::vector<store::StockRecord>& stock);

}  // namespace oc::orders
