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

Result<std::map<std::string, int64_t, std::less<>>> Inventory::Aggregate(
    std::span<const StockLine> lines) {
  std::map<std::string, int64_t, std::less<>> per_sku;
  for (const StockLine& l : lines) {
    if (l.qty <= 0 || l.qty > kStockQuantityMax) {
      return Status::Unprocessable("quantity for '" + l.sku + "' must be between 1 and 2^40");
    }
    int64_t& total = per_sku[l.sku];
    total += l.qty;
    if (total > kStockQuantityMax) {
      return Status::Unprocessable("quantity for '" + l.sku + "' exceeds 2^40");
    }
  }
  return per_sku;
}

StockLevel& Inventory::Touch(const std::string& sku) {
  ++mutations_;
  auto it = levels_.find(sku);
  if (in_batch_ && !journal_.contains(sku)) {
    journal_.emplace(sku, it == levels_.end() ? std::nullopt
                                              : std::optional<StockLevel>(it->second));
  }
  if (it == levels_.end()) it = levels_.emplace(sku, StockLevel{}).first;
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
  if (!next.holds_invariant()) {
    return Status::Conflict(
        "stock_committed",
        "'" + std::string(sku) + "' has " + std::to_string(next.reserved) + " reserved and " +
            std::to_string(next.sold) + " sold; on_hand - safety_buffer cannot go below that");
  }
  Touch(std::string(sku)) = next;
  return Status::Ok();
}

std::optional<StockLevel> Inventory::Get(std::string_view sku) const {
  auto it = levels_.find(std::string(sku));
  if (it == levels_.end()) return std::nullopt;
  return it->second;
}

Status Inventory::Reserve(std::span<const StockLine> lines) {
  return Reserve(lines, ReserveOptions{}).status();
}

Result<std::vector<StockLine>> Inventory::Reserve(std::span<const StockLine> lines,
                                                  const ReserveOptions& options) {
  OC_ASSIGN_OR_RETURN(auto per_sku, Aggregate(lines));
  std::map<std::string, int64_t, std::less<>> releasing;
  if (!options.releasing.empty()) {
    OC_ASSIGN_OR_RETURN(releasing, Aggregate(options.releasing));
    for (const auto& [sku, qty] : releasing) {
      auto level = Get(sku);
      if (!level || level->reserved < qty) {
        return Status::Internal("releasing more of '" + sku + "' than is reserved");
      }
    }
  }
  auto released_of = [&](const std::string& sku) -> int64_t {
    auto it = releasing.find(sku);
    return it == releasing.end() ? 0 : it->second;
  };
  std::string short_skus;
  std::vector<StockLine> shortfall;
  for (const auto& [sku, qty] : per_sku) {
    auto level = Get(sku);
    int64_t usable = (level ? level->available() : 0) + released_of(sku);
    if (usable >= qty) continue;
    if (options.accept_oversell) {
      shortfall.push_back({sku, qty - usable});
      continue;
    }
    if (!short_skus.empty()) short_skus += ", ";
    short_skus += sku + " (wanted " + std::to_string(qty) + ", available " +
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
      return Status::Internal("releasing more of '" + sku + "' than is reserved");
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
      return Status::Internal("selling more of '" + sku + "' than is reserved");
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
      levels_[sku] = *before;
    } else {
      levels_.erase(sku);
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
