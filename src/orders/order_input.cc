#include "orders/order_input.h"

#include "core/clock.h"
#include "core/json.h"
#include "core/money.h"

namespace oc::orders {
namespace {

namespace bj = boost::json;
using json::ObjectReader;

Status NonEmpty(const std::string& value, const std::string& path) {
  if (value.empty()) return Status::Unprocessable("field '" + path + "' must not be empty");
  return Status::Ok();
}

Status ParseCustomer(const bj::object& obj, Customer* c) {
  ObjectReader r(obj, "customer");
  OC_RETURN_IF_ERROR(r.OnlyKeys({"nickname", "name", "phone", "id_number"}));
  OC_ASSIGN_OR_RETURN(auto nickname, r.OptionalString("nickname", kShortTextMax));
  OC_ASSIGN_OR_RETURN(auto name, r.OptionalString("name", kShortTextMax));
  OC_ASSIGN_OR_RETURN(auto phone, r.OptionalString("phone", kShortTextMax));
  OC_ASSIGN_OR_RETURN(c->id_number, r.OptionalString("id_number", kShortTextMax));
  c->nickname = nickname.value_or("");
  c->name = name.value_or("");
  c->phone = phone.value_or("");
  return Status::Ok();
}

Status ParseAddress(const bj::object& obj, Address* a) {
  ObjectReader r(obj, "shipping_address");
  OC_RETURN_IF_ERROR(r.OnlyKeys({"province", "city", "district", "detail"}));
  OC_ASSIGN_OR_RETURN(auto province, r.OptionalString("province", kShortTextMax));
  OC_ASSIGN_OR_RETURN(auto city, r.OptionalString("city", kShortTextMax));
  OC_ASSIGN_OR_RETURN(auto district, r.OptionalString("district", kShortTextMax));
  OC_ASSIGN_OR_RETURN(auto detail, r.OptionalString("detail", kLongTextMax));
  a->province = province.value_or("");
  a->city = city.value_or("");
  a->district = district.value_or("");
  a->detail = detail.value_or("");
  return Status::Ok();
}

Status ParseInvoice(const bj::object& obj, Invoice* inv) {
  ObjectReader r(obj, "invoice");
  OC_RETURN_IF_ERROR(r.OnlyKeys({"title", "tax_id"}));
  OC_ASSIGN_OR_RETURN(inv->title, r.RequiredString("title", kShortTextMax));
  OC_ASSIGN_OR_RETURN(auto tax_id, r.OptionalString("tax_id", kShortTextMax));
  inv->tax_id = tax_id.value_or("");
  return NonEmpty(inv->title, "invoice.title");
}

Status ParseLines(const bj::array& lines, Order* o) {
  if (lines.empty()) return Status::Unprocessable("field 'lines' must hold at least one line");
  if (lines.size() > kOrderLinesMax) {
    return Status::Unprocessable("an order holds at most " + std::to_string(kOrderLinesMax) +
                                 " lines");
  }
  int64_t total = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string path = "lines[" + std::to_string(i) + "]";
    if (!lines[i].is_object()) {
      return Status::InvalidArgument("field '" + path + "' must be an object");
    }
    ObjectReader r(lines[i].get_object(), path);
    OC_RETURN_IF_ERROR(r.OnlyKeys({"sku", "name", "qty", "unit_price"}));
    OrderLine line;
    OC_ASSIGN_OR_RETURN(line.sku, r.RequiredString("sku", kShortTextMax));
    OC_ASSIGN_OR_RETURN(auto name, r.OptionalString("name", kShortTextMax));
    line.name = name.value_or("");
    OC_ASSIGN_OR_RETURN(line.qty, r.RequiredInt("qty"));
    OC_ASSIGN_OR_RETURN(line.unit_price, r.RequiredInt("unit_price"));
    OC_RETURN_IF_ERROR(NonEmpty(line.sku, r.Path("sku")));
    if (line.qty <= 0 || line.qty > kLineQtyMax) {
      return Status::Unprocessable("field '" + r.Path("qty") + "' must be between 1 and " +
                                   std::to_string(kLineQtyMax));
    }
    if (line.unit_price < 0) {
      return Status::Unprocessable("field '" + r.Path("unit_price") + "' must not be negative");
    }
    auto amount = CheckedMul(line.qty, line.unit_price);
    auto sum = amount ? CheckedAdd(total, *amount) : std::nullopt;
    if (!sum) return Status::Unprocessable("the order total exceeds 2^53 minor units");
    total = *sum;
    o->lines.push_back(std::move(line));
  }
  o->total = total;
  return Status::Ok();
}

}  // namespace

Result<std::vector<SkuQty>> ParseSkuLines(const bj::value* value) {
  if (value == nullptr) return Status::InvalidArgument("field 'lines' is required");
  if (!value->is_array()) return Status::InvalidArgument("field 'lines' must be an array");
  const bj::array& lines = value->get_array();
  if (lines.empty()) return Status::Unprocessable("field 'lines' must hold at least one line");
  if (lines.size() > kOrderLinesMax) {
    return Status::Unprocessable("at most " + std::to_string(kOrderLinesMax) + " lines");
  }
  std::vector<SkuQty> out;
  out.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string path = "lines[" + std::to_string(i) + "]";
    if (!lines[i].is_object()) {
      return Status::InvalidArgument("field '" + path + "' must be an object");
    }
    ObjectReader r(lines[i].get_object(), path);
    OC_RETURN_IF_ERROR(r.OnlyKeys({"sku", "qty"}));
    SkuQty line;
    OC_ASSIGN_OR_RETURN(line.sku, r.RequiredString("sku", kShortTextMax));
    OC_ASSIGN_OR_RETURN(line.qty, r.RequiredInt("qty"));
    OC_RETURN_IF_ERROR(NonEmpty(line.sku, r.Path("sku")));
    if (line.qty <= 0 || line.qty > kLineQtyMax) {
      return Status::Unprocessable("field '" + r.Path("qty") + "' must be between 1 and " +
                                   std::to_string(kLineQtyMax));
    }
    out.push_back(std::move(line));
  }
  return out;
}

Result<Order> ParseCreateOrder(const bj::value& body, bool* accept_oversell) {
  if (!body.is_object()) return Status::InvalidArgument("the request body must be a JSON object");
  ObjectReader r(body.get_object(), "");
  OC_RETURN_IF_ERROR(r.OnlyKeys({"channel", "channel_order_id", "currency", "customer",
                                 "shipping_address", "lines", "payment_method", "reservation_id",
                                 "placed_at", "accept_oversell", "invoice"}));
  Order o;
  OC_ASSIGN_OR_RETURN(o.channel, r.RequiredString("channel", kShortTextMax));
  OC_ASSIGN_OR_RETURN(o.channel_order_id, r.RequiredString("channel_order_id", kShortTextMax));
  OC_ASSIGN_OR_RETURN(o.currency, r.RequiredString("currency", kShortTextMax));
  OC_ASSIGN_OR_RETURN(const bj::object* customer, r.OptionalObject("customer"));
  OC_ASSIGN_OR_RETURN(const bj::object* address, r.OptionalObject("shipping_address"));
  OC_ASSIGN_OR_RETURN(const bj::object* invoice, r.OptionalObject("invoice"));
  OC_ASSIGN_OR_RETURN(const bj::array* lines, r.RequiredArray("lines"));
  OC_ASSIGN_OR_RETURN(auto payment_method, r.OptionalString("payment_method", kShortTextMax));
  OC_ASSIGN_OR_RETURN(auto reservation_id, r.OptionalString("reservation_id", kShortTextMax));
  OC_ASSIGN_OR_RETURN(auto placed_at, r.OptionalString("placed_at", kShortTextMax));
  OC_ASSIGN_OR_RETURN(auto oversell, r.OptionalBool("accept_oversell"));
  if (accept_oversell != nullptr) *accept_oversell = oversell.value_or(false);
  if (customer) OC_RETURN_IF_ERROR(ParseCustomer(*customer, &o.customer));
  if (address) OC_RETURN_IF_ERROR(ParseAddress(*address, &o.shipping_address));
  if (invoice) {
    o.invoice.emplace();
    OC_RETURN_IF_ERROR(ParseInvoice(*invoice, &*o.invoice));
  }
  o.payment_method = payment_method.value_or("");
  o.reservation_id = reservation_id.value_or("");
  if (placed_at) {
    int64_t ms = 0;
    if (!ParseRfc3339(*placed_at, &ms)) {
      return Status::InvalidArgument("field 'placed_at' must be an RFC 3339 time");
    }
    o.placed_at_ms = ms;
  }
  OC_RETURN_IF_ERROR(NonEmpty(o.channel, "channel"));
  OC_RETURN_IF_ERROR(NonEmpty(o.channel_order_id, "channel_order_id"));
  if (!IsKnownCurrency(o.currency)) {
    return Status::Unprocessable("field 'currency': unknown ISO-4217 currency '" + o.currency +
                                 "'");
  }
  OC_RETURN_IF_ERROR(ParseLines(*lines, &o));
  return o;
}

}  // namespace oc::orders
