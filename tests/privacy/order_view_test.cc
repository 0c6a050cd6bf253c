// Role views of an order, held to API.md's role table: for every role, exactly which top-level
// fields are present (anything else must be absent, not null or masked), what nested objects
// carry, that personal data never leaves in plaintext, and the scope rules (404 / 403).
#include "privacy/order_view.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/principal.h"

namespace oc::privacy {
namespace {

namespace bj = boost::json;
using Keys = std::set<std::string>;

constexpr char kPhone[] = "13812345678";
constexpr char kName[] = "李四";
constexpr char kIdNumber[] = "330106199001011234";
constexpr char kDetail[] = "文三路 1 号 5 幢 301";

Order FullOrder() {
  Order o;
  o.id = "ord_01JC0Q7Z8K5W3M2N4P6R8T9V0X";
  o.channel = "douyin";
  o.channel_order_id = "DY123";
  o.status = OrderStatus::kPaid;
  o.version = 2;
  o.customer = Customer{"小李", kName, kPhone, std::string(kIdNumber)};
  o.shipping_address = Address{"浙江省", "杭州市", "西湖区", kDetail};
  o.lines = {OrderLine{"AIR-PURIFIER-X1", "空气净化器", 1, 129900},
             OrderLine{"FILTER-2", "滤芯", 2, 9900}};
  o.total = 149700;
  o.currency = "CNY";
  o.payment_method = "wechat_pay";
  o.tags = {"vip", "flash_sale"};
  o.health_score = 87;
  o.risk_flags = {"brushing_suspect"};
  o.assigned_agent = "key_AGENT";
  o.reservation_id = "rsv_1";
  o.placed_at_ms = 1'794'355'201'000;
  o.created_at_ms = 1'794'355'202'000;
  o.updated_at_ms = 1'794'355'203'000;
  o.created_by = "key_CHANNEL";
  return o;
}

Principal Viewer(Role role) {
  Principal p;
  p.id = role == Role::kCustomerService ? "key_AGENT" : "key_VIEWER";
  p.name = std::string(ToString(role));
  p.role = role;
  if (role == Role::kChannel) p.channel = "douyin";
  return p;
}

Keys KeysOf(const bj::object& o) {
  Keys k;
  for (const auto& kv : o) k.insert(std::string(kv.key()));
  return k;
}

std::string Json(const bj::object& o) { return bj::serialize(o); }

const std::vector<Role> kReadingRoles = {Role::kAdmin, Role::kChannel, Role::kCustomerService,
                                         Role::kWarehouse, Role::kFinance};

// ---- exact top-level fields per role ---------------------------------------------------------

TEST(OrderViewTest, AdminSeesEveryOrderField) {
  auto j = RenderOrder(FullOrder(), Viewer(Role::kAdmin));
  EXPECT_EQ(KeysOf(j), (Keys{"id", "channel", "channel_order_id", "status", "version", "customer",
                             "shipping_address", "lines", "total", "currency", "payment_method",
                             "tags", "health_score", "risk_flags", "assigned_agent", "created_at",
                             "updated_at", "placed_at"}));
  EXPECT_EQ(j.at("total").as_int64(), 149700);
  EXPECT_EQ(j.at("health_score").as_int64(), 87);
  EXPECT_EQ(j.at("assigned_agent").as_string(), "key_AGENT");
  EXPECT_EQ(j.at("created_at").as_string(), "2026-11-11T00:00:02.000Z");
  EXPECT_EQ(j.at("placed_at").as_string(), "2026-11-11T00:00:01.000Z");
  EXPECT_EQ(j.at("version").as_int64(), 2);
}

TEST(OrderViewTest, AdminSeesRefundOriginWhileRefunding) {
  Order o = FullOrder();
  o.status = OrderStatus::kRefunding;
  o.refund_origin = OrderStatus::kShipped;
  auto j = RenderOrder(o, Viewer(Role::kAdmin));
  ASSERT_TRUE(j.contains("refund_origin"));
  EXPECT_EQ(j.at("refund_origin").as_string(), "shipped");
  EXPECT_EQ(j.at("status").as_string(), "refunding");
}

TEST(OrderViewTest, ChannelSeesWhatItWrote) {
  auto j = RenderOrder(FullOrder(), Viewer(Role::kChannel));
  // What it wrote, plus the server-assigned identity, status and version it needs to follow up.
  EXPECT_EQ(KeysOf(j), (Keys{"id", "channel", "channel_order_id", "status", "version", "customer",
                             "shipping_address", "lines", "total", "currency", "payment_method",
                             "created_at", "updated_at", "placed_at"}));
  // Internal assessments and routing are not something the channel wrote.
  for (const char* absent : {"tags", "health_score", "risk_flags", "assigned_agent"}) {
    EXPECT_FALSE(j.contains(absent)) << absent;
  }
}

TEST(OrderViewTest, CustomerServiceSeesNicknameMaskedPhoneItemsAfterSale) {
  auto j = RenderOrder(FullOrder(), Viewer(Role::kCustomerService));
  EXPECT_EQ(KeysOf(j), (Keys{"id", "status", "customer", "lines", "after_sale_status"}));
  const auto& c = j.at("customer").as_object();
  EXPECT_EQ(KeysOf(c), (Keys{"nickname", "phone"}));
  EXPECT_EQ(c.at("nickname").as_string(), "小李");
  EXPECT_EQ(c.at("phone").as_string(), "138****5678");
  const auto& lines = j.at("lines").as_array();
  ASSERT_EQ(lines.size(), 2u);
  for (const auto& l : lines) EXPECT_EQ(KeysOf(l.as_object()), (Keys{"sku", "name", "qty"}));
  EXPECT_EQ(lines[1].as_object().at("qty").as_int64(), 2);
}

TEST(OrderViewTest, WarehouseSeesMaskedReceiverFullAddressItemsPacking) {
  auto j = RenderOrder(FullOrder(), Viewer(Role::kWarehouse));
  EXPECT_EQ(KeysOf(j),
            (Keys{"id", "status", "customer", "shipping_address", "lines", "packing_status"}));
  const auto& c = j.at("customer").as_object();
  EXPECT_EQ(KeysOf(c), (Keys{"name"}));
  EXPECT_EQ(c.at("name").as_string(), "李*");
  const auto& a = j.at("shipping_address").as_object();
  EXPECT_EQ(KeysOf(a), (Keys{"province", "city", "district", "detail"}));
  EXPECT_EQ(a.at("detail").as_string(), kDetail);  // the full address: it ships the parcel
  EXPECT_EQ(a.at("city").as_string(), "杭州市");
  for (const auto& l : j.at("lines").as_array()) {
    EXPECT_EQ(KeysOf(l.as_object()), (Keys{"sku", "name", "qty"}));
  }
}

TEST(OrderViewTest, FinanceSeesAmountsNoPeople) {
  auto j = RenderOrder(FullOrder(), Viewer(Role::kFinance));
  EXPECT_EQ(KeysOf(j), (Keys{"id", "status", "total", "currency", "payment_method", "lines",
                             "settlement_status"}));
  EXPECT_EQ(j.at("total").as_int64(), 149700);
  EXPECT_EQ(j.at("currency").as_string(), "CNY");
  EXPECT_EQ(j.at("payment_method").as_string(), "wechat_pay");
  for (const auto& l : j.at("lines").as_array()) {
    EXPECT_EQ(KeysOf(l.as_object()), (Keys{"sku", "qty", "unit_price"}));
  }
}

TEST(OrderViewTest, WarehouseAndCustomerServiceSeeNoMoney) {
  for (Role role : {Role::kWarehouse, Role::kCustomerService}) {
    auto j = RenderOrder(FullOrder(), Viewer(role));
    for (const char* absent : {"total", "currency", "payment_method"}) {
      EXPECT_FALSE(j.contains(absent)) << ToString(role) << " " << absent;
    }
    for (const auto& l : j.at("lines").as_array()) {
      EXPECT_FALSE(l.as_object().contains("unit_price")) << ToString(role);
    }
  }
}

TEST(OrderViewTest, AbsentMeansAbsentEvenWhenOptionalDataIsMissing) {
  Order o = FullOrder();
  o.health_score.reset();
  o.assigned_agent.clear();
  o.placed_at_ms.reset();
  o.customer.id_number.reset();
  for (Role role : {Role::kCustomerService, Role::kWarehouse, Role::kFinance}) {
    auto j = RenderOrder(o, Viewer(role));
    for (const char* absent : {"health_score", "assigned_agent", "tags", "risk_flags", "version",
                               "channel", "channel_order_id", "placed_at"}) {
      EXPECT_FALSE(j.contains(absent)) << ToString(role) << " " << absent;
    }
  }
  auto admin = RenderOrder(o, Viewer(Role::kAdmin));
  EXPECT_TRUE(admin.at("health_score").is_null());
  EXPECT_TRUE(admin.at("assigned_agent").is_null());
  EXPECT_FALSE(admin.at("customer").as_object().contains("id_number"));
}

// ---- personal data ----------------------------------------------------------------------------

TEST(OrderViewTest, PhoneIsNeverPlaintextForAnyRole) {
  for (Role role : kReadingRoles) {
    std::string text = Json(RenderOrder(FullOrder(), Viewer(role)));
    EXPECT_EQ(text.find(kPhone), std::string::npos) << ToString(role) << ": " << text;
    EXPECT_EQ(text.find("12345678"), std::string::npos) << ToString(role) << ": " << text;
  }
}

TEST(OrderViewTest, NameAndIdNumberAreNeverPlaintextForAnyRole) {
  for (Role role : kReadingRoles) {
    std::string text = Json(RenderOrder(FullOrder(), Viewer(role)));
    EXPECT_EQ(text.find(kName), std::string::npos) << ToString(role) << ": " << text;
    EXPECT_EQ(text.find(kIdNumber), std::string::npos) << ToString(role) << ": " << text;
  }
}

TEST(OrderViewTest, OnlyWarehouseSeesTheAddressDetail) {
  for (Role role : kReadingRoles) {
    std::string text = Json(RenderOrder(FullOrder(), Viewer(role)));
    bool shows = text.find("1 号 5 幢") != std::string::npos;
    EXPECT_EQ(shows, role == Role::kWarehouse) << ToString(role) << ": " << text;
  }
}

TEST(OrderViewTest, RolesThatSeeTheCustomerGetMaskedValues) {
  for (Role role : {Role::kAdmin, Role::kChannel}) {
    auto j = RenderOrder(FullOrder(), Viewer(role));
    const auto& c = j.at("customer").as_object();
    EXPECT_EQ(c.at("phone").as_string(), "138****5678") << ToString(role);
    EXPECT_EQ(c.at("name").as_string(), "李*") << ToString(role);
    EXPECT_EQ(c.at("id_number").as_string(), "330106**********34") << ToString(role);
    EXPECT_EQ(c.at("nickname").as_string(), "小李") << ToString(role);
    const auto& a = j.at("shipping_address").as_object();
    EXPECT_EQ(a.at("detail").as_string(), "文三****") << ToString(role);
  }
}

TEST(OrderViewTest, FinanceSeesNoCustomerAndNoAddress) {
  auto j = RenderOrder(FullOrder(), Viewer(Role::kFinance));
  EXPECT_FALSE(j.contains("customer"));
  EXPECT_FALSE(j.contains("shipping_address"));
  std::string text = Json(j);
  for (const char* s : {"小李", "李", "138", "浙江", "杭州"}) {
    EXPECT_EQ(text.find(s), std::string::npos) << s << " in " << text;
  }
}

TEST(OrderViewTest, StatusDerivedFieldsFollowTheStatus) {
  Order o = FullOrder();
  std::set<std::string> packing, after_sale, settlement;
  for (OrderStatus s : kAllOrderStatuses) {
    o.status = s;
    auto w = RenderOrder(o, Viewer(Role::kWarehouse));
    auto cs = RenderOrder(o, Viewer(Role::kCustomerService));
    auto f = RenderOrder(o, Viewer(Role::kFinance));
    EXPECT_EQ(w.at("status").as_string(), ToString(s));
    packing.insert(std::string(w.at("packing_status").as_string()));
    after_sale.insert(std::string(cs.at("after_sale_status").as_string()));
    settlement.insert(std::string(f.at("settlement_status").as_string()));
  }
  EXPECT_GE(packing.size(), 3u);
  EXPECT_GE(after_sale.size(), 2u);
  EXPECT_GE(settlement.size(), 3u);
  o.status = OrderStatus::kRefunding;
  EXPECT_EQ(RenderOrder(o, Viewer(Role::kCustomerService)).at("after_sale_status").as_string(),
            "refunding");
  o.status = OrderStatus::kPaid;
  EXPECT_EQ(RenderOrder(o, Viewer(Role::kCustomerService)).at("after_sale_status").as_string(),
            "none");
}

// ---- access and scope -----------------------------------------------------------------------

TEST(OrderScopeTest, OperationsIsForbiddenNotNotFound) {
  Principal ops = Viewer(Role::kOperations);
  Status access = CheckOrderReadAccess(ops);
  ASSERT_FALSE(access.ok());
  EXPECT_EQ(access.kind(), ErrorKind::kPermissionDenied);
  Status scope = CheckOrderScope(FullOrder(), ops);
  ASSERT_FALSE(scope.ok());
  EXPECT_EQ(scope.kind(), ErrorKind::kPermissionDenied);
}

TEST(OrderScopeTest, ReadingRolesHaveReadAccess) {
  for (Role role : kReadingRoles) EXPECT_TRUE(CheckOrderReadAccess(Viewer(role)).ok());
}

TEST(OrderScopeTest, AllOrderRolesSeeEveryOrder) {
  Order o = FullOrder();
  o.channel = "taobao";
  o.assigned_agent = "key_SOMEONE_ELSE";
  for (Role role : {Role::kAdmin, Role::kWarehouse, Role::kFinance}) {
    EXPECT_TRUE(CheckOrderScope(o, Viewer(role)).ok()) << ToString(role);
  }
}

TEST(OrderScopeTest, CustomerServiceOnlyAssignedOrders) {
  Principal cs = Viewer(Role::kCustomerService);
  Order o = FullOrder();
  EXPECT_TRUE(CheckOrderScope(o, cs).ok());
  o.assigned_agent = "key_OTHER";
  Status s = CheckOrderScope(o, cs);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kNotFound);
  o.assigned_agent.clear();
  s = CheckOrderScope(o, cs);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kNotFound);
}

TEST(OrderScopeTest, ChannelOnlyItsOwnChannel) {
  Principal ch = Viewer(Role::kChannel);
  Order o = FullOrder();
  EXPECT_TRUE(CheckOrderScope(o, ch).ok());
  o.channel = "taobao";
  Status s = CheckOrderScope(o, ch);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kNotFound);
  // A channel principal with no channel bound sees nothing with a channel name.
  Principal unbound = ch;
  unbound.channel.clear();
  EXPECT_EQ(CheckOrderScope(FullOrder(), unbound).kind(), ErrorKind::kNotFound);
}

}  // namespace
}  // namespace oc::privacy
