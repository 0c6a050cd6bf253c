#include "privacy/order_view.h"

#include "core/clock.h"
#include "core/json.h"
#include "privacy/masking.h"

namespace oc::privacy {
namespace {

namespace bj = boost::json;

// Writes one JSON object straight into a string: orders are rendered for every response and
// every idempotency record, and building a boost::json object first cost ~6% of a create.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }
  void End() { out_->push_back('}'); }

  void Str(std::string_view key, std::string_view v) {
    Key(key);
    json::AppendQuoted(out_, v);
  }
  void Int(std::string_view key, int64_t v) {
    Key(key);
    out_->append(std::to_string(v));
  }
  void Null(std::string_view key) {
    Key(key);
    out_->append("null");
  }
  void Strings(std::string_view key, const std::vector<std::string>& v) {
    Key(key);
    out_->push_back('[');
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) out_->push_back(',');
      json::AppendQuoted(out_, v[i]);
    }
    out_->push_back(']');
  }
  // A nested object: write its members through the returned writer, then End() it.
  ObjectWriter Object(std::string_view key) {
    Key(key);
    return ObjectWriter(out_);
  }
  // A key whose value the caller appends itself.
  std::string* Raw(std::string_view key) {
    Key(key);
    return out_;
  }

 private:
  void Key(std::string_view key) {
    if (!first_) out_->push_back(',');
    first_ = false;
    json::AppendQuoted(out_, key);
    out_->push_back(':');
  }
  std::string* out_;
  bool first_ = true;
};

enum LineFields { kLineItem = 1, kLinePrice = 2 };

void Lines(const Order& o, int fields, ObjectWriter& j) {
  std::string* out = j.Raw("lines");
  out->push_back('[');
  for (size_t i = 0; i < o.lines.size(); ++i) {
    const OrderLine& l = o.lines[i];
    if (i > 0) out->push_back(',');
    ObjectWriter line(out);
    line.Str("sku", l.sku);
    if (fields & kLineItem) line.Str("name", l.name);
    line.Int("qty", l.qty);
    if (fields & kLinePrice) line.Int("unit_price", l.unit_price);
    line.End();
  }
  out->push_back(']');
}

void MaskedCustomer(const Order& o, ObjectWriter& j) {
  ObjectWriter c = j.Object("customer");
  c.Str("nickname", o.customer.nickname);
  c.Str("name", MaskName(o.customer.name));
  c.Str("phone", MaskPhone(o.customer.phone));
  if (o.customer.id_number) c.Str("id_number", MaskIdNumber(*o.customer.id_number));
  c.End();
}

void Address(const Order& o, bool detail_plain, ObjectWriter& j) {
  ObjectWriter a = j.Object("shipping_address");
  a.Str("province", o.shipping_address.province);
  a.Str("city", o.shipping_address.city);
  a.Str("district", o.shipping_address.district);
  a.Str("detail",
        detail_plain ? o.shipping_address.detail : MaskAddressDetail(o.shipping_address.detail));
  a.End();
}

// Invoice details: plain for finance (it issues the invoices), masked for the rest who see them.
void Invoice(const Order& o, bool plain, ObjectWriter& j) {
  if (!o.invoice) return;
  ObjectWriter inv = j.Object("invoice");
  inv.Str("title", plain ? o.invoice->title : MaskName(o.invoice->title));
  inv.Str("tax_id", plain ? o.invoice->tax_id : MaskIdNumber(o.invoice->tax_id));
  inv.End();
}

std::string AfterSaleStatus(const Order& o) {
  if (o.status == OrderStatus::kRefunding) return "refunding";
  if (o.status == OrderStatus::kRefunded) return "refunded";
  return "none";
}

std::string PackingStatus(const Order& o) {
  switch (o.status) {
    case OrderStatus::kPaid:
      return "to_pack";
    case OrderStatus::kPacked:
      return "packed";
    case OrderStatus::kShipped:
    case OrderStatus::kDelivered:
    case OrderStatus::kCompleted:
      return "shipped";
    case OrderStatus::kCancelled:
    case OrderStatus::kRefunded:
      return "void";
    default:
      return "not_ready";
  }
}

std::string SettlementStatus(const Order& o) {
  switch (o.status) {
    case OrderStatus::kCompleted:
      return "settled";
    case OrderStatus::kRefunded:
      return "refunded";
    case OrderStatus::kCancelled:
      return "void";
    case OrderStatus::kPendingPayment:
      return "unpaid";
    default:
      return "pending";
  }
}

void Bookkeeping(const Order& o, ObjectWriter& j) {
  j.Str("channel", o.channel);
  j.Str("channel_order_id", o.channel_order_id);
  j.Int("version", o.version);
  j.Str("created_at", FormatRfc3339(o.created_at_ms));
  j.Str("updated_at", FormatRfc3339(o.updated_at_ms));
}

void Money(const Order& o, ObjectWriter& j) {
  j.Int("total", o.total);
  j.Str("currency", o.currency);
  j.Str("payment_method", o.payment_method);
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

bool ReadsWithinScope(const Principal& viewer) {
  return viewer.role == Role::kChannel || viewer.role == Role::kCustomerService;
}

void AppendOrderJson(const Order& o, const Principal& viewer, std::string* out) {
  ObjectWriter j(out);
  j.Str("id", o.id);
  j.Str("status", ToString(o.status));
  switch (viewer.role) {
    case Role::kAdmin: {
      Bookkeeping(o, j);
      MaskedCustomer(o, j);
      Address(o, /*detail_plain=*/false, j);
      Lines(o, kLineItem | kLinePrice, j);
      Money(o, j);
      Invoice(o, /*plain=*/false, j);
      j.Strings("tags", o.tags);
      if (o.health_score) {
        j.Int("health_score", *o.health_score);
      } else {
        j.Null("health_score");
      }
      j.Strings("risk_flags", o.risk_flags);
      if (o.assigned_agent.empty()) {
        j.Null("assigned_agent");
      } else {
        j.Str("assigned_agent", o.assigned_agent);
      }
      if (o.refund_origin) j.Str("refund_origin", ToString(*o.refund_origin));
      if (o.placed_at_ms) j.Str("placed_at", FormatRfc3339(*o.placed_at_ms));
      break;
    }
    case Role::kChannel: {
      Bookkeeping(o, j);
      MaskedCustomer(o, j);
      Address(o, /*detail_plain=*/false, j);
      Lines(o, kLineItem | kLinePrice, j);
      Money(o, j);
      Invoice(o, /*plain=*/false, j);
      // No tags, health_score, risk_flags or assigned_agent: the channel sees what it wrote.
      if (o.placed_at_ms) j.Str("placed_at", FormatRfc3339(*o.placed_at_ms));
      break;
    }
    case Role::kCustomerService: {
      ObjectWriter c = j.Object("customer");
      c.Str("nickname", o.customer.nickname);
      c.Str("phone", MaskPhone(o.customer.phone));
      c.End();
      Lines(o, kLineItem, j);
      j.Str("after_sale_status", AfterSaleStatus(o));
      break;
    }
    case Role::kWarehouse: {
      ObjectWriter c = j.Object("customer");
      c.Str("name", MaskName(o.customer.name));
      c.End();
      Address(o, /*detail_plain=*/true, j);
      Lines(o, kLineItem, j);
      j.Str("packing_status", PackingStatus(o));
      break;
    }
    case Role::kFinance: {
      Money(o, j);
      Lines(o, kLinePrice, j);
      Invoice(o, /*plain=*/true, j);
      j.Str("settlement_status", SettlementStatus(o));
      break;
    }
    case Role::kOperations:
      break;  // CheckOrderReadAccess refuses before rendering
  }
  j.End();
}

std::string RenderOrderJson(const Order& o, const Principal& viewer) {
  std::string out;
  out.reserve(640);
  AppendOrderJson(o, viewer, &out);
  return out;
}

bj::object RenderOrder(const Order& o, const Principal& viewer) {
  return bj::parse(RenderOrderJson(o, viewer)).as_object();
}

}  // namespace oc::privacy
