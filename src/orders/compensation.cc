#include "orders/compensation.h"

#include <algorithm>
#include <map>

namespace oc::orders {

std::vector<OversoldCase> PlanCompensation(const std::vector<store::OversoldRecord>& oversold,
                                           const std::vector<store::StockRecord>& stock) {
  std::map<std::string, const store::StockRecord*> by_sku;
  for (const auto& s : stock) by_sku[s.sku] = &s;

  // Per SKU, how many of the accepted units restocks have covered so far: everything the open
  // orders were short minus what the SKU is still short now, handed out oldest order first.
  std::map<std::string, int64_t> covered;
  for (const auto& record : oversold) {
    for (const auto& l : record.lines) covered[l.sku] += l.qty_short;
  }
  for (auto& [sku, units] : covered) {
    auto it = by_sku.find(sku);
    int64_t still = it == by_sku.end() ? 0 : it->second->oversold;
    units = std::max<int64_t>(0, units - still);
  }

  std::map<std::string, int64_t> queue;  // SKU -> open cases seen so far
  std::vector<OversoldCase> out;
  for (const auto& record : oversold) {
    OversoldCase c;
    c.order = record;
    int64_t missing_value = 0;
    for (const auto& l : record.lines) {
      int64_t& cover = covered[l.sku];
      int64_t now_covered = std::min(cover, l.qty_short);
      cover -= now_covered;
      ShortLine line{l.sku, l.qty_short, l.qty_short - now_covered};
      c.lines.push_back(line);
      if (line.still_short == 0) continue;
      missing_value += line.still_short * l.unit_price;
      Remedy restock;
      restock.kind = "restock";
      restock.sku = l.sku;
      restock.qty = line.still_short;
      restock.queue_position = ++queue[l.sku];
      c.remedies.push_back(restock);
      auto self = by_sku.find(l.sku);
      const std::string category = self == by_sku.end() ? "" : self->second->category;
      if (category.empty()) continue;
      std::vector<const store::StockRecord*> candidates;
      for (const auto& s : stock) {
        if (s.sku == l.sku || s.category != category) continue;
        int64_t available = std::max<int64_t>(0, s.on_hand - s.reserved - s.sold - s.safety_buffer);
        if (available >= line.still_short) candidates.push_back(&s);
      }
      auto available_of = [](const store::StockRecord* s) {
        return s->on_hand - s->reserved - s->sold - s->safety_buffer;
      };
      std::stable_sort(candidates.begin(), candidates.end(),
                       [&](auto* a, auto* b) { return available_of(a) > available_of(b); });
      for (size_t i = 0; i < candidates.size() && i < kSubstitutesMax; ++i) {
        Remedy sub;
        sub.kind = "substitute";
        sub.sku = l.sku;
        sub.qty = line.still_short;
        sub.substitute_sku = candidates[i]->sku;
        sub.available = available_of(candidates[i]);
        c.remedies.push_back(sub);
      }
    }
    if (missing_value == 0 && std::all_of(c.lines.begin(), c.lines.end(),
                                          [](const ShortLine& l) { return l.still_short == 0; })) {
      continue;  // covered by restocks: no longer a case
    }
    Remedy coupon;
    coupon.kind = "coupon";
    int64_t amount = std::max(kCouponMinimumMinor, missing_value * kCouponPercent / 100);
    coupon.amount = (amount + 99) / 100 * 100;
    coupon.currency = record.currency;
    c.remedies.push_back(coupon);
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace oc::orders
