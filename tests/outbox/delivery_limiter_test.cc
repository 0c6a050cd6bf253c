// DeliveryLimiter: never more than the partner's limit in any minute, evenly spaced, halved on
// pushback and recovered after quiet windows. Time is passed in: no sleeping.
#include "outbox/delivery_limiter.h"

#include <gtest/gtest.h>

namespace oc::outbox {
namespace {

using Clock = DeliveryLimiter::Clock;
using std::chrono::milliseconds;

// Sends as fast as the limiter allows from `start` for `duration`; returns the send times.
std::vector<Clock::time_point> Drive(DeliveryLimiter& l, Clock::time_point start,
                                     milliseconds duration) {
  std::vector<Clock::time_point> sent;
  Clock::time_point now = start;
  while (true) {
    now = l.NextAllowed(now);
    if (now >= start + duration) break;
    l.RecordSent(now);
    sent.push_back(now);
  }
  return sent;
}

TEST(DeliveryLimiterTest, NoMinuteEverHoldsMoreThanTheLimit) {
  DeliveryLimiter l(100);
  Clock::time_point t0{};
  auto sent = Drive(l, t0, milliseconds(10 * 60'000));
  ASSERT_GT(sent.size(), 900u);  // it does not starve either: ~98 a minute
  for (size_t i = 0; i < sent.size(); ++i) {
    size_t in_window = 0;
    for (size_t j = i; j < sent.size() && sent[j] < sent[i] + DeliveryLimiter::kWindow; ++j) {
      ++in_window;
    }
    ASSERT_LE(in_window, 100u) << "window starting at send " << i;
  }
}

TEST(DeliveryLimiterTest, RequestsAreSpacedNotBurst) {
  DeliveryLimiter l(60);
  Clock::time_point t0{};
  auto sent = Drive(l, t0, milliseconds(5'000));
  ASSERT_GE(sent.size(), 4u);
  for (size_t i = 1; i < sent.size(); ++i) {
    EXPECT_GE(sent[i] - sent[i - 1], milliseconds(1'000)) << i;  // 61 s / 60
  }
}

TEST(DeliveryLimiterTest, PushbackHalvesHonoursRetryAfterAndRecoversSlowly) {
  DeliveryLimiter l(100);
  Clock::time_point t0{};
  l.RecordSent(t0);
  l.PushedBack(t0, milliseconds(5'000));
  EXPECT_EQ(l.limit(), 50);
  EXPECT_GE(l.NextAllowed(t0), t0 + milliseconds(5'000));
  l.PushedBack(t0, milliseconds(0));
  EXPECT_EQ(l.limit(), 25);
  for (int i = 0; i < 10; ++i) l.PushedBack(t0, milliseconds(0));
  EXPECT_EQ(l.limit(), 1);  // never zero
  l.Succeeded(t0 + milliseconds(1'000));
  EXPECT_EQ(l.limit(), 1);  // not before a quiet window
  Clock::time_point later = t0 + DeliveryLimiter::kWindow + DeliveryLimiter::kGuard;
  l.Succeeded(later);
  EXPECT_EQ(l.limit(), 11);  // +10% of the configured 100
  l.Succeeded(later + milliseconds(1));
  EXPECT_EQ(l.limit(), 11);  // the next step needs another quiet window
  Clock::time_point t = later;
  for (int i = 0; i < 20; ++i) {
    t += DeliveryLimiter::kWindow + DeliveryLimiter::kGuard;
    l.Succeeded(t);
  }
  EXPECT_EQ(l.limit(), 100);  // back to the configured limit, never above
}

}  // namespace
}  // namespace oc::outbox
