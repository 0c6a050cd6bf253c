// DeliveryLimiter: how fast one subscriber may be called — the partner's published limit, made
// exact, and lowered by itself when the partner pushes back.
//
// Partners count requests per rolling minute, and answer 408/429 above it. Requests are spaced
// evenly, one per (window / limit), rather than let through in a burst: a burst of 100 small
// requests would spend a 100/min partner's whole minute on the first few events of a flash sale,
// while spacing lets the events that arrive meanwhile merge into the next batch. On top, the send
// times of the last `limit` requests are kept and a request waits while `limit` were sent in the
// last window. The window is a minute plus a guard, so that network delay between our send and
// their receipt cannot put one request too many inside their minute. When the partner still answers
// 408/429 (its real limit is lower than configured, or shared with others), the limit is halved
// and Retry-After is honoured; each full window without pushback raises it by a tenth of the
// configured value again, never above it (additive increase, multiplicative decrease). Times are
// passed in, so tests drive it with any clock. Not thread-safe: one delivery worker owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

namespace oc::outbox {

class DeliveryLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kWindow{60'000};
  static constexpr std::chrono::milliseconds kGuard{1'000};

  explicit DeliveryLimiter(int64_t max_per_minute);

  // The earliest time a request may be sent (now or later).
  Clock::time_point NextAllowed(Clock::time_point now);
  void RecordSent(Clock::time_point now);
  // The partner answered 408 or 429: halve the limit; don't send before now + retry_after.
  void PushedBack(Clock::time_point now, std::chrono::milliseconds retry_after);
  // Any other answer: recovers the limit step by step after a quiet window.
  void Succeeded(Clock::time_point now);

  int64_t limit() const { return limit_; }

 private:
  void Forget(Clock::time_point now);

  int64_t configured_;
  int64_t limit_;
  std::deque<Clock::time_point> sent_;
  Clock::time_point not_before_{};
  std::optional<Clock::time_point> last_sent_;
  Clock::time_point last_pushback_{};
};

}  // namespace oc::outbox
