// The unified order status machine: the one place that decides which moves are legal.
//
// Every channel's status codes map onto these statuses (channels/), and every transition in the
// system is checked here, so the warehouse, the platforms and the center can never disagree on
// what "shipped" means. `refunding` remembers the status it came from; a rejected refund returns
// there and nowhere else. Pure functions, no state: safe from any thread.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace oc {

enum class OrderStatus {
  kPendingPayment,
  kPaid,
  kPacked,
  kShipped,
  kDelivered,
  kCompleted,
  kCancelled,
  kRefunding,
  kRefunded,
};

inline constexpr std::array<OrderStatus, 9> kAllOrderStatuses = {
    OrderStatus::kPendingPayment, OrderStatus::kPaid,      OrderStatus::kPacked,
    OrderStatus::kShipped,        OrderStatus::kDelivered, OrderStatus::kCompleted,
    OrderStatus::kCancelled,      OrderStatus::kRefunding, OrderStatus::kRefunded,
};

std::string_view ToString(OrderStatus status);
std::optional<OrderStatus> ParseOrderStatus(std::string_view name);

bool IsTerminal(OrderStatus status);

// Whether `from -> to` is allowed. `refund_origin` is the status an order had before it entered
// `refunding`; it is only consulted when `from` is kRefunding (the rejection path goes back to it).
bool CanTransition(OrderStatus from, OrderStatus to,
                   std::optional<OrderStatus> refund_origin = std::nullopt);

// Stock effects of a move, decided here so inventory never re-derives them. For
// refunding -> refunded, pass the refund's origin as `from`: a refund that began before shipping
// releases the reservation, one that began after shipping leaves the sale as it is.
enum class StockEffect { kNone, kRelease, kConvertToSold };
StockEffect StockEffectOf(OrderStatus from, OrderStatus to);

}  // namespace oc
