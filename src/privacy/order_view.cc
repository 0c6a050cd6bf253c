#include "privacy/order_view.h"

#include "core/clock.h"
#include "privacy/masking.h"

namespace oc::privacy {
namespace {

namespace bj = boost::json;

bj::array Strings(const std::vector<std::string>& v) {
  bj::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

enum LineFields { kLineItem = 1, kLinePrice = 2 };

bj::array Lines(const Order& o, int fields) {
  bj::array a;
  for (const auto& l : o.lines) {
    bj::object line;
    line["sku"] = l.sku;
    if (fields & kLineItem) line["name"] = l.name;
    line["qty"] = l.qty;
    if (fields & kLinePrice) line["unit_price"] = l.unit_price;
    a.emplace_back(std::move(line));
  }
  return a;
}

bj::object MaskedCustomer(const Order& o) {
  bj::object c;
  c["nickname"] = o.customer.nickname;
  c["name"] = MaskName(o.customer.name);
  c["phone"] = MaskPhone(o.customer.phone);
  if (o.customer.id_number) c["id_number"] = MaskIdNumber(*o.customer.id_number);
  return c;
}

bj::object Address(const Order& o, bool detail_plain) {
  bj::object a;
  a["province"] = o.shipping_address.province;
  a["city"] = o.shipping_address.city;
  a["district"] = o.shipping_address.district;
  a["detail"] = detail_plain ? o.shipping_address.detail
                             : MaskAddressDetail(o.shipping_address.detail);
  return a;
}

std::string AfterSaleStatus(const Order& o) {
  if (o.status == OrderStatus::kRefunding) return "refunding";
  if (o.status == OrderStatus::kRefunded) return "refunded";
  return "none";
}

std::string PackingStatus(const Order& o) {
  switch (o.status) {
    case OrderStatus::kPaid: return "to_pack";
    case OrderStatus::kPacked: return "packed";
    case OrderStatus::kShipped:
    case OrderStatus::kDelivered:
    case OrderStatus::kCompleted: return "shipped";
    case OrderStatus::kCancelled:
    case OrderStatus::kRefunded: return "void";
    default: return "not_ready";
  }
}

std::string SettlementStatus(const Order& o) {
  switch (o.status) {
    case OrderStatus::kCompleted: return "settled";
    case OrderStatus::kRefunded: return "refunded";
    case OrderStatus::kCancelled: return "void";
    case OrderStatus::kPendingPayment: return "unpaid";
    default: return "pending";
  }
}

void Common(const Order& o, bj::object& j) {
  j["id"] = o.id;
  j["status"] = ToString(o.status);
}

void Bookkeeping(const Order& o, bj::object& j) {
  j["channel"] = o.channel;
  j["channel_order_id"] = o.channel_order_id;
  j["version"] = o.version;
  j["created_at"] = FormatRfc3339(o.created_at_ms);
  j["updated_at"] = FormatRfc3339(o.updated_at_ms);
}

void Money(const Order& o, bj::object& j) {
  j["total"] = o.total;
  j["currency"] = o.currency;
  j["payment_method"] = o.payment_method;
}

}  // namespace

Status CheckOrderReadAccess(const Principal& viewer) {
  if (viewer.role == Role::kOperations) {
    return Status::PermissionDenied("the operations role sees aggregates only (/v1/stats)");
  }
  return Status::Ok();
}

Status CheckOrderScope(const Order& order, const Principal& viewer) {
  OC_RETURN_IF_ERROR(CheckOrderReadAccess(viewer));
  bool in_scope = true;
  if (viewer.role == Role::kChannel) in_scope = order.channel == viewer.channel;
  if (viewer.role == Role::kCustomerService) in_scope = order.assigned_agent == viewer.id;
  if (!in_scope) return Status::NotFound("order not found");
  return Status::Ok();
}

bj::object RenderOrder(const Order& o, const Principal& viewer) {
  bj::object j;
  Common(o, j);
  switch (viewer.role) {
    case Role::kAdmin: {
      Bookkeeping(o, j);
      j["customer"] = MaskedCustomer(o);
      j["shipping_address"] = Address(o, /*detail_plain=*/false);
      j["lines"] = Lines(o, kLineItem | kLinePrice);
      Money(o, j);
      j["tags"] = Strings(o.tags);
      j["health_score"] = o.health_score ? bj::value(*o.health_score) : bj::value(nullptr);
      j["risk_flags"] = Strings(o.risk_flags);
      j["assigned_agent"] = o.assigned_agent.empty() ? bj::value(nullptr)
                                                     : bj::value(o.assigned_agent);
      if (o.refund_origin) j["refund_origin"] = ToString(*o.refund_origin);
      if (o.placed_at_ms) j["placed_at"] = FormatRfc3339(*o.placed_at_ms);
      break;
    }
    case Role::kChannel: {
      Bookkeeping(o, j);
      j["customer"] = MaskedCustomer(o);
      j["shipping_address"] = Address(o, /*detail_plain=*/false);
      j["lines"] = Lines(o, kLineItem | kLinePrice);
      Money(o, j);
      // No tags, health_score, risk_flags or assigned_agent: the channel sees what it wrote.
      if (o.placed_at_ms) j["placed_at"] = FormatRfc3339(*o.placed_at_ms);
      break;
    }
    case Role::kCustomerService: {
      bj::object c;
      c["nickname"] = o.customer.nickname;
      c["phone"] = MaskPhone(o.customer.phone);
      j["customer"] = std::move(c);
      j["lines"] = Lines(o, kLineItem);
      j["after_sale_status"] = AfterSaleStatus(o);
      break;
    }
    case Role::kWarehouse: {
      bj::object c;
      c["name"] = MaskName(o.customer.name);
      j["customer"] = std::move(c);
      j["shipping_address"] = Address(o, /*detail_plain=*/true);
      j["lines"] = Lines(o, kLineItem);
      j["packing_status"] = PackingStatus(o);
      break;
    }
    case Role::kFinance: {
      Money(o, j);
      j["lines"] = Lines(o, kLinePrice);
      j["settlement_status"] = SettlementStatus(o);
      break;
    }
    case Role::kOperations:
      break;  // CheckOrderReadAccess refuses before rendering
  }
  return j;
}

}  // namespace oc::privacy
