#include "orders/permissions.h"

#include <string>

namespace oc::orders {

Status CheckMayTransition(const Principal& actor, const Order& order, OrderStatus to) {
  using S = OrderStatus;
  switch (actor.role) {
    case Role::kAdmin:
      return Status::Ok();
    case Role::kChannel:
      if (order.channel != actor.channel) return Status::NotFound("order not found");
      if (to == S::kPaid || to == S::kCancelled || to == S::kRefunding || to == S::kRefunded ||
          to == S::kDelivered || to == S::kCompleted) {
        return Status::Ok();
      }
      break;
    case Role::kWarehouse:
      // Forward moves of the physical flow only: a refunding order going back to `shipped`
      // is the rejection of a refund, which is not the warehouse's call.
      if ((to == S::kPacked && order.status == S::kPaid) ||
          (to == S::kShipped && order.status == S::kPacked)) {
        return Status::Ok();
      }
      break;
    case Role::kCustomerService:
      if (order.assigned_agent != actor.id) return Status::NotFound("order not found");
      if (to == S::kRefunding) return Status::Ok();
      break;
    case Role::kFinance:
    case Role::kOperations:
      break;
  }
  return Status::PermissionDenied("role '" + std::string(ToString(actor.role)) +
                                  "' may not move an order to '" + std::string(ToString(to)) + "'");
}

Status CheckMayAssign(const Principal& actor) {
  if (actor.role == Role::kAdmin) return Status::Ok();
  return Status::PermissionDenied("only admin may assign orders");
}

Status CheckMayCreate(const Principal& actor, const Order& order) {
  if (actor.role == Role::kAdmin) return Status::Ok();
  if (actor.role == Role::kChannel) {
    if (order.channel != actor.channel) {
      return Status::PermissionDenied("a channel key may only create orders for its own channel '" +
                                      actor.channel + "'");
    }
    return Status::Ok();
  }
  return Status::PermissionDenied("role '" + std::string(ToString(actor.role)) +
                                  "' may not create orders");
}

Status CheckMayHold(const Principal& actor) {
  if (actor.role == Role::kAdmin || actor.role == Role::kChannel) return Status::Ok();
  return Status::PermissionDenied("only channel and admin keys use reservations");
}

bool HoldInScope(const Principal& actor, const store::ReservationRecord& hold) {
  if (actor.role == Role::kAdmin) return true;
  return actor.role == Role::kChannel && hold.channel == actor.channel;
}

}  // namespace oc::orders
