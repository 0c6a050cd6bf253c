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

Result<HoldRequest> ParseHoldRequestGeneral(std::string_view body) {
  OC_ASSIGN_OR_RETURN(bj::value v, json::ParseStrict(body));
  if (!v.is_object()) return Status::InvalidArgument("the request body must be a JSON object");
  const bj::object& obj = v.get_object();
  ObjectReader r(obj, "");
  OC_RETURN_IF_ERROR(r.OnlyKeys({"lines", "ttl_seconds"}));
  HoldRequest out;
  OC_ASSIGN_OR_RETURN(out.ttl_seconds, r.OptionalInt("ttl_seconds"));
  OC_ASSIGN_OR_RETURN(out.lines, ParseSkuLines(obj.if_contains("lines")));
  return out;
}

Result<HoldRequest> ParseHoldRequest(std::string_view body) {
  if (auto simple = ReadSimpleHoldRequest(body)) return std::move(*simple);
  return ParseHoldRequestGeneral(body);
}

namespace {

// A cursor over the body for ReadSimpleHoldRequest; every step either matches exactly what the
// usual shape allows or fails.
class SimpleReader {
 public:
  explicit SimpleReader(std::string_view s) : s_(s) {}

  void SkipSpace() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  bool Eat(char c) {
    SkipSpace();
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  bool AtEnd() {
    SkipSpace();
    return i_ == s_.size();
  }
  // A string of the plain characters alone ("-_.:/", letters, digits), 1..max bytes.
  bool PlainString(size_t max, std::string_view* out) {
    if (!Eat('"')) return false;
    size_t start = i_;
    while (i_ < s_.size() && IsPlain(s_[i_])) ++i_;
    size_t n = i_ - start;
    if (n == 0 || n > max || i_ >= s_.size() || s_[i_] != '"') return false;
    *out = s_.substr(start, n);
    ++i_;
    return true;
  }
  // A positive integer of at most `digits_max` digits, no leading zero, followed by a
  // delimiter (so "12.5", "1e3" and "12x" are not read as 12).
  bool Positive(size_t digits_max, int64_t* out) {
    SkipSpace();
    size_t start = i_;
    int64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (i_ - start < digits_max) v = v * 10 + (s_[i_] - '0');  // no overflow: too long fails
      ++i_;
    }
    size_t n = i_ - start;
    if (n == 0 || n > digits_max || s_[start] == '0') return false;
    if (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']' && s_[i_] != ' ' &&
        s_[i_] != '\t' && s_[i_] != '\n' && s_[i_] != '\r') {
      return false;
    }
    *out = v;
    return true;
  }

 private:
  static bool IsPlain(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':' || c == '/';
  }
  std::string_view s_;
  size_t i_ = 0;
};

constexpr size_t kLineQtyDigitsMax = 7;  // kLineQtyMax is 1,000,000
constexpr size_t kTtlDigitsMax = 9;

// {"sku": "...", "qty": N} with the two keys in either order.
bool ReadSimpleLine(SimpleReader& r, SkuQty* line) {
  if (!r.Eat('{')) return false;
  bool have_sku = false, have_qty = false;
  for (int k = 0; k < 2; ++k) {
    if (k > 0 && !r.Eat(',')) return false;
    std::string_view key;
    if (!r.PlainString(16, &key) || !r.Eat(':')) return false;
    if (key == "sku" && !have_sku) {
      std::string_view sku;
      if (!r.PlainString(kShortTextMax, &sku)) return false;
      line->sku.assign(sku);
      have_sku = true;
    } else if (key == "qty" && !have_qty) {
      if (!r.Positive(kLineQtyDigitsMax, &line->qty) || line->qty < 1 || line->qty > kLineQtyMax) {
        return false;
      }
      have_qty = true;
    } else {
      return false;
    }
  }
  return r.Eat('}');
}

}  // namespace

std::optional<HoldRequest> ReadSimpleHoldRequest(std::string_view body) {
  SimpleReader r(body);
  HoldRequest out;
  bool have_lines = false, have_ttl = false;
  if (!r.Eat('{')) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    if (k > 0 && !r.Eat(',')) break;  // "ttl_seconds" may be left out
    std::string_view key;
    if (!r.PlainString(16, &key) || !r.Eat(':')) return std::nullopt;
    if (key == "lines" && !have_lines) {
      if (!r.Eat('[')) return std::nullopt;
      do {
        if (out.lines.size() == kOrderLinesMax) return std::nullopt;
        SkuQty line;
        if (!ReadSimpleLine(r, &line)) return std::nullopt;
        out.lines.push_back(std::move(line));
      } while (r.Eat(','));
      if (!r.Eat(']')) return std::nullopt;
      have_lines = true;
    } else if (key == "ttl_seconds" && !have_ttl) {
      int64_t ttl = 0;
      if (!r.Positive(kTtlDigitsMax, &ttl)) return std::nullopt;
      out.ttl_seconds = ttl;
      have_ttl = true;
    } else {
      return std::nullopt;
    }
  }
  if (!have_lines || !r.Eat('}') || !r.AtEnd()) return std::nullopt;
  return out;
}

}  // namespace oc::orders
