// The unified status machine, held to API.md's table move by move.
//
// The expected table below is transcribed from API.md ("Unified statuses and allowed moves"), not
// derived from the implementation, and every one of the 9 x 9 pairs is checked against it, with
// every possible refund origin.
#include "core/order_status.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace oc {
namespace {

using S = OrderStatus;

// API.md, verbatim:
//   pending_payment -> paid | cancelled
//   paid            -> packed | cancelled | refunding
//   packed          -> shipped | cancelled
//   shipped         -> delivered | refunding
//   delivered       -> completed | refunding
//   refunding       -> refunded | (back to the status it came from, on rejection)
//   completed, cancelled, refunded: terminal
const std::set<std::pair<S, S>>& ForwardMoves() {
  static const std::set<std::pair<S, S>> moves = {
      {S::kPendingPayment, S::kPaid}, {S::kPendingPayment, S::kCancelled},
      {S::kPaid, S::kPacked},         {S::kPaid, S::kCancelled},
      {S::kPaid, S::kRefunding},      {S::kPacked, S::kShipped},
      {S::kPacked, S::kCancelled},    {S::kShipped, S::kDelivered},
      {S::kShipped, S::kRefunding},   {S::kDelivered, S::kCompleted},
      {S::kDelivered, S::kRefunding}, {S::kRefunding, S::kRefunded},
  };
  return moves;
}

// The statuses from which an order can enter `refunding`, i.e. the possible refund origins.
std::vector<S> RefundOrigins() {
  std::vector<S> out;
  for (const auto& [from, to] : ForwardMoves()) {
    if (to == S::kRefunding) out.push_back(from);
  }
  return out;
}

bool Expected(S from, S to, std::optional<S> origin) {
  if (ForwardMoves().count({from, to}) > 0) return true;
  return from == S::kRefunding && origin.has_value() && to == *origin;
}

std::string Name(S s) { return std::string(ToString(s)); }

TEST(OrderStatusTest, RefundOriginsArePaidShippedDelivered) {
  EXPECT_EQ(RefundOrigins(), (std::vector<S>{S::kPaid, S::kShipped, S::kDelivered}));
}

TEST(OrderStatusTest, FullMatrixWithoutRefundOrigin) {
  int allowed = 0;
  for (S from : kAllOrderStatuses) {
    for (S to : kAllOrderStatuses) {
      bool want = Expected(from, to, std::nullopt);
      EXPECT_EQ(CanTransition(from, to), want) << Name(from) << " -> " << Name(to);
      EXPECT_EQ(CanTransition(from, to, std::nullopt), want) << Name(from) << " -> " << Name(to);
      allowed += want ? 1 : 0;
    }
  }
  EXPECT_EQ(allowed, 12);  // the table in API.md has exactly 12 forward moves
}

TEST(OrderStatusTest, FullMatrixWithEveryRealisticRefundOrigin) {
  for (S origin : RefundOrigins()) {
    for (S from : kAllOrderStatuses) {
      for (S to : kAllOrderStatuses) {
        EXPECT_EQ(CanTransition(from, to, origin), Expected(from, to, origin))
            << Name(from) << " -> " << Name(to) << " (refund origin " << Name(origin) << ")";
      }
    }
  }
}

TEST(OrderStatusTest, RefundingGoesBackToItsOriginOnly) {
  for (S origin : RefundOrigins()) {
    EXPECT_TRUE(CanTransition(S::kRefunding, origin, origin)) << Name(origin);
    EXPECT_TRUE(CanTransition(S::kRefunding, S::kRefunded, origin)) << Name(origin);
    for (S other : RefundOrigins()) {
      if (other == origin) continue;
      EXPECT_FALSE(CanTransition(S::kRefunding, other, origin))
          << "refunding from " << Name(origin) << " must not return to " << Name(other);
    }
  }
  // Without a known origin the rejection path is closed.
  for (S s : RefundOrigins()) EXPECT_FALSE(CanTransition(S::kRefunding, s));
}

TEST(OrderStatusTest, RefundOriginIsIgnoredUnlessRefunding) {
  // A refund origin passed for a non-refunding order must not open any extra move.
  for (S origin : kAllOrderStatuses) {
    for (S from : kAllOrderStatuses) {
      if (from == S::kRefunding) continue;
      for (S to : kAllOrderStatuses) {
        EXPECT_EQ(CanTransition(from, to, origin), ForwardMoves().count({from, to}) > 0)
            << Name(from) << " -> " << Name(to) << " (origin " << Name(origin) << ")";
      }
    }
  }
}

TEST(OrderStatusTest, TerminalStatesRefuseEverything) {
  const std::vector<S> terminal = {S::kCompleted, S::kCancelled, S::kRefunded};
  for (S from : terminal) {
    EXPECT_TRUE(IsTerminal(from)) << Name(from);
    for (S to : kAllOrderStatuses) {
      EXPECT_FALSE(CanTransition(from, to)) << Name(from) << " -> " << Name(to);
      for (S origin : kAllOrderStatuses) {
        EXPECT_FALSE(CanTransition(from, to, origin)) << Name(from) << " -> " << Name(to);
      }
    }
  }
  for (S s : kAllOrderStatuses) {
    bool want = s == S::kCompleted || s == S::kCancelled || s == S::kRefunded;
    EXPECT_EQ(IsTerminal(s), want) << Name(s);
  }
}

TEST(OrderStatusTest, NoStatusMovesToItself) {
  for (S s : kAllOrderStatuses) {
    EXPECT_FALSE(CanTransition(s, s)) << Name(s);
    if (s != S::kRefunding) {
      EXPECT_FALSE(CanTransition(s, s, S::kPaid)) << Name(s);
    }
  }
}

TEST(OrderStatusTest, NamesAreTheApiNames) {
  const std::vector<std::pair<S, std::string>> names = {
      {S::kPendingPayment, "pending_payment"}, {S::kPaid, "paid"},
      {S::kPacked, "packed"},                  {S::kShipped, "shipped"},
      {S::kDelivered, "delivered"},            {S::kCompleted, "completed"},
      {S::kCancelled, "cancelled"},            {S::kRefunding, "refunding"},
      {S::kRefunded, "refunded"},
  };
  ASSERT_EQ(names.size(), kAllOrderStatuses.size());
  for (const auto& [status, name] : names) {
    EXPECT_EQ(ToString(status), name);
    EXPECT_EQ(ParseOrderStatus(name), status) << name;
  }
}

TEST(OrderStatusTest, ParseToStringRoundTripAndDistinctNames) {
  std::set<std::string> seen;
  for (S s : kAllOrderStatuses) {
    auto parsed = ParseOrderStatus(ToString(s));
    ASSERT_TRUE(parsed.has_value()) << Name(s);
    EXPECT_EQ(*parsed, s);
    EXPECT_TRUE(seen.insert(Name(s)).second) << "duplicate name " << Name(s);
  }
  EXPECT_EQ(seen.size(), 9u);
}

TEST(OrderStatusTest, ParseRefusesNearMisses) {
  for (const char* bad : {"", "Paid", "PAID", " paid", "paid ", "pending-payment", "pending",
                          "canceled", "refund", "unknown", "shipped\n"}) {
    EXPECT_FALSE(ParseOrderStatus(bad).has_value()) << "'" << bad << "'";
  }
  EXPECT_FALSE(ParseOrderStatus(std::string_view("paid\0", 5)).has_value());
}

// ---- Stock effects -------------------------------------------------------------------------

// API.md: "Stock: reserved at creation; cancelled/refunded before shipping release it; shipped
// turns the reservation into a sale."
StockEffect ExpectedEffect(S from, S to) {
  auto before_shipping = [](S s) {
    return s == S::kPendingPayment || s == S::kPaid || s == S::kPacked;
  };
  if (to == S::kShipped && from == S::kPacked) return StockEffect::kConvertToSold;
  if (to == S::kCancelled && before_shipping(from)) return StockEffect::kRelease;
  return StockEffect::kNone;
}

TEST(StockEffectTest, EveryLegalForwardMove) {
  for (const auto& [from, to] : ForwardMoves()) {
    if (from == S::kRefunding) continue;  // covered with its origin below
    EXPECT_EQ(StockEffectOf(from, to), ExpectedEffect(from, to)) << Name(from) << " -> "
                                                                 << Name(to);
  }
}

TEST(StockEffectTest, ShippingConvertsAndCancellingBeforeShippingReleases) {
  EXPECT_EQ(StockEffectOf(S::kPacked, S::kShipped), StockEffect::kConvertToSold);
  EXPECT_EQ(StockEffectOf(S::kPendingPayment, S::kCancelled), StockEffect::kRelease);
  EXPECT_EQ(StockEffectOf(S::kPaid, S::kCancelled), StockEffect::kRelease);
  EXPECT_EQ(StockEffectOf(S::kPacked, S::kCancelled), StockEffect::kRelease);
  EXPECT_EQ(StockEffectOf(S::kPendingPayment, S::kPaid), StockEffect::kNone);
  EXPECT_EQ(StockEffectOf(S::kPaid, S::kPacked), StockEffect::kNone);
  EXPECT_EQ(StockEffectOf(S::kShipped, S::kDelivered), StockEffect::kNone);
  EXPECT_EQ(StockEffectOf(S::kDelivered, S::kCompleted), StockEffect::kNone);
  EXPECT_EQ(StockEffectOf(S::kPaid, S::kRefunding), StockEffect::kNone);
}

TEST(StockEffectTest, RefundedReleasesOnlyWhenTheRefundStartedBeforeShipping) {
  // Convention (order_status.cc): for the refunding -> refunded step the caller passes the refund
  // origin as `from`.
  EXPECT_EQ(StockEffectOf(S::kPaid, S::kRefunded), StockEffect::kRelease);
  EXPECT_EQ(StockEffectOf(S::kShipped, S::kRefunded), StockEffect::kNone);
  EXPECT_EQ(StockEffectOf(S::kDelivered, S::kRefunded), StockEffect::kNone);
}

TEST(StockEffectTest, RejectedRefundReturningToShippedDoesNotSellTwice) {
  // shipped -> refunding -> shipped (refund rejected): the stock was already turned into a sale
  // when the order first shipped; going back must not convert it again.
  ASSERT_TRUE(CanTransition(S::kRefunding, S::kShipped, S::kShipped));
  EXPECT_EQ(StockEffectOf(S::kRefunding, S::kShipped), StockEffect::kNone);
  EXPECT_EQ(StockEffectOf(S::kRefunding, S::kPaid), StockEffect::kNone);
  EXPECT_EQ(StockEffectOf(S::kRefunding, S::kDelivered), StockEffect::kNone);
}

TEST(StockEffectTest, NoEffectAfterShipping) {
  for (S from : {S::kShipped, S::kDelivered, S::kCompleted, S::kRefunded, S::kCancelled}) {
    for (S to : {S::kCancelled, S::kRefunded}) {
      EXPECT_EQ(StockEffectOf(from, to), StockEffect::kNone) << Name(from) << " -> " << Name(to);
    }
  }
}

}  // namespace
}  // namespace oc
