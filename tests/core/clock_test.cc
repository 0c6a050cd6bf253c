// RFC 3339 formatting and parsing, and the ManualClock tests rely on. Expected instants were
// computed independently (Python's datetime), not read back from this implementation.
#include "core/clock.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>
#include <string>

namespace oc {
namespace {

TEST(ManualClockTest, SetAndAdvance) {
  ManualClock clock(1000);
  EXPECT_EQ(clock.NowUnixMs(), 1000);
  clock.Advance(250);
  EXPECT_EQ(clock.NowUnixMs(), 1250);
  clock.Advance(-50);
  EXPECT_EQ(clock.NowUnixMs(), 1200);
  clock.Set(7);
  EXPECT_EQ(clock.NowUnixMs(), 7);
}

TEST(SystemClockTest, IsAfter2024AndMonotoneEnoughForTwoReads) {
  int64_t a = Clock::System().NowUnixMs();
  int64_t b = Clock::System().NowUnixMs();
  EXPECT_GT(a, 1'704'067'200'000);  // 2024-01-01T00:00:00Z
  EXPECT_LE(a, b + 1000);           // no wild jumps between two consecutive reads
}

TEST(RandomTest, SecureFillsAndDiffers) {
  std::set<uint64_t> seen;
  for (int i = 0; i < 64; ++i) seen.insert(Random::Secure().NextU64());
  EXPECT_EQ(seen.size(), 64u);
}

TEST(RandomTest, NextU64IsBigEndianOfFill) {
  class Seq final : public Random {
   public:
    void Fill(unsigned char* out, size_t len) override {
      for (size_t i = 0; i < len; ++i) out[i] = static_cast<unsigned char>(i + 1);
    }
  } seq;
  EXPECT_EQ(seq.NextU64(), 0x0102030405060708u);
}

TEST(Rfc3339Test, FormatKnownInstants) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(1'794'355'201'000), "2026-11-11T00:00:01.000Z");
  EXPECT_EQ(FormatRfc3339(1'709'181'296'789), "2024-02-29T04:34:56.789Z");
  EXPECT_EQ(FormatRfc3339(951'868'800'000), "2000-03-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(2'147'483'648'000), "2038-01-19T03:14:08.000Z");  // past int32 time
  EXPECT_EQ(FormatRfc3339(5), "1970-01-01T00:00:00.005Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339(-1000), "1969-12-31T23:59:59.000Z");
}

// The fast path covers years 0000-9999; beyond them the general path keeps the old output.
TEST(Rfc3339Test, FormatEdgesOfFourDigitYears) {
  EXPECT_EQ(FormatRfc3339(-62'167'219'200'000), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(-62'167'219'200'001), "-001-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339(253'402'300'799'999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339(253'402'300'800'000), "10000-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(4'107'542'399'999), "2100-02-28T23:59:59.999Z");  // not a leap year
}

// What the formatter remembers of recent seconds must never show: interleaved seconds, many
// milliseconds of each, and a third second that takes a slot, against gmtime_r + snprintf.
TEST(Rfc3339Test, FormatAgreesWithGmtimeWhateverCameBefore) {
  auto reference = [](int64_t unix_ms) {
    std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(unix_ms % 1000));
    return std::string(buf);
  };
  const int64_t created = 1'794'355'201'000;
  const int64_t expires = created + 900'000;
  uint64_t step = 0x9E3779B97F4A7C15u;
  for (int i = 0; i < 5000; ++i) {
    step = step * 6364136223846793005u + 1442695040888963407u;
    int64_t ms = static_cast<int64_t>(step >> 54);  // 0..1023
    int64_t base = i % 7 == 6 ? created + 86'400'000 * (i % 13) : (i % 2 ? expires : created);
    int64_t at = base + ms;
    ASSERT_EQ(FormatRfc3339(at), reference(at)) << at;
    std::string appended = "x";
    AppendRfc3339(&appended, at);
    ASSERT_EQ(appended, "x" + reference(at)) << at;
  }
  // The general path (five-digit years) is never taken from memory, nor leaves its text there;
  // negative instants use the remembered path like any other.
  EXPECT_EQ(FormatRfc3339(253'402'300'800'123), "10000-01-01T00:00:00.123Z");
  EXPECT_EQ(FormatRfc3339(253'402'300'800'456), "10000-01-01T00:00:00.456Z");
  EXPECT_EQ(FormatRfc3339(created + 7), reference(created + 7));
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339(-2), "1969-12-31T23:59:59.998Z");
  EXPECT_EQ(FormatRfc3339(-1001), "1969-12-31T23:59:58.999Z");
}

TEST(SecureRandomTest, SmallAndLargeDrawsDiffer) {
  Random& r = Random::Secure();
  std::set<uint64_t> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(r.NextU64());  // crosses many refills
  EXPECT_EQ(seen.size(), 2000u);
  unsigned char big[4096] = {};
  r.Fill(big, sizeof big);  // larger than the per-thread block: drawn directly
  EXPECT_NE(std::count(big, big + sizeof big, 0), static_cast<long>(sizeof big));
}

TEST(Rfc3339Test, ParseUtc) {
  int64_t ms = -42;
  ASSERT_TRUE(ParseRfc3339("2026-11-11T00:00:01Z", &ms));
  EXPECT_EQ(ms, 1'794'355'201'000);
  ASSERT_TRUE(ParseRfc3339("1970-01-01T00:00:00Z", &ms));
  EXPECT_EQ(ms, 0);
  ASSERT_TRUE(ParseRfc3339("2000-03-01T00:00:00Z", &ms));
  EXPECT_EQ(ms, 951'868'800'000);
  ASSERT_TRUE(ParseRfc3339("2026-11-11t00:00:01z", &ms));  // RFC 3339 allows lowercase t/z
  EXPECT_EQ(ms, 1'794'355'201'000);
}

TEST(Rfc3339Test, ParseOffsets) {
  int64_t ms = 0;
  ASSERT_TRUE(ParseRfc3339("2024-02-29T12:34:56.789+08:00", &ms));
  EXPECT_EQ(ms, 1'709'181'296'789);
  ASSERT_TRUE(ParseRfc3339("1999-12-31T23:59:59.5-05:30", &ms));
  EXPECT_EQ(ms, 946'704'599'500);
  ASSERT_TRUE(ParseRfc3339("2026-11-11T08:00:01+08:00", &ms));
  EXPECT_EQ(ms, 1'794'355'201'000);
  ASSERT_TRUE(ParseRfc3339("2026-11-10T16:00:01-08:00", &ms));
  EXPECT_EQ(ms, 1'794'355'201'000);
  ASSERT_TRUE(ParseRfc3339("2026-11-11T00:00:01+00:00", &ms));
  EXPECT_EQ(ms, 1'794'355'201'000);
  ASSERT_TRUE(ParseRfc3339("2026-11-11T00:00:01-00:00", &ms));
  EXPECT_EQ(ms, 1'794'355'201'000);
}

TEST(Rfc3339Test, ParseFractions) {
  const int64_t base = 1'794'355'201'000;
  struct Case {
    const char* text;
    int64_t ms;
  } cases[] = {
      {"2026-11-11T00:00:01.0Z", base},
      {"2026-11-11T00:00:01.5Z", base + 500},
      {"2026-11-11T00:00:01.05Z", base + 50},
      {"2026-11-11T00:00:01.123Z", base + 123},
      {"2026-11-11T00:00:01.1239Z", base + 123},  // below a millisecond is dropped
      {"2026-11-11T00:00:01.999999999Z", base + 999},
      {"2026-11-11T00:00:01.000001Z", base},
      {"2026-11-11T08:00:01.250+08:00", base + 250},
  };
  for (const auto& c : cases) {
    int64_t ms = 0;
    ASSERT_TRUE(ParseRfc3339(c.text, &ms)) << c.text;
    EXPECT_EQ(ms, c.ms) << c.text;
  }
}

TEST(Rfc3339Test, ParseRefusesInvalidInputs) {
  const char* bad[] = {
      "",
      "2026",
      "2026-11-11",
      "2026-11-11T00:00:01",         // no zone
      "2026-11-11T00:00Z",           // no seconds
      "2026-11-11T00:00:01.Z",       // empty fraction
      "2026-11-11T00:00:01,5Z",      // comma fraction
      "2026-11-11T00:00:01+0800",    // offset without colon
      "2026-11-11T00:00:01+08",      // offset without minutes
      "2026-11-11T00:00:01+8:00",    // one-digit hour
      "2026-11-11T00:00:01+24:00",   // offset hour out of range
      "2026-11-11T00:00:01+08:60",   // offset minute out of range
      "2026-11-11T00:00:01Zjunk",    // trailing garbage
      "2026-11-11T00:00:01Z ",       // trailing space
      "2026-11-11T00:00:01+08:00x",  // trailing garbage after offset
      " 2026-11-11T00:00:01Z",       // leading space
      "2026/11/11T00:00:01Z",
      "2026-11-11X00:00:01Z",
      "2026-11-11T00-00-01Z",
      "26-11-11T00:00:01Z",
      "2026-1-11T00:00:01Z",
      "2026-00-11T00:00:01Z",  // month 0
      "2026-13-11T00:00:01Z",  // month 13
      "2026-11-00T00:00:01Z",  // day 0
      "2026-11-32T00:00:01Z",  // day 32
      "2026-11-11T24:00:00Z",  // hour 24
      "2026-11-11T23:60:00Z",  // minute 60
      "2026-11-11T23:59:61Z",  // second 61
      "2026-11-11T0a:00:01Z",
      "+2026-11-11T00:00:01Z",
      "2026-11-11T00:00:01.5",  // fraction, then nothing
      "2026-11-11T00:00:01.5.5Z",
  };
  for (const char* text : bad) {
    int64_t ms = 12345;
    EXPECT_FALSE(ParseRfc3339(text, &ms)) << "'" << text << "'";
  }
  int64_t ms = 0;
  EXPECT_FALSE(ParseRfc3339(std::string_view("2026-11-11T00:00:01Z\0", 21), &ms));
}

TEST(Rfc3339Test, ParseRefusesDaysTheMonthDoesNotHave) {
  for (const char* text :
       {"2026-02-29T00:00:00Z", "2026-02-30T00:00:00Z", "2026-02-31T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-06-31T00:00:00Z", "2026-09-31T00:00:00Z",
        "2026-11-31T00:00:00Z", "1900-02-29T00:00:00Z", "2100-02-29T00:00:00Z"}) {
    int64_t ms = 0;
    EXPECT_FALSE(ParseRfc3339(text, &ms)) << text;
  }
  for (const char* text : {"2024-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2026-01-31T00:00:00Z",
                           "2026-12-31T23:59:59Z", "2026-02-28T00:00:00Z"}) {
    int64_t ms = 0;
    EXPECT_TRUE(ParseRfc3339(text, &ms)) << text;
  }
}

TEST(Rfc3339Test, FormatParseRoundTrip) {
  const int64_t samples[] = {0,
                             1,
                             999,
                             1000,
                             86'399'999,
                             951'782'400'000,    // 2000-02-29
                             1'709'164'800'000,  // 2024-02-29
                             1'794'355'201'123,
                             2'147'483'647'999,
                             4'102'444'800'000,     // 2100-01-01
                             253'402'300'799'999};  // 9999-12-31T23:59:59.999Z
  for (int64_t want : samples) {
    std::string text = FormatRfc3339(want);
    int64_t got = -1;
    ASSERT_TRUE(ParseRfc3339(text, &got)) << text;
    EXPECT_EQ(got, want) << text;
  }
  // A sweep with an irregular stride crosses many month, year and leap-day boundaries.
  for (int64_t t = 0; t < 4'102'444'800'000; t += 7'919'999'977) {
    std::string text = FormatRfc3339(t);
    int64_t got = -1;
    ASSERT_TRUE(ParseRfc3339(text, &got)) << text;
    ASSERT_EQ(got, t) << text;
  }
}

TEST(Rfc3339Test, FormatShape) {
  for (int64_t t : {int64_t{0}, int64_t{1'794'355'201'007}, int64_t{4'102'444'799'999}}) {
    std::string s = FormatRfc3339(t);
    ASSERT_EQ(s.size(), 24u) << s;
    EXPECT_EQ(s[4], '-');
    EXPECT_EQ(s[7], '-');
    EXPECT_EQ(s[10], 'T');
    EXPECT_EQ(s[13], ':');
    EXPECT_EQ(s[16], ':');
    EXPECT_EQ(s[19], '.');
    EXPECT_EQ(s[23], 'Z');
  }
}

}  // namespace
}  // namespace oc
