// Who may move an order where, every role x every target status, per API.md:
// admin any move; channel paid, cancelled, refunding, refunded, delivered, completed on its own
// orders; warehouse packed and shipped; customer_service refunding on orders assigned to it;
// anyone else 403. Out-of-scope orders answer 404.
#include "orders/permissions.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace oc::orders {
namespace {

using S = OrderStatus;

const std::vector<Role> kAllRoles = {Role::kAdmin,     Role::kChannel, Role::kCustomerService,
                                     Role::kWarehouse, Role::kFinance, Role::kOperations};

Principal Actor(Role role) {
  Principal p;
  p.id = "key_" + std::string(ToString(role));
  p.name = std::string(ToString(role));
  p.role = role;
  if (role == Role::kChannel) p.channel = "douyin";
  return p;
}

Order InScopeOrder() {
  Order o;
  o.id = "ord_1";
  o.channel = "douyin";
  o.channel_order_id = "DY1";
  o.assigned_agent = "key_customer_service";
  return o;
}

std::set<S> Allowed(Role role) {
  switch (role) {
    case Role::kAdmin:
      return {kAllOrderStatuses.begin(), kAllOrderStatuses.end()};
    case Role::kChannel:
      return {S::kPaid, S::kCancelled, S::kRefunding, S::kRefunded, S::kDelivered, S::kCompleted};
    case Role::kWarehouse:
      return {S::kPacked, S::kShipped};
    case Role::kCustomerService:
      return {S::kRefunding};
    case Role::kFinance:
    case Role::kOperations:
      return {};
  }
  return {};
}

// The warehouse moves orders forward along the physical flow only, so its orders are put in
// the status each move starts from.
Order ForRole(Role role, S to, Order o) {
  if (role == Role::kWarehouse) o.status = to == S::kShipped ? S::kPacked : S::kPaid;
  return o;
}

TEST(PermissionsTest, EveryRoleEveryTargetInScope) {
  for (Role role : kAllRoles) {
    for (S to : kAllOrderStatuses) {
      Status s = CheckMayTransition(Actor(role), ForRole(role, to, InScopeOrder()), to);
      bool want = Allowed(role).count(to) > 0;
      EXPECT_EQ(s.ok(), want) << ToString(role) << " -> " << ToString(to) << ": " << s.ToString();
      if (!want && !s.ok()) {
        EXPECT_EQ(s.kind(), ErrorKind::kPermissionDenied) << ToString(role) << " -> "
                                                          << ToString(to);
        EXPECT_EQ(s.code(), "forbidden");
      }
    }
  }
}

TEST(PermissionsTest, ChannelOutOfScopeIsNotFoundForEveryTarget) {
  Order o = InScopeOrder();
  o.channel = "taobao";
  for (S to : kAllOrderStatuses) {
    Status s = CheckMayTransition(Actor(Role::kChannel), o, to);
    ASSERT_FALSE(s.ok()) << ToString(to);
    EXPECT_EQ(s.kind(), ErrorKind::kNotFound) << ToString(to);
  }
}

TEST(PermissionsTest, CustomerServiceUnassignedIsNotFoundForEveryTarget) {
  Order other = InScopeOrder();
  other.assigned_agent = "key_someone_else";
  Order unassigned = InScopeOrder();
  unassigned.assigned_agent.clear();
  for (const Order& o : {other, unassigned}) {
    for (S to : kAllOrderStatuses) {
      Status s = CheckMayTransition(Actor(Role::kCustomerService), o, to);
      ASSERT_FALSE(s.ok()) << ToString(to);
      EXPECT_EQ(s.kind(), ErrorKind::kNotFound) << ToString(to);
    }
  }
}

TEST(PermissionsTest, AllOrderRolesAreNotScopedByChannelOrAgent) {
  Order o = InScopeOrder();
  o.channel = "taobao";
  o.assigned_agent = "key_someone_else";
  for (Role role : {Role::kAdmin, Role::kWarehouse}) {
    for (S to : kAllOrderStatuses) {
      EXPECT_EQ(CheckMayTransition(Actor(role), ForRole(role, to, o), to).ok(),
                Allowed(role).count(to) > 0)
          << ToString(role) << " -> " << ToString(to);
    }
  }
  for (Role role : {Role::kFinance, Role::kOperations}) {
    for (S to : kAllOrderStatuses) {
      EXPECT_EQ(CheckMayTransition(Actor(role), o, to).kind(), ErrorKind::kPermissionDenied);
    }
  }
}

TEST(PermissionsTest, OnlyAdminMayAssign) {
  for (Role role : kAllRoles) {
    Status s = CheckMayAssign(Actor(role));
    EXPECT_EQ(s.ok(), role == Role::kAdmin) << ToString(role);
    if (!s.ok()) {
      EXPECT_EQ(s.kind(), ErrorKind::kPermissionDenied) << ToString(role);
    }
  }
}

TEST(PermissionsTest, CreateIsAdminOrChannelForItsOwnChannel) {
  Order own = InScopeOrder();
  Order foreign = InScopeOrder();
  foreign.channel = "taobao";
  for (Role role : kAllRoles) {
    bool may = role == Role::kAdmin || role == Role::kChannel;
    Status s = CheckMayCreate(Actor(role), own);
    EXPECT_EQ(s.ok(), may) << ToString(role);
    if (!s.ok()) {
      EXPECT_EQ(s.kind(), ErrorKind::kPermissionDenied) << ToString(role);
    }
  }
  EXPECT_TRUE(CheckMayCreate(Actor(Role::kAdmin), foreign).ok());
  Status s = CheckMayCreate(Actor(Role::kChannel), foreign);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kPermissionDenied);
}

TEST(PermissionsTest, WarehouseCannotRejectARefundOrSkipPacking) {
  Order o = InScopeOrder();
  o.status = S::kRefunding;
  o.refund_origin = S::kShipped;
  Status reject = CheckMayTransition(Actor(Role::kWarehouse), o, S::kShipped);
  EXPECT_EQ(reject.kind(), ErrorKind::kPermissionDenied) << reject.ToString();
  o.status = S::kPaid;
  EXPECT_EQ(CheckMayTransition(Actor(Role::kWarehouse), o, S::kShipped).kind(),
            ErrorKind::kPermissionDenied);
  EXPECT_TRUE(CheckMayTransition(Actor(Role::kAdmin), o, S::kShipped).ok());
}

}  // namespace
}  // namespace oc::orders
