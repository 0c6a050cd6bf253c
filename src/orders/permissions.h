// Who may move an order where (API.md, "Who may move an order"). Pure: thread-safe.
//
// admin: any legal move. channel: the moves its platform reports (paid, cancelled, refunding,
// refunded, delivered, completed), only on its own channel's orders. warehouse: packed and
// shipped. customer_service: refunding, only on orders assigned to it. Everyone else: 403.
// Orders outside a principal's scope answer 404, like reads, so ids cannot be probed.
#pragma once

#include "core/order.h"
#include "core/principal.h"
#include "core/status.h"

namespace oc::orders {

Status CheckMayTransition(const Principal& actor, const Order& order, OrderStatus to);
Status CheckMayAssign(const Principal& actor);
Status CheckMayCreate(const Principal& actor, const Order& order);

}  // namespace oc::orders
