// ParseCreateOrder: what becomes an Order, what is 400 (structure: kInvalidArgument) and what is
// 422 (business: kUnprocessable), and that errors name the field.
#include "orders/order_input.h"

#include <gtest/gtest.h>

#include <string>

#include "core/json.h"

namespace oc::orders {
namespace {

namespace bj = boost::json;

// The example body from API.md.
const char kExample[] = R"({"channel": "douyin", "channel_order_id": "DY123", "currency": "CNY",
 "customer": {"nickname": "小李", "name": "李四", "phone": "13812345678", "id_number": null},
 "shipping_address": {"province": "浙江省", "city": "杭州市", "district": "西湖区",
                      "detail": "文三路 1 号"},
 "lines": [{"sku": "AIR-PURIFIER-X1", "name": "空气净化器", "qty": 1, "unit_price": 129900}],
 "payment_method": "wechat_pay", "reservation_id": null, "placed_at": "2026-11-11T00:00:01Z"})";

bj::object Example() { return json::ParseStrict(kExample).value().as_object(); }

Result<Order> Parse(const bj::value& v) { return ParseCreateOrder(v); }

void ExpectKind(const bj::value& body, ErrorKind kind, const std::string& field,
                const std::string& why) {
  auto r = Parse(body);
  ASSERT_FALSE(r.ok()) << why << ": accepted " << bj::serialize(body);
  EXPECT_EQ(r.status().kind(), kind) << why << ": " << r.status().ToString();
  EXPECT_EQ(r.status().code(), "invalid_request") << why;
  if (!field.empty()) {
    EXPECT_NE(r.status().detail().find(field), std::string::npos)
        << why << ": detail '" << r.status().detail() << "' does not name " << field;
  }
}

void Expect400(const bj::value& body, const std::string& field, const std::string& why) {
  ExpectKind(body, ErrorKind::kInvalidArgument, field, why);
}

void Expect422(const bj::value& body, const std::string& field, const std::string& why) {
  ExpectKind(body, ErrorKind::kUnprocessable, field, why);
}

bj::object& Line(bj::object& body, size_t i) { return body["lines"].as_array()[i].as_object(); }

TEST(ParseCreateOrderTest, TheApiExampleParses) {
  auto r = Parse(Example());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Order& o = *r;
  EXPECT_EQ(o.channel, "douyin");
  EXPECT_EQ(o.channel_order_id, "DY123");
  EXPECT_EQ(o.currency, "CNY");
  EXPECT_EQ(o.customer.nickname, "小李");
  EXPECT_EQ(o.customer.name, "李四");
  EXPECT_EQ(o.customer.phone, "13812345678");
  EXPECT_FALSE(o.customer.id_number.has_value());
  EXPECT_EQ(o.shipping_address.province, "浙江省");
  EXPECT_EQ(o.shipping_address.detail, "文三路 1 号");
  ASSERT_EQ(o.lines.size(), 1u);
  EXPECT_EQ(o.lines[0].sku, "AIR-PURIFIER-X1");
  EXPECT_EQ(o.lines[0].name, "空气净化器");
  EXPECT_EQ(o.lines[0].qty, 1);
  EXPECT_EQ(o.lines[0].unit_price, 129900);
  EXPECT_EQ(o.total, 129900);
  EXPECT_EQ(o.payment_method, "wechat_pay");
  EXPECT_EQ(o.reservation_id, "");
  EXPECT_EQ(o.placed_at_ms, 1'794'355'201'000);
  // Server-owned fields keep their defaults; the writer assigns them.
  EXPECT_EQ(o.status, OrderStatus::kPendingPayment);
  EXPECT_EQ(o.id, "");
}

TEST(ParseCreateOrderTest, TotalIsComputedFromTheLines) {
  bj::object body = Example();
  bj::array lines;
  lines.push_back(bj::object{{"sku", "A"}, {"qty", 2}, {"unit_price", 100}});
  lines.push_back(bj::object{{"sku", "B"}, {"qty", 3}, {"unit_price", 250}});
  lines.push_back(bj::object{{"sku", "C"}, {"qty", 1}, {"unit_price", 0}});
  body["lines"] = lines;
  auto r = Parse(body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->total, 2 * 100 + 3 * 250 + 0);
  ASSERT_EQ(r->lines.size(), 3u);
  EXPECT_EQ(r->lines[2].sku, "C");
  EXPECT_EQ(r->lines[1].name, "");
}

TEST(ParseCreateOrderTest, MinimalBody) {
  auto body = json::ParseStrict(
      R"({"channel": "pos", "channel_order_id": "1", "currency": "JPY",
          "lines": [{"sku": "X", "qty": 1, "unit_price": 500}]})");
  ASSERT_TRUE(body.ok());
  auto r = Parse(*body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->customer.phone, "");
  EXPECT_FALSE(r->placed_at_ms.has_value());
  EXPECT_EQ(r->total, 500);
}

TEST(ParseCreateOrderTest, TotalExactlyAtTwoToThe53IsAccepted) {
  bj::object body = Example();
  bj::array lines;
  lines.push_back(bj::object{{"sku", "A"}, {"qty", 1}, {"unit_price", int64_t{1} << 52}});
  lines.push_back(bj::object{{"sku", "B"}, {"qty", 2}, {"unit_price", int64_t{1} << 51}});
  body["lines"] = lines;
  auto r = Parse(body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->total, int64_t{1} << 53);
}

// ---- 400: structure --------------------------------------------------------------------------

TEST(ParseCreateOrderTest, BodyMustBeAnObject) {
  Expect400(bj::array{}, "", "array body");
  Expect400(bj::value("x"), "", "string body");
  Expect400(bj::value(nullptr), "", "null body");
}

TEST(ParseCreateOrderTest, MissingRequiredFieldsAre400) {
  for (const char* field : {"channel", "channel_order_id", "currency", "lines"}) {
    bj::object body = Example();
    body.erase(field);
    Expect400(body, field, std::string("missing ") + field);
    body = Example();
    body[field] = nullptr;
    Expect400(body, field, std::string("null ") + field);
  }
  for (const char* field : {"sku", "qty", "unit_price"}) {
    bj::object body = Example();
    Line(body, 0).erase(field);
    Expect400(body, std::string("lines[0].") + field, std::string("missing line ") + field);
  }
}

TEST(ParseCreateOrderTest, WrongTypesAre400NamingTheField) {
  struct Case {
    const char* field;
    bj::value value;
  } cases[] = {
      {"channel", 1},
      {"channel_order_id", 123},
      {"currency", true},
      {"customer", "x"},
      {"shipping_address", bj::array{}},
      {"lines", bj::object{}},
      {"lines", "[]"},
      {"payment_method", 5},
      {"reservation_id", 7},
      {"placed_at", 1794355201},
      {"channel", bj::array{"a"}},
  };
  for (const auto& c : cases) {
    bj::object body = Example();
    body[c.field] = c.value;
    Expect400(body, c.field, std::string("wrong type for ") + c.field);
  }
}

TEST(ParseCreateOrderTest, WrongNestedTypesAre400NamingTheField) {
  {
    bj::object body = Example();
    body["customer"].as_object()["phone"] = 13812345678;
    Expect400(body, "customer.phone", "numeric phone");
  }
  {
    bj::object body = Example();
    body["customer"].as_object()["nickname"] = bj::object{};
    Expect400(body, "customer.nickname", "object nickname");
  }
  {
    bj::object body = Example();
    body["shipping_address"].as_object()["city"] = 1;
    Expect400(body, "shipping_address.city", "numeric city");
  }
  {
    bj::object body = Example();
    Line(body, 0)["qty"] = "1";
    Expect400(body, "lines[0].qty", "string qty");
  }
  {
    bj::object body = Example();
    Line(body, 0)["sku"] = 42;
    Expect400(body, "lines[0].sku", "numeric sku");
  }
  {
    bj::object body = Example();
    body["lines"].as_array().push_back("not an object");
    Expect400(body, "lines[1]", "line that is not an object");
  }
}

TEST(ParseCreateOrderTest, FloatsAre400) {
  for (double v : {1.0, 1.5, 0.5, 129900.0}) {
    bj::object body = Example();
    Line(body, 0)["qty"] = v;
    Expect400(body, "lines[0].qty", "float qty");
    body = Example();
    Line(body, 0)["unit_price"] = v;
    Expect400(body, "lines[0].unit_price", "float unit_price");
  }
  // And through the parser, as a client would send them.
  auto body = json::ParseStrict(
      R"({"channel": "pos", "channel_order_id": "1", "currency": "CNY",
          "lines": [{"sku": "X", "qty": 1, "unit_price": 12.99}]})");
  ASSERT_TRUE(body.ok());
  Expect400(*body, "lines[0].unit_price", "12.99");
}

TEST(ParseCreateOrderTest, IntegersBeyondTwoToThe53AndUint64Are400) {
  bj::object body = Example();
  Line(body, 0)["unit_price"] = (int64_t{1} << 53) + 1;
  Expect400(body, "lines[0].unit_price", "unit_price 2^53 + 1");
  body = Example();
  Line(body, 0)["unit_price"] = uint64_t{18446744073709551615u};
  Expect400(body, "lines[0].unit_price", "uint64 unit_price");
  body = Example();
  Line(body, 0)["qty"] = uint64_t{9223372036854775808u};
  Expect400(body, "lines[0].qty", "uint64 qty");
}

TEST(ParseCreateOrderTest, ServerOwnedAndUnknownFieldsAre400) {
  for (const char* field :
       {"status", "version", "total", "id", "created_at", "updated_at", "tags", "health_score",
        "risk_flags", "assigned_agent", "created_by", "Channel", "extra"}) {
    bj::object body = Example();
    body[field] = 1;
    Expect400(body, field, std::string("unknown field ") + field);
  }
  {
    bj::object body = Example();
    body["customer"].as_object()["email"] = "a@b";
    Expect400(body, "customer.email", "unknown customer field");
  }
  {
    bj::object body = Example();
    body["shipping_address"].as_object()["zip"] = "310000";
    Expect400(body, "shipping_address.zip", "unknown address field");
  }
  {
    bj::object body = Example();
    Line(body, 0)["discount"] = 100;
    Expect400(body, "lines[0].discount", "unknown line field");
  }
  {
    bj::object body = Example();
    Line(body, 0)["total"] = 1;
    Expect400(body, "lines[0].total", "line total");
  }
}

TEST(ParseCreateOrderTest, BadPlacedAtIs400) {
  for (const char* t : {"yesterday", "2026-11-11", "2026-02-30T00:00:00Z", ""}) {
    bj::object body = Example();
    body["placed_at"] = t;
    Expect400(body, "placed_at", std::string("placed_at ") + t);
  }
}

TEST(ParseCreateOrderTest, OverlongStringsAre400) {
  bj::object body = Example();
  body["channel_order_id"] = std::string(kShortTextMax + 1, 'x');
  Expect400(body, "channel_order_id", "overlong channel_order_id");
  body = Example();
  body["shipping_address"].as_object()["detail"] = std::string(kLongTextMax + 1, 'x');
  Expect400(body, "shipping_address.detail", "overlong detail");
  body = Example();
  body["shipping_address"].as_object()["detail"] = std::string(kLongTextMax, 'x');
  EXPECT_TRUE(Parse(body).ok());
}

// ---- 422: business-invalid ---------------------------------------------------------------------

TEST(ParseCreateOrderTest, NonPositiveOrHugeQtyIs422) {
  for (int64_t qty : {int64_t{0}, int64_t{-1}, int64_t{-1000}, kLineQtyMax + 1}) {
    bj::object body = Example();
    Line(body, 0)["qty"] = qty;
    Expect422(body, "lines[0].qty", "qty " + std::to_string(qty));
  }
  bj::object body = Example();
  Line(body, 0)["qty"] = kLineQtyMax;
  Line(body, 0)["unit_price"] = 1;
  EXPECT_TRUE(Parse(body).ok());
}

TEST(ParseCreateOrderTest, QtyErrorNamesTheRightLine) {
  bj::object body = Example();
  body["lines"].as_array().push_back(bj::object{{"sku", "B"}, {"qty", 0}, {"unit_price", 1}});
  Expect422(body, "lines[1].qty", "second line qty 0");
}

TEST(ParseCreateOrderTest, NegativeUnitPriceIs422) {
  bj::object body = Example();
  Line(body, 0)["unit_price"] = -1;
  Expect422(body, "lines[0].unit_price", "negative price");
}

TEST(ParseCreateOrderTest, UnknownCurrencyIs422) {
  for (const char* c : {"XYZ", "cny", "RMB", "CN", "CNYY"}) {
    bj::object body = Example();
    body["currency"] = c;
    Expect422(body, "currency", std::string("currency ") + c);
  }
}

TEST(ParseCreateOrderTest, EmptyLinesAre422) {
  bj::object body = Example();
  body["lines"] = bj::array{};
  Expect422(body, "lines", "no lines");
}

TEST(ParseCreateOrderTest, TooManyLinesAre422) {
  bj::object body = Example();
  bj::array lines;
  for (size_t i = 0; i <= kOrderLinesMax; ++i) {
    lines.push_back(bj::object{{"sku", "S" + std::to_string(i)}, {"qty", 1}, {"unit_price", 1}});
  }
  body["lines"] = lines;
  Expect422(body, "", "501 lines");
  lines.pop_back();
  body["lines"] = lines;
  auto r = Parse(body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->total, static_cast<int64_t>(kOrderLinesMax));
}

TEST(ParseCreateOrderTest, EmptyIdentifiersAre422) {
  for (const char* field : {"channel", "channel_order_id"}) {
    bj::object body = Example();
    body[field] = "";
    Expect422(body, field, std::string("empty ") + field);
  }
  bj::object body = Example();
  Line(body, 0)["sku"] = "";
  Expect422(body, "lines[0].sku", "empty sku");
}

TEST(ParseCreateOrderTest, TotalsBeyondTwoToThe53Are422) {
  // One line whose qty * unit_price overflows the bound.
  bj::object body = Example();
  Line(body, 0)["qty"] = 2;
  Line(body, 0)["unit_price"] = int64_t{1} << 53;
  Expect422(body, "", "line amount beyond 2^53");
  // Lines each within the bound whose sum is not.
  body = Example();
  bj::array lines;
  lines.push_back(bj::object{{"sku", "A"}, {"qty", 1}, {"unit_price", (int64_t{1} << 52) + 1}});
  lines.push_back(bj::object{{"sku", "B"}, {"qty", 1}, {"unit_price", int64_t{1} << 52}});
  body["lines"] = lines;
  Expect422(body, "", "sum beyond 2^53");
  // qty * price that would overflow int64 itself.
  body = Example();
  Line(body, 0)["qty"] = kLineQtyMax;
  Line(body, 0)["unit_price"] = int64_t{1} << 53;
  Expect422(body, "", "product far beyond 2^53");
}

TEST(ParseCreateOrderTest, StructuralErrorsWinOverBusinessErrors) {
  // An unknown field together with a business error: the structure is reported (400).
  bj::object body = Example();
  body["status"] = "paid";
  body["currency"] = "XYZ";
  Expect400(body, "status", "unknown field plus unknown currency");
}

// ---- Checkout hold bodies: the usual shape read directly, against the general parser ----

// Every body the direct reader accepts, the general parser must accept with the same values.
// Returns whether the direct reader accepted it.
bool ExpectDirectAgreesWithGeneral(const std::string& body) {
  std::optional<HoldRequest> direct = ReadSimpleHoldRequest(body);
  Result<HoldRequest> general = ParseHoldRequestGeneral(body);
  if (!direct) return false;
  EXPECT_TRUE(general.ok()) << "read directly but refused in general: " << body << " -> "
                            << general.status().ToString();
  if (!general.ok()) return true;
  EXPECT_EQ(direct->ttl_seconds, general->ttl_seconds) << body;
  EXPECT_EQ(direct->lines.size(), general->lines.size()) << body;
  for (size_t i = 0; i < direct->lines.size() && i < general->lines.size(); ++i) {
    EXPECT_EQ(direct->lines[i].sku, general->lines[i].sku) << body;
    EXPECT_EQ(direct->lines[i].qty, general->lines[i].qty) << body;
  }
  return true;
}

TEST(HoldRequestTest, TheUsualShapeIsReadDirectlyWithTheSameValues) {
  const std::vector<std::string> usual = {
      R"({"lines": [{"sku": "HOT", "qty": 1}]})",
      R"({"lines":[{"sku":"HOT","qty":1}],"ttl_seconds":900})",
      R"({"ttl_seconds": 60, "lines": [{"qty": 3, "sku": "AIR-PURIFIER-X1"}]})",
      " {\n\t\"lines\" : [ { \"sku\" : \"a.b:c/d_e\" , \"qty\" : 1000000 } ,"
      " {\"sku\": \"Z9\", \"qty\": 7} ] , \"ttl_seconds\" : 604800 }\r\n",
  };
  for (const auto& body : usual) EXPECT_TRUE(ExpectDirectAgreesWithGeneral(body)) << body;
  auto r = ReadSimpleHoldRequest(usual[2]);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->ttl_seconds, 60);
  ASSERT_EQ(r->lines.size(), 1u);
  EXPECT_EQ(r->lines[0].sku, "AIR-PURIFIER-X1");
  EXPECT_EQ(r->lines[0].qty, 3);
  // The answer does not depend on which way a body was read.
  EXPECT_TRUE(ParseHoldRequest(usual[1]).ok());
  auto zero = ParseHoldRequest(R"({"lines": [{"sku": "HOT", "qty": 0}]})");
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.status().kind(), ErrorKind::kUnprocessable);
}

TEST(HoldRequestTest, AnythingUnusualIsLeftToTheGeneralParser) {
  const std::vector<std::string> unusual = {
      "",
      "{}",
      "[]",
      R"({"lines": []})",
      R"({"lines": [{"sku": "HOT", "qty": 1}], "lines": [{"sku": "HOT", "qty": 1}]})",
      R"({"lines": [{"sku": "HOT", "qty": 1, "qty": 2}]})",
      R"({"lines": [{"sku": "HOT", "qty": 1}], "ttl_seconds": 1, "ttl_seconds": 2})",
      R"({"lines": [{"sku": "HOT", "qty": 1}], "extra": 1})",
      R"({"lines": [{"sku": "HOT", "qty": 1, "name": "x"}]})",
      R"({"lines": [{"sku": "", "qty": 1}]})",
      R"({"lines": [{"sku": "H\u004fT", "qty": 1}]})",
      R"({"lines": [{"sku": "HÖT", "qty": 1}]})",
      R"({"lines": [{"sku": "H T", "qty": 1}]})",
      R"({"lines": [{"sku": "HOT", "qty": 0}]})",
      R"({"lines": [{"sku": "HOT", "qty": -1}]})",
      R"({"lines": [{"sku": "HOT", "qty": 01}]})",
      R"({"lines": [{"sku": "HOT", "qty": 1.0}]})",
      R"({"lines": [{"sku": "HOT", "qty": 1e3}]})",
      R"({"lines": [{"sku": "HOT", "qty": 1000001}]})",
      R"({"lines": [{"sku": "HOT", "qty": 99999999999999999999}]})",
      R"({"lines": [{"sku": "HOT", "qty": "1"}]})",
      R"({"lines": [{"sku": "HOT", "qty": 1}], "ttl_seconds": 0})",
      R"({"lines": [{"sku": "HOT", "qty": 1}], "ttl_seconds": 1000000000})",
      R"({"lines": [{"sku": "HOT", "qty": 1}], "ttl_seconds": null})",
      R"({"lines": [{"sku": "HOT", "qty": 1}]} x)",
      R"({"lines": [{"sku": "HOT", "qty": 1}],})",
      R"({"lines": [{"sku": "HOT", "qty": 1},]})",
      R"({"lines": [{"sku": "HOT", "qty": 1}])",
      R"({"lines": {"sku": "HOT", "qty": 1}})",
      "\xEF\xBB\xBF{\"lines\": [{\"sku\": \"HOT\", \"qty\": 1}]}",
      R"({"lines": [{"sku": ")" + std::string(kShortTextMax + 1, 'x') + R"(", "qty": 1}]})",
  };
  for (const auto& body : unusual) {
    EXPECT_FALSE(ReadSimpleHoldRequest(body).has_value()) << body;
  }
  std::string many = R"({"lines": [)";
  for (size_t i = 0; i <= kOrderLinesMax; ++i)
    many += std::string(i ? "," : "") + R"({"sku":"S","qty":1})";
  many += "]}";
  EXPECT_FALSE(ReadSimpleHoldRequest(many).has_value());  // one more line than allowed
}

TEST(HoldRequestTest, MutatedBodiesNeverGetPastTheDirectReaderWrongly) {
  // Differential check: random one-byte edits, insertions and deletions of usual bodies. Most
  // break the shape (the general parser then decides); those still read directly must agree.
  const std::vector<std::string> seeds = {
      R"({"lines":[{"sku":"HOT","qty":12}],"ttl_seconds":900})",
      R"({"ttl_seconds": 5, "lines": [{"qty": 1, "sku": "A-1"}, {"sku": "b_2", "qty": 30}]})",
  };
  const std::string alphabet = "{}[]\",:0123456789 .-eE\\ufaxltqsk\n\x01\xC3\xA9";
  uint64_t state = 0x9E3779B97F4A7C15u;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int read_directly = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string body = seeds[next() % seeds.size()];
    int edits = 1 + static_cast<int>(next() % 3);
    for (int e = 0; e < edits; ++e) {
      size_t at = next() % (body.size() + 1);
      char c = alphabet[next() % alphabet.size()];
      switch (next() % 3) {
        case 0:
          if (at < body.size()) body[at] = c;
          break;
        case 1:
          body.insert(at, 1, c);
          break;
        default:
          if (at < body.size()) body.erase(at, 1);
      }
    }
    if (ExpectDirectAgreesWithGeneral(body)) ++read_directly;
  }
  // Some edits keep the shape (a digit changed, a space added): the comparison had cases.
  EXPECT_GT(read_directly, 500);
}

}  // namespace
}  // namespace oc::orders
