#include "core/order_status.h"

namespace oc {
namespace {

struct Name {
  OrderStatus status;
  std::string_view name;
};

constexpr std::array<Name, 9> kNames = {{
    {OrderStatus::kPendingPayment, "pending_payment"},
    {OrderStatus::kPaid, "paid"},
    {OrderStatus::kPacked, "packed"},
    {OrderStatus::kShipped, "shipped"},
    {OrderStatus::kDelivered, "delivered"},
    {OrderStatus::kCompleted, "completed"},
    {OrderStatus::kCancelled, "cancelled"},
    {OrderStatus::kRefunding, "refunding"},
    {OrderStatus::kRefunded, "refunded"},
}};

bool IsBeforeShipping(OrderStatus s) {
  return s == OrderStatus::kPendingPayment || s == OrderStatus::kPaid ||
         s == OrderStatus::kPacked;
}

}  // namespace

std::string_view ToString(OrderStatus status) {
  for (const auto& n : kNames) {
    if (n.status == status) return n.name;
  }
  return "unknown";
}

std::optional<OrderStatus> ParseOrderStatus(std::string_view name) {
  for (const auto& n : kNames) {
    if (n.name == name) return n.status;
  }
  return std::nullopt;
}

bool IsTerminal(OrderStatus status) {
  return status == OrderStatus::kCompleted || status == OrderStatus::kCancelled ||
         status == OrderStatus::kRefunded;
}

bool CanTransition(OrderStatus from, OrderStatus to, std::optional<OrderStatus> refund_origin) {
  using S = OrderStatus;
  switch (from) {
    case S::kPendingPayment:
      return to == S::kPaid || to == S::kCancelled;
    case S::kPaid:
      return to == S::kPacked || to == S::kCancelled || to == S::kRefunding;
    case S::kPacked:
      return to == S::kShipped || to == S::kCancelled;
    case S::kShipped:
      return to == S::kDelivered || to == S::kRefunding;
    case S::kDelivered:
      return to == S::kCompleted || to == S::kRefunding;
    case S::kRefunding:
      return to == S::kRefunded || (refund_origin.has_value() && to == *refund_origin);
    case S::kCompleted:
    case S::kCancelled:
    case S::kRefunded:
      return false;
  }
  return false;
}

StockEffect StockEffectOf(OrderStatus from, OrderStatus to) {
  // Only packed -> shipped ships; refunding -> shipped is a rejected refund of an order whose
  // stock was already sold when it first shipped.
  if (to == OrderStatus::kShipped && from == OrderStatus::kPacked) {
    return StockEffect::kConvertToSold;
  }
  if (to == OrderStatus::kCancelled && IsBeforeShipping(from)) return StockEffect::kRelease;
  // A refund completes before shipping only when the refund started from `paid`; the caller
  // passes the origin as `from` for that case.
  if (to == OrderStatus::kRefunded && IsBeforeShipping(from)) return StockEffect::kRelease;
  return StockEffect::kNone;
}

}  // namespace oc
