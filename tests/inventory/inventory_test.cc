// The inventory engine: all-or-nothing reservation, the invariant, and the batch journal.
#include "inventory/inventory.h"

#include <gtest/gtest.h>

#include <random>

namespace oc::inventory {
namespace {

std::vector<StockLine> Lines(std::initializer_list<StockLine> l) { return l; }

TEST(InventoryTest, AvailableIsOnHandMinusCommittedMinusBufferNeverNegative) {
  Inventory inv;
  ASSERT_TRUE(inv.SetLevel("A", 100, 5).ok());
  EXPECT_EQ(inv.Get("A")->available(), 95);
  ASSERT_TRUE(inv.Reserve(Lines({{"A", 90}})).ok());
  EXPECT_EQ(inv.Get("A")->available(), 5);
  StockLevel odd{3, 5, 0, 0};  // a buffer larger than stock still reads as 0, never negative
  EXPECT_EQ(odd.available(), 0);
}

TEST(InventoryTest, ReserveTakesEveryLineOrNone) {
  Inventory inv;
  ASSERT_TRUE(inv.SetLevel("A", 10, 0).ok());
  ASSERT_TRUE(inv.SetLevel("B", 1, 0).ok());
  Status s = inv.Reserve(Lines({{"A", 5}, {"B", 2}}));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), "out_of_stock");
  EXPECT_NE(s.detail().find("B"), std::string::npos);
  EXPECT_EQ(s.detail().find("A ("), std::string::npos);  // only the short SKU is named
  EXPECT_EQ(inv.Get("A")->reserved, 0);                  // no partial hold on A
  EXPECT_EQ(inv.Get("B")->reserved, 0);
  ASSERT_TRUE(inv.Reserve(Lines({{"A", 5}, {"B", 1}})).ok());
  EXPECT_EQ(inv.Get("A")->reserved, 5);
  EXPECT_EQ(inv.Get("B")->reserved, 1);
}

TEST(InventoryTest, LinesNamingOneSkuAreSummedBeforeChecking) {
  Inventory inv;
  ASSERT_TRUE(inv.SetLevel("A", 3, 0).ok());
  EXPECT_FALSE(inv.Reserve(Lines({{"A", 2}, {"A", 2}})).ok());  // 4 > 3 though each line fits
  EXPECT_EQ(inv.Get("A")->reserved, 0);
  ASSERT_TRUE(inv.Reserve(Lines({{"A", 1}, {"A", 2}})).ok());
  EXPECT_EQ(inv.Get("A")->available(), 0);
}

TEST(InventoryTest, UnknownSkuHasNoStockAndBadQuantitiesAreRefused) {
  Inventory inv;
  Status s = inv.Reserve(Lines({{"NOPE", 1}}));
  EXPECT_EQ(s.code(), "out_of_stock");
  EXPECT_FALSE(inv.Get("NOPE").has_value());  // a refusal creates nothing
  ASSERT_TRUE(inv.SetLevel("A", 10, 0).ok());
  EXPECT_EQ(inv.Reserve(Lines({{"A", 0}})).kind(), ErrorKind::kUnprocessable);
  EXPECT_EQ(inv.Reserve(Lines({{"A", -1}})).kind(), ErrorKind::kUnprocessable);
  EXPECT_EQ(inv.SetLevel("A", -1, 0).kind(), ErrorKind::kUnprocessable);
  // A buffer above on_hand is the request's fault when nothing is committed: 422, not 409.
  Status buffer = inv.SetLevel("FRESH", 3, 5);
  EXPECT_EQ(buffer.kind(), ErrorKind::kUnprocessable) << buffer.ToString();
  EXPECT_NE(buffer.detail().find("safety_buffer (5) is larger than on_hand (3)"),
            std::string::npos);
  EXPECT_FALSE(inv.Get("FRESH").has_value());
}

TEST(InventoryTest, SafetyBufferIsNeverSold) {
  Inventory inv;
  ASSERT_TRUE(inv.SetLevel("A", 10, 3).ok());
  EXPECT_FALSE(inv.Reserve(Lines({{"A", 8}})).ok());
  EXPECT_TRUE(inv.Reserve(Lines({{"A", 7}})).ok());
}

TEST(InventoryTest, ReleaseAndConvertMoveReservedStock) {
  Inventory inv;
  ASSERT_TRUE(inv.SetLevel("A", 10, 0).ok());
  ASSERT_TRUE(inv.Reserve(Lines({{"A", 6}})).ok());
  ASSERT_TRUE(inv.ConvertToSold(Lines({{"A", 4}})).ok());
  ASSERT_TRUE(inv.Release(Lines({{"A", 2}})).ok());
  StockLevel l = *inv.Get("A");
  EXPECT_EQ(l.reserved, 0);
  EXPECT_EQ(l.sold, 4);
  EXPECT_EQ(l.available(), 6);
  // Releasing or selling what is not reserved is a bug in the caller, refused without change.
  EXPECT_EQ(inv.Release(Lines({{"A", 1}})).kind(), ErrorKind::kInternal);
  EXPECT_EQ(inv.ConvertToSold(Lines({{"A", 1}})).kind(), ErrorKind::kInternal);
  EXPECT_EQ(inv.Get("A")->sold, 4);
}

TEST(InventoryTest, LoweringStockBelowWhatIsCommittedIsRefused) {
  Inventory inv;
  ASSERT_TRUE(inv.SetLevel("A", 10, 0).ok());
  ASSERT_TRUE(inv.Reserve(Lines({{"A", 6}})).ok());
  ASSERT_TRUE(inv.ConvertToSold(Lines({{"A", 2}})).ok());
  Status s = inv.SetLevel("A", 5, 0);
  EXPECT_EQ(s.code(), "stock_committed");
  EXPECT_EQ(inv.SetLevel("A", 7, 2).code(), "stock_committed");
  EXPECT_EQ(inv.Get("A")->on_hand, 10);
  EXPECT_TRUE(inv.SetLevel("A", 6, 0).ok());     // exactly what is committed is fine
  EXPECT_TRUE(inv.SetLevel("A", 500, 10).ok());  // restock
}

TEST(InventoryTest, RollbackRestoresEveryTouchedSkuAndForgetsCreatedOnes) {
  Inventory inv;
  ASSERT_TRUE(inv.SetLevel("A", 10, 1).ok());
  ASSERT_TRUE(inv.Reserve(Lines({{"A", 2}})).ok());
  inv.BeginBatch();
  ASSERT_TRUE(inv.Reserve(Lines({{"A", 3}})).ok());
  ASSERT_TRUE(inv.ConvertToSold(Lines({{"A", 4}})).ok());
  ASSERT_TRUE(inv.SetLevel("NEW", 5, 0).ok());
  EXPECT_EQ(inv.TouchedInBatch(), (std::vector<std::string>{"A", "NEW"}));
  inv.RollbackBatch();
  StockLevel a = *inv.Get("A");
  EXPECT_EQ(a.on_hand, 10);
  EXPECT_EQ(a.safety_buffer, 1);
  EXPECT_EQ(a.reserved, 2);
  EXPECT_EQ(a.sold, 0);
  EXPECT_FALSE(inv.Get("NEW").has_value());
  EXPECT_TRUE(inv.TouchedInBatch().empty());
}

TEST(InventoryTest, EndBatchKeepsTheChanges) {
  Inventory inv;
  inv.BeginBatch();
  ASSERT_TRUE(inv.SetLevel("A", 10, 0).ok());
  ASSERT_TRUE(inv.Reserve(Lines({{"A", 3}})).ok());
  inv.EndBatch();
  inv.RollbackBatch();  // nothing recorded since EndBatch: nothing to undo
  EXPECT_EQ(inv.Get("A")->reserved, 3);
}

// Thousands of random operations on a few hot SKUs: the invariant holds after every one, and
// rolling back any batch returns exactly to the state before it.

TEST(InventoryTest, ConvertingAHoldExchangesItsStockInOneStep) {
  Inventory inv;
  ASSERT_TRUE(inv.SetLevel("A", 10, 0).ok());
  ASSERT_TRUE(inv.SetLevel("B", 10, 0).ok());
  ASSERT_TRUE(inv.Reserve(Lines({{"A", 3}})).ok());  // the hold
  ASSERT_TRUE(inv.Reserve(Lines({{"A", 7}})).ok());  // someone else takes the rest
  EXPECT_EQ(inv.Get("A")->available(), 0);
  // The order wants what the hold has: the held units are usable though nothing is available.
  auto hold = Lines({{"A", 3}});
  auto r = inv.Reserve(Lines({{"A", 3}, {"B", 2}}), {hold, false});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(inv.Get("A")->reserved, 10);  // the hold's 3 became the order's 3
  EXPECT_EQ(inv.Get("B")->reserved, 2);
  // Wanting more than the hold plus what is free is refused, and the hold stays held.
  auto refused = inv.Reserve(Lines({{"A", 4}}), {hold, false});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), "out_of_stock");
  EXPECT_EQ(inv.Get("A")->reserved, 10);
  // Fewer units than held: the difference goes back.
  ASSERT_TRUE(inv.Reserve(Lines({{"A", 1}}), {hold, false}).ok());
  EXPECT_EQ(inv.Get("A")->reserved, 8);
  EXPECT_EQ(inv.Get("A")->available(), 2);
}

TEST(InventoryTest, AcceptedOversellRecordsTheShortfallAndOnlyThatWidensTheInvariant) {
  Inventory inv;
  ASSERT_TRUE(inv.SetLevel("A", 5, 1).ok());
  auto r = inv.Reserve(Lines({{"A", 7}, {"NEW", 2}}), {{}, true});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].sku, "A");
  EXPECT_EQ((*r)[0].qty, 3);      // 4 could be promised (5 - buffer 1): 3 short
  EXPECT_EQ((*r)[1].sku, "NEW");  // a SKU we never stocked is created, all of it short
  EXPECT_EQ((*r)[1].qty, 2);
  StockLevel a = *inv.Get("A");
  EXPECT_EQ(a.reserved, 7);
  EXPECT_EQ(a.oversold, 3);
  EXPECT_EQ(a.available(), 0);
  EXPECT_TRUE(a.holds_invariant());
  // Without the flag nobody else gets any of it.
  EXPECT_EQ(inv.Reserve(Lines({{"A", 1}})).code(), "out_of_stock");
  // A restock covers the shortfall first; only the surplus becomes available.
  ASSERT_TRUE(inv.SetLevel("A", 7, 1).ok());
  EXPECT_EQ(inv.Get("A")->oversold, 1);
  EXPECT_EQ(inv.Get("A")->available(), 0);
  ASSERT_TRUE(inv.SetLevel("A", 10, 1).ok());
  EXPECT_EQ(inv.Get("A")->oversold, 0);
  EXPECT_EQ(inv.Get("A")->available(), 2);
  // Once covered, lowering stock below what is committed is refused as usual.
  EXPECT_EQ(inv.SetLevel("A", 7, 1).code(), "stock_committed");
}

TEST(InventoryTest, ReleasingAnOversoldOrderShrinksTheShortfall) {
  Inventory inv;
  ASSERT_TRUE(inv.SetLevel("A", 2, 0).ok());
  ASSERT_TRUE(inv.Reserve(Lines({{"A", 2}})).ok());
  ASSERT_TRUE(inv.Reserve(Lines({{"A", 3}}), {{}, true}).ok());
  EXPECT_EQ(inv.Get("A")->oversold, 3);
  ASSERT_TRUE(inv.Release(Lines({{"A", 2}})).ok());  // the first order is cancelled
  EXPECT_EQ(inv.Get("A")->oversold, 1);
  EXPECT_EQ(inv.Get("A")->available(), 0);
  ASSERT_TRUE(inv.Release(Lines({{"A", 3}})).ok());
  EXPECT_EQ(inv.Get("A")->oversold, 0);
  EXPECT_EQ(inv.Get("A")->available(), 2);
}

TEST(InventoryTest, RandomOperationsNeverBreakTheInvariantAndRollbackIsExact) {
  std::mt19937_64 rng(20261125);
  const std::vector<std::string> skus = {"A", "B", "C"};
  Inventory inv;
  for (const auto& s : skus) ASSERT_TRUE(inv.SetLevel(s, 50, 2).ok());
  std::vector<std::vector<StockLine>> held;  // reservations we may release or sell
  auto snapshot = [&] {
    std::map<std::string, std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>> out;
    for (const auto& s : skus) {
      auto l = *inv.Get(s);
      out[s] = {l.on_hand, l.safety_buffer, l.reserved, l.sold, l.oversold};
    }
    return out;
  };
  // What the reservations we hold add up to, per SKU: must equal `reserved` at every step.
  auto held_units = [&](const std::string& sku) {
    int64_t n = 0;
    for (const auto& order : held) {
      for (const auto& l : order) n += l.sku == sku ? l.qty : 0;
    }
    return n;
  };
  for (int batch = 0; batch < 300; ++batch) {
    auto before = snapshot();
    auto held_before = held;
    inv.BeginBatch();
    for (int op = 0; op < 20; ++op) {
      int kind = static_cast<int>(rng() % 6);
      auto random_order = [&] {
        std::vector<StockLine> order;
        for (int l = 0; l < 1 + static_cast<int>(rng() % 3); ++l) {
          order.push_back({skus[rng() % skus.size()], 1 + static_cast<int64_t>(rng() % 5)});
        }
        return order;
      };
      auto oversold_before = snapshot();
      if (kind <= 1) {
        auto order = random_order();
        if (inv.Reserve(order).ok()) held.push_back(order);
      } else if (kind == 4 && !held.empty()) {
        // A hold converts into an order with other lines.
        size_t i = rng() % held.size();
        auto order = random_order();
        if (inv.Reserve(order, {held[i], false}).ok()) held[i] = order;
      } else if (kind == 5) {
        // Rarely, an order accepted beyond stock.
        if (rng() % 8 == 0) {
          auto order = random_order();
          ASSERT_TRUE(inv.Reserve(order, {{}, true}).ok());
          held.push_back(order);
        }
      } else if (!held.empty() && kind >= 2 && kind <= 3) {
        size_t i = rng() % held.size();
        Status s = kind == 2 ? inv.Release(held[i]) : inv.ConvertToSold(held[i]);
        ASSERT_TRUE(s.ok()) << s.ToString();
        held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
      }
      if (rng() % 50 == 0) (void)inv.SetLevel(skus[rng() % skus.size()], rng() % 200, rng() % 5);
      for (const auto& s : skus) {
        StockLevel l = *inv.Get(s);
        ASSERT_TRUE(l.holds_invariant()) << s;
        ASSERT_LE(l.oversold, l.shortfall()) << s;
        ASSERT_EQ(l.reserved, held_units(s)) << s;
        if (kind != 5) {  // nothing but an accepted oversell may grow it
          ASSERT_LE(l.oversold, std::get<4>(oversold_before[s])) << s;
        }
      }
    }
    if (rng() % 3 == 0) {
      inv.RollbackBatch();
      held = held_before;
      ASSERT_EQ(snapshot(), before) << "batch " << batch;
    } else {
      inv.EndBatch();
    }
  }
}

}  // namespace
}  // namespace oc::inventory
