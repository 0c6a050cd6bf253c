#include "core/clock.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <stdexcept>

namespace oc {
namespace {

class SystemClock final : public Clock {
 public:
  int64_t NowUnixMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

void DrawOrThrow(unsigned char* out, size_t len) {
  if (RAND_bytes(out, static_cast<int>(len)) != 1) {
    throw std::runtime_error("RAND_bytes failed");  // no entropy is a broken machine
  }
}

// Bumped in a forked child, so a child never hands out bytes its parent drew (or will).
std::atomic<uint64_t> fork_generation{0};

// Each RAND_bytes call costs about as much as an AES key schedule (the DRBG re-keys itself after
// every request), and every created order needs three small draws (two ids, one data key). So
// small requests are served from a per-thread block of DRBG output, drawn once per
// kRandomBlockBytes. Bytes leave the block exactly once and are wiped as they leave, so the
// block never holds randomness that was already handed out.
class SecureRandom final : public Random {
 public:
  SecureRandom() {
    static const int registered = pthread_atfork(nullptr, nullptr, [] { ++fork_generation; });
    (void)registered;
  }

  void Fill(unsigned char* out, size_t len) override {
    if (len > kSmallDrawBytesMax) {
      DrawOrThrow(out, len);
      return;
    }
    Block& b = block_;
    uint64_t generation = fork_generation.load(std::memory_order_relaxed);
    if (b.generation != generation) {
      OPENSSL_cleanse(b.bytes, sizeof b.bytes);
      b.used = sizeof b.bytes;
      b.generation = generation;
    }
    if (sizeof b.bytes - b.used < len) {
      DrawOrThrow(b.bytes, sizeof b.bytes);
      b.used = 0;
    }
    std::memcpy(out, b.bytes + b.used, len);
    OPENSSL_cleanse(b.bytes + b.used, len);
    b.used += len;
  }

 private:
  static constexpr size_t kRandomBlockBytes = 1024;
  static constexpr size_t kSmallDrawBytesMax = 64;
  struct Block {
    unsigned char bytes[kRandomBlockBytes] = {};
    size_t used = kRandomBlockBytes;  // empty: the first request draws
    uint64_t generation = 0;
    ~Block() { OPENSSL_cleanse(bytes, sizeof bytes); }
  };
  static thread_local Block block_;
};

thread_local SecureRandom::Block SecureRandom::block_;

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Howard Hinnant's civil_from_days, the inverse of DaysFromCivil.
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

Clock& Clock::System() {
  static SystemClock clock;
  return clock;
}

Random& Random::Secure() {
  static SecureRandom random;
  return random;
}

uint64_t Random::NextU64() {
  unsigned char b[8];
  Fill(b, sizeof b);
  uint64_t v = 0;
  for (unsigned char c : b) v = (v << 8) | c;
  return v;
}

void AppendRfc3339(std::string* out, int64_t unix_ms) {
  int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  int ms = static_cast<int>(unix_ms - secs * 1000);
  // Timestamps written together mostly share their second with one of the last two new seconds
  // this thread formatted (a hold's created_at and expires_at each share the previous hold's):
  // those two are kept whole, replaced in turn, and only the milliseconds are put in. Years
  // outside 0000-9999 take the general path and are never kept.
  struct Second {
    int64_t secs = std::numeric_limits<int64_t>::min();
    char text[25] = "0000-00-00T00:00:00.000Z";
  };
  struct RecentSeconds {
    Second slot[2];
    unsigned next = 0;  // the slot the next new second replaces
  };
  thread_local RecentSeconds recent;
  for (Second& known : recent.slot) {
    if (known.secs != secs) continue;
    char* t = known.text;
    t[20] = static_cast<char>('0' + ms / 100);
    t[21] = static_cast<char>('0' + ms / 10 % 10);
    t[22] = static_cast<char>('0' + ms % 10);
    out->append(t, 24);
    return;
  }
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t sod = secs - days * 86400;
  int64_t y;
  unsigned mo, d;
  CivilFromDays(days, &y, &mo, &d);
  if (y < 0 || y > 9999) {
    // Outside four-digit years: the general (slow) path, same format.
    std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                          tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    out->append(buf, static_cast<size_t>(std::max(n, 0)));
    return;
  }
  // This runs several times per created order and per hold (views, events): no snprintf.
  char buf[] = "0000-00-00T00:00:00.000Z";
  auto put = [&buf](size_t pos, unsigned v, size_t width) {
    for (size_t i = width; i > 0; --i) {
      buf[pos + i - 1] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  put(0, static_cast<unsigned>(y), 4);
  put(5, mo, 2);
  put(8, d, 2);
  put(11, static_cast<unsigned>(sod / 3600), 2);
  put(14, static_cast<unsigned>(sod / 60 % 60), 2);
  put(17, static_cast<unsigned>(sod % 60), 2);
  put(20, static_cast<unsigned>(ms), 3);
  out->append(buf, sizeof buf - 1);
  Second& slot = recent.slot[recent.next];
  recent.next ^= 1;
  slot.secs = secs;
  std::memcpy(slot.text, buf, sizeof slot.text);
}

std::string FormatRfc3339(int64_t unix_ms) {
  std::string out;
  AppendRfc3339(&out, unix_ms);
  return out;
}

bool ParseRfc3339(std::string_view s, int64_t* unix_ms) {
  int y, mo, d, h, mi, se;
  if (!Digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &se)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  static constexpr int kDaysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDaysInMonth[mo - 1] + (mo == 2 && leap ? 1 : 0)) return false;
  size_t pos = 19;
  int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return false;
  }
  int64_t offset_s = 0;
  if (pos >= s.size()) return false;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return false;
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_s;
  *unix_ms = secs * 1000 + frac_ms;
  return true;
}

}  // namespace oc
