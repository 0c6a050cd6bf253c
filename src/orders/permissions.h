// Who may move an order where (API.md, "Who may move an order"). Pure: thread-safe.
//
// admin: any legal move. channel: the moves its platform reports (paid, cancelled, refunding,
// refunded, delivered, completed), only on its own channel's orders. warehouse: packed and
// shipped. customer_service: refunding, only on orders assigned to it. Everyone else: 403.
// Orders outside a principal's scope answer 404, like reads, so ids cannot be probed.
// Checkout holds: channel and admin place them; a channel key sees only its channel's holds.
#pragma once

#include "core/order.h"
#include "core/principal.h"
#include "core/status.h"
#include "store/store.h"

namespace oc::orders {

Status CheckMayTransition(const Principal& actor, const Order& order, OrderStatus to);
Status CheckMayAssign(const Principal& actor);
Status CheckMayCreate(const Principal& actor, const Order& order);
// 403 unless the role may place, read or release checkout holds at all.
Status CheckMayHold(const Principal& actor);
// Whether `actor` may see this hold (404 otherwise).
bool HoldInScope(const Principal& actor, const store::ReservationRecord& hold);

}  // namespace oc::orders
