// Compensation planning for oversold orders: first come first served, and sensible remedies.
#include "orders/compensation.h"

#include <gtest/gtest.h>

namespace oc::orders {
namespace {

store::OversoldRecord Case(std::string order_id, std::vector<store::OversoldLine> lines) {
  store::OversoldRecord r;
  r.order_id = std::move(order_id);
  r.currency = "CNY";
  r.lines = std::move(lines);
  r.status = OrderStatus::kPaid;
  return r;
}

store::StockRecord Stock(std::string sku, int64_t on_hand, int64_t reserved, int64_t oversold,
                         std::string category) {
  return store::StockRecord{std::move(sku), on_hand, 0, reserved, 0, oversold, std::move(category)};
}

const Remedy* Find(const OversoldCase& c, std::string_view kind) {
  for (const auto& r : c.remedies) {
    if (r.kind == kind) return &r;
  }
  return nullptr;
}

TEST(CompensationTest, RestocksCoverTheOldestOrdersFirst) {
  // Two orders accepted 3 and 2 short of X; a restock since covered 4 of the 5 units.
  std::vector<store::OversoldRecord> oversold = {Case("ord_old", {{"X", 3, 10000}}),
                                                 Case("ord_new", {{"X", 2, 10000}})};
  std::vector<store::StockRecord> stock = {Stock("X", 10, 11, 1, "")};
  auto cases = PlanCompensation(oversold, stock);
  ASSERT_EQ(cases.size(), 1u);  // the old order is covered and leaves the list
  EXPECT_EQ(cases[0].order.order_id, "ord_new");
  EXPECT_EQ(cases[0].lines[0].qty_short, 2);
  EXPECT_EQ(cases[0].lines[0].still_short, 1);
  const Remedy* restock = Find(cases[0], "restock");
  ASSERT_NE(restock, nullptr);
  EXPECT_EQ(restock->qty, 1);
  EXPECT_EQ(restock->queue_position, 1);
}

TEST(CompensationTest, NothingCoveredKeepsEveryOrderInQueueOrder) {
  std::vector<store::OversoldRecord> oversold = {Case("ord_1", {{"X", 1, 5000}}),
                                                 Case("ord_2", {{"X", 2, 5000}})};
  auto cases = PlanCompensation(oversold, {Stock("X", 0, 3, 3, "")});
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(Find(cases[0], "restock")->queue_position, 1);
  EXPECT_EQ(Find(cases[1], "restock")->queue_position, 2);
  EXPECT_EQ(Find(cases[0], "substitute"), nullptr);  // no category: no substitutes
}

TEST(CompensationTest, SubstitutesComeFromTheSameCategoryWithEnoughAvailable) {
  std::vector<store::OversoldRecord> oversold = {Case("ord_1", {{"X", 2, 129900}})};
  std::vector<store::StockRecord> stock = {
      Stock("X", 0, 2, 2, "air"), Stock("Y-ONE-LEFT", 1, 0, 0, "air"),
      Stock("Z-PLENTY", 50, 0, 0, "air"), Stock("W-SOME", 5, 0, 0, "air"),
      Stock("K-KITCHEN", 99, 0, 0, "kitchen")};
  auto cases = PlanCompensation(oversold, stock);
  ASSERT_EQ(cases.size(), 1u);
  std::vector<std::string> subs;
  for (const auto& r : cases[0].remedies) {
    if (r.kind == "substitute") subs.push_back(r.substitute_sku);
  }
  // Most available first; one unit is not enough for two; other categories never.
  EXPECT_EQ(subs, (std::vector<std::string>{"Z-PLENTY", "W-SOME"}));
}

TEST(CompensationTest, CouponIsTenPercentOfWhatIsMissingAtLeastFiveRoundedUp) {
  auto big = PlanCompensation({Case("ord_1", {{"X", 2, 129950}})}, {Stock("X", 0, 2, 2, "")});
  ASSERT_EQ(big.size(), 1u);
  const Remedy* coupon = Find(big[0], "coupon");
  ASSERT_NE(coupon, nullptr);
  EXPECT_EQ(coupon->amount, 26000);  // 10% of 2 x 1299.50 = 259.90, rounded up to 260.00
  EXPECT_EQ(coupon->currency, "CNY");
  auto small = PlanCompensation({Case("ord_1", {{"X", 1, 990}})}, {Stock("X", 0, 1, 1, "")});
  EXPECT_EQ(Find(small[0], "coupon")->amount, 500);  // the floor
}

TEST(CompensationTest, FullyCoveredOrdersLeaveTheList) {
  auto none = PlanCompensation({Case("ord_1", {{"X", 2, 100}})}, {Stock("X", 10, 2, 0, "")});
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace oc::orders
