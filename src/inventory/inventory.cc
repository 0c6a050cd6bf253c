#include "inventory/inventory.h"

#include <algorithm>

namespace oc::inventory {

int64_t StockLevel::available() const {
  return std::max<int64_t>(0, on_hand - reserved - sold - safety_buffer);
}

int64_t StockLevel::shortfall() const {
  return std::max<int64_t>(0, reserved + sold - (on_hand - safety_buffer));
}

namespace {
// An oversold count never exceeds the shortfall it stands for: restocks and releases cover it.
void ShrinkOversold(StockLevel& level) {
  level.oversold = std::min(level.oversold, level.shortfall());
}
}  // namespace

Result<Inventory::SkuTotals> Inventory::Aggregate(std::span<const StockLine> lines) {
  SkuTotals per_sku;
  for (const StockLine& l : lines) {
    if (l.qty <= 0 || l.qty > kStockQuantityMax) {
      return Status::Unprocessable("quantity for '" + l.sku + "' must be between 1 and 2^40");
    }
    per_sku.emplace_back(l.sku, l.qty);
  }
  std::sort(per_sku.begin(), per_sku.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  // Lines of the same SKU become one, in place.
  size_t out = 0;
  for (size_t i = 0; i < per_sku.size(); ++i) {
    if (out > 0 && per_sku[out - 1].first == per_sku[i].first) {
      per_sku[out - 1].second += per_sku[i].second;
      if (per_sku[out - 1].second > kStockQuantityMax) {
        return Status::Unprocessable("quantity for '" + std::string(per_sku[i].first) +
                                     "' exceeds 2^40");
      }
    } else {
      per_sku[out++] = per_sku[i];
    }
  }
  per_sku.resize(out);
  return per_sku;
}

StockLevel& Inventory::Touch(std::string_view sku) {
  ++mutations_;
  auto it = levels_.find(sku);
  if (in_batch_ && journal_.find(sku) == journal_.end()) {
    journal_.emplace(std::string(sku),
                     it == levels_.end() ? std::nullopt : std::optional<StockLevel>(it->second));
  }
  if (it == levels_.end()) it = levels_.emplace(std::string(sku), StockLevel{}).first;
  return it->second;
}

Status Inventory::SetLevel(std::string_view sku, int64_t on_hand, int64_t safety_buffer) {
  if (on_hand < 0 || on_hand > kStockQuantityMax || safety_buffer < 0 ||
      safety_buffer > kStockQuantityMax) {
    return Status::Unprocessable("on_hand and safety_buffer must be between 0 and 2^40");
  }
  auto existing = Get(sku);
  StockLevel next = existing.value_or(StockLevel{});
  next.on_hand = on_hand;
  next.safety_buffer = safety_buffer;
  ShrinkOversold(next);
  if (!next.holds_invariant() && next.reserved == 0 && next.sold == 0) {
    // Nothing is committed, so the request alone is at fault: no stock state could take it.
    return Status::Unprocessable("safety_buffer (" + std::to_string(safety_buffer) +
                                 ") is larger than on_hand (" + std::to_string(on_hand) + ")");
  }
  if (!next.holds_invariant()) {
    return Status::Conflict("stock_committed",
                            "'" + std::string(sku) + "' has " + std::to_string(next.reserved) +
                                " reserved and " + std::to_string(next.sold) +
                                " sold; on_hand - safety_buffer cannot go below that");
  }
  Touch(sku) = next;
  return Status::Ok();
}

std::optional<StockLevel> Inventory::Get(std::string_view sku) const {
  auto it = levels_.find(sku);
  if (it == levels_.end()) return std::nullopt;
  return it->second;
}

Status Inventory::Reserve(std::span<const StockLine> lines) {
  return Reserve(lines, ReserveOptions{}).status();
}

Result<std::vector<StockLine>> Inventory::Reserve(std::span<const StockLine> lines,
                                                  const ReserveOptions& options) {
  OC_ASSIGN_OR_RETURN(auto per_sku, Aggregate(lines));
  SkuTotals releasing;
  if (!options.releasing.empty()) {
    OC_ASSIGN_OR_RETURN(releasing, Aggregate(options.releasing));
    for (const auto& [sku, qty] : releasing) {
      auto level = Get(sku);
      if (!level || level->reserved < qty) {
        return Status::Internal("releasing more of '" + std::string(sku) + "' than is reserved");
      }
    }
  }
  auto released_of = [&](std::string_view sku) -> int64_t {
    auto it = std::lower_bound(releasing.begin(), releasing.end(), sku,
                               [](const auto& e, std::string_view k) { return e.first < k; });
    return it == releasing.end() || it->first != sku ? 0 : it->second;
  };
  std::string short_skus;
  std::vector<StockLine> shortfall;
  for (const auto& [sku, qty] : per_sku) {
    auto level = Get(sku);
    int64_t usable = (level ? level->available() : 0) + released_of(sku);
    if (usable >= qty) continue;
    if (options.accept_oversell) {
      shortfall.push_back({std::string(sku), qty - usable});
      continue;
    }
    if (!short_skus.empty()) short_skus += ", ";
    short_skus += std::string(sku) + " (wanted " + std::to_string(qty) + ", available " +
                  std::to_string(usable) + ")";
  }
  if (!short_skus.empty()) return Status::Conflict("out_of_stock", "out of stock: " + short_skus);
  // Every line fits (or is accepted short): only now is anything changed, so a refusal never
  // leaves a partial hold nor loses the hold being converted.
  for (const auto& [sku, qty] : releasing) Touch(sku).reserved -= qty;
  for (const auto& [sku, qty] : per_sku) Touch(sku).reserved += qty;
  for (const StockLine& s : shortfall) Touch(s.sku).oversold += s.qty;
  for (const auto& [sku, qty] : releasing) ShrinkOversold(Touch(sku));
  return shortfall;
}

Status Inventory::Release(std::span<const StockLine> lines) {
  OC_ASSIGN_OR_RETURN(auto per_sku, Aggregate(lines));
  for (const auto& [sku, qty] : per_sku) {
    auto level = Get(sku);
    if (!level || level->reserved < qty) {
      return Status::Internal("releasing more of '" + std::string(sku) + "' than is reserved");
    }
  }
  for (const auto& [sku, qty] : per_sku) {
    StockLevel& level = Touch(sku);
    level.reserved -= qty;
    ShrinkOversold(level);
  }
  return Status::Ok();
}

Status Inventory::ConvertToSold(std::span<const StockLine> lines) {
  OC_ASSIGN_OR_RETURN(auto per_sku, Aggregate(lines));
  for (const auto& [sku, qty] : per_sku) {
    auto level = Get(sku);
    if (!level || level->reserved < qty) {
      return Status::Internal("selling more of '" + std::string(sku) + "' than is reserved");
    }
  }
  for (const auto& [sku, qty] : per_sku) {
    StockLevel& level = Touch(sku);
    level.reserved -= qty;
    level.sold += qty;
  }
  return Status::Ok();
}

void Inventory::BeginBatch() {
  journal_.clear();
  in_batch_ = true;
}

void Inventory::EndBatch() {
  journal_.clear();
  in_batch_ = false;
}

void Inventory::RollbackBatch() {
  for (auto& [sku, before] : journal_) {
    if (before) {
      levels_.insert_or_assign(sku, *before);
    } else {
      auto it = levels_.find(sku);
      if (it != levels_.end()) levels_.erase(it);
    }
  }
  journal_.clear();
  in_batch_ = false;
}

std::vector<std::string> Inventory::TouchedInBatch() const {
  std::vector<std::string> out;
  out.reserve(journal_.size());
  for (const auto& [sku, before] : journal_) out.push_back(sku);
  return out;  // std::map keeps them sorted
}

}  // namespace oc::inventory
