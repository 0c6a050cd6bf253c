#include "outbox/delivery_limiter.h"

#include <algorithm>

namespace oc::outbox {

DeliveryLimiter::DeliveryLimiter(int64_t max_per_minute)
    : configured_(std::max<int64_t>(1, max_per_minute)), limit_(configured_) {}

void DeliveryLimiter::Forget(Clock::time_point now) {
  while (!sent_.empty() && sent_.front() + kWindow + kGuard <= now) sent_.pop_front();
}

DeliveryLimiter::Clock::time_point DeliveryLimiter::NextAllowed(Clock::time_point now) {
  Forget(now);
  Clock::time_point at = std::max(now, not_before_);
  if (last_sent_) {
    auto spacing = std::chrono::duration_cast<Clock::duration>(kWindow + kGuard) / limit_;
    at = std::max(at, *last_sent_ + spacing);
  }
  if (static_cast<int64_t>(sent_.size()) >= limit_) {
    // The request that leaves the window first makes room.
    size_t excess = sent_.size() - static_cast<size_t>(limit_);
    at = std::max(at, sent_[excess] + kWindow + kGuard);
  }
  return at;
}

void DeliveryLimiter::RecordSent(Clock::time_point now) {
  sent_.push_back(now);
  last_sent_ = now;
  // Only the last `configured_` sends can matter to the window rule.
  while (static_cast<int64_t>(sent_.size()) > configured_) sent_.pop_front();
}

void DeliveryLimiter::PushedBack(Clock::time_point now, std::chrono::milliseconds retry_after) {
  limit_ = std::max<int64_t>(1, limit_ / 2);
  last_pushback_ = now;
  not_before_ = std::max(not_before_, now + retry_after);
}

void DeliveryLimiter::Succeeded(Clock::time_point now) {
  if (limit_ >= configured_ || now - last_pushback_ < kWindow + kGuard) return;
  limit_ = std::min(configured_, limit_ + std::max<int64_t>(1, configured_ / 10));
  last_pushback_ = now;  // the next step needs another quiet window
}

}  // namespace oc::outbox
