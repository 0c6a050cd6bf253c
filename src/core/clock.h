// Clock and Random: the only ways code in OrderCenter reads time or asks for randomness.
//
// Production uses the system clock and OpenSSL's CSPRNG; tests inject a ManualClock and a seeded
// generator so expiry, ids and retries are deterministic and no test ever sleeps. Both real
// implementations are thread-safe; ManualClock is too (atomic).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace oc {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch (UTC).
  virtual int64_t NowUnixMs() const = 0;
  static Clock& System();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_unix_ms) : now_ms_(start_unix_ms) {}
  int64_t NowUnixMs() const override { return now_ms_.load(); }
  void Advance(int64_t delta_ms) { now_ms_ += delta_ms; }
  void Set(int64_t unix_ms) { now_ms_ = unix_ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

class Random {
 public:
  virtual ~Random() = default;
  virtual void Fill(unsigned char* out, size_t len) = 0;
  uint64_t NextU64();
  static Random& Secure();  // OpenSSL RAND_bytes
};

// RFC 3339 UTC with millisecond precision ("2026-11-11T00:00:01.000Z").
std::string FormatRfc3339(int64_t unix_ms);
// The same, appended to `out` (no string of its own on the way).
void AppendRfc3339(std::string* out, int64_t unix_ms);
// Accepts RFC 3339 with 'Z' or a numeric offset, optional fractional seconds.
bool ParseRfc3339(std::string_view text, int64_t* unix_ms);

}  // namespace oc
