#include "cli/demo.h"

#include <array>
#include <future>
#include <random>
#include <string>
#include <vector>

namespace oc::cli {
namespace {

struct Sku {
  const char* sku;
  const char* name;
  int64_t price;
  const char* category;  // substitutes for oversold orders come from the same category
};

constexpr std::array<Sku, 12> kSkus = {{
    {"AIR-PURIFIER-X1", "空气净化器 X1", 129900, "air"},
    {"AIR-FILTER-H13", "H13 滤芯", 19900, "air"},
    {"KETTLE-1L7", "电热水壶 1.7L", 15900, "kitchen"},
    {"RICE-COOKER-4L", "电饭煲 4L", 39900, "kitchen"},
    {"TEA-LONGJING-250", "西湖龙井 250g", 28800, "food"},
    {"MASK-N95-50", "N95 口罩 50 只", 9900, "health"},
    {"HUMIDIFIER-M2", "加湿器 M2", 25900, "air"},
    {"VACUUM-R9", "扫地机器人 R9", 199900, "cleaning"},
    {"TOWEL-SET-3", "纯棉毛巾三件套", 5900, "home"},
    {"PHONE-CASE-15", "手机壳", 3900, "accessories"},
    {"SOY-MILK-MAKER", "豆浆机", 45900, "kitchen"},
    {"LAMP-DESK-L1", "护眼台灯 L1", 16900, "home"},
}};

constexpr std::array<const char*, 6> kChannels = {"douyin",    "taobao", "jd",
                                                  "pinduoduo", "wechat", "pos"};
constexpr std::array<const char*, 4> kPayments = {"wechat_pay", "alipay", "unionpay", "cash"};
constexpr std::array<const char*, 8> kSurnames = {"张", "李", "王", "刘", "陈", "杨", "赵", "黄"};
constexpr std::array<const char*, 8> kGiven = {"伟", "芳", "娜", "敏", "静", "强", "磊", "洋"};
constexpr std::array<std::array<const char*, 3>, 4> kPlaces = {{
    {"浙江省", "杭州市", "西湖区"},
    {"广东省", "深圳市", "南山区"},
    {"北京市", "北京市", "朝阳区"},
    {"上海市", "上海市", "浦东新区"},
}};

// Status walks the demo spreads orders over, each a legal path through the status machine.
const std::vector<std::vector<OrderStatus>>& Paths() {
  using S = OrderStatus;
  static const std::vector<std::vector<OrderStatus>> paths = {
      {},
      {S::kPaid},
      {S::kPaid, S::kPacked},
      {S::kPaid, S::kPacked, S::kShipped},
      {S::kPaid, S::kPacked, S::kShipped, S::kDelivered},
      {S::kPaid, S::kPacked, S::kShipped, S::kDelivered, S::kCompleted},
      {S::kPaid, S::kPacked, S::kShipped, S::kDelivered, S::kCompleted},
      {S::kCancelled},
      {S::kPaid, S::kRefunding},
      {S::kPaid, S::kRefunding, S::kRefunded},
  };
  return paths;
}

Result<orders::CommandOutcome> Run(orders::OrderWriter& writer, orders::Command command) {
  auto promise = std::make_shared<std::promise<Result<orders::CommandOutcome>>>();
  auto future = promise->get_future();
  OC_RETURN_IF_ERROR(
      writer.Submit(std::move(command), [promise](auto r) { promise->set_value(std::move(r)); }));
  return future.get();
}

}  // namespace

Result<DemoReport> LoadDemo(orders::OrderWriter& writer, int64_t order_count,
                            const std::function<void(int64_t, int64_t)>& progress) {
  Principal demo{"orderctl-demo", "orderctl demo", Role::kAdmin, ""};
  std::mt19937_64 rng(20261111);  // fixed: the same demo every time
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  DemoReport report;
  constexpr int64_t kDemoStockPerSku = 100000;
  for (const Sku& sku : kSkus) {
    OC_ASSIGN_OR_RETURN(
        auto stocked,
        Run(writer, orders::Command{
                        orders::SetStock{sku.sku, kDemoStockPerSku, 5, sku.category}, demo, {}}));
    (void)stocked;
  }
  for (int64_t i = 0; i < order_count; ++i) {
    Order o;
    o.channel = kChannels[pick(kChannels.size())];
    o.channel_order_id = "DEMO-" + std::to_string(100000 + i);
    o.currency = "CNY";
    o.payment_method = kPayments[pick(kPayments.size())];
    o.customer.name = std::string(kSurnames[pick(kSurnames.size())]) + kGiven[pick(kGiven.size())];
    o.customer.nickname = "买家" + std::to_string(1000 + pick(9000));
    o.customer.phone = "13" + std::to_string(100000000 + rng() % 900000000);
    const auto& place = kPlaces[pick(kPlaces.size())];
    o.shipping_address = {place[0], place[1], place[2],
                          "示例路 " + std::to_string(1 + pick(300)) + " 号"};
    size_t lines = 1 + pick(3);
    for (size_t l = 0; l < lines; ++l) {
      const Sku& s = kSkus[(i + l * 5) % kSkus.size()];
      int64_t qty = 1 + static_cast<int64_t>(pick(3));
      o.lines.push_back({s.sku, s.name, qty, s.price});
      o.total += qty * s.price;
    }
    OC_ASSIGN_OR_RETURN(auto created,
                        Run(writer, orders::Command{orders::CreateOrder{std::move(o)}, demo, {}}));
    if (!created.created) {
      ++report.orders_existing;
    } else {
      ++report.orders_created;
      for (OrderStatus to : Paths()[pick(Paths().size())]) {
        orders::Transition t{created.order->id, to, std::nullopt, "demo"};
        OC_ASSIGN_OR_RETURN(auto moved, Run(writer, orders::Command{t, demo, {}}));
        (void)moved;
        ++report.transitions;
      }
    }
    if ((i + 1) % 50 == 0 || i + 1 == order_count) progress(i + 1, order_count);
  }
  return report;
}

}  // namespace oc::cli
