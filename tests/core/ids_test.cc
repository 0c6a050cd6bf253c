#include "core/ids.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/clock.h"

namespace oc {
namespace {

constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// Fills every request with one byte value; deterministic.
class ConstantRandom final : public Random {
 public:
  explicit ConstantRandom(unsigned char byte) : byte_(byte) {}
  void Fill(unsigned char* out, size_t len) override { std::memset(out, byte_, len); }
  unsigned char byte_;
};

// A counter spread over the buffer: each Fill differs from every other.
class CountingRandom final : public Random {
 public:
  void Fill(unsigned char* out, size_t len) override {
    std::memset(out, 0, len);
    uint64_t n = ++counter_;
    for (size_t i = 0; i < len && i < 8; ++i) {
      out[len - 1 - i] = static_cast<unsigned char>(n >> (8 * i));
    }
  }
  uint64_t counter_ = 0;
};

bool IsCrockford(char c) { return std::strchr(kCrockford, c) != nullptr && c != '\0'; }

TEST(IdsTest, ShapeIsPrefixUnderscoreAnd26Crockford) {
  IdGenerator ids(Clock::System(), Random::Secure());
  for (const char* prefix : {"ord", "evt", "key"}) {
    std::string id = ids.Next(prefix);
    ASSERT_EQ(id.size(), std::strlen(prefix) + 1 + 26) << id;
    EXPECT_EQ(id.substr(0, std::strlen(prefix) + 1), std::string(prefix) + "_") << id;
    for (char c : id.substr(std::strlen(prefix) + 1)) EXPECT_TRUE(IsCrockford(c)) << id;
    EXPECT_TRUE(LooksLikeId(id, prefix)) << id;
  }
}

TEST(IdsTest, TimePrefixEncodesMillisecondsBigEndianBase32) {
  ConstantRandom zero(0);
  ManualClock clock(0);
  IdGenerator ids(clock, zero);
  EXPECT_EQ(ids.Next("ord"), "ord_" + std::string(26, '0'));
  clock.Set(1);
  EXPECT_EQ(ids.Next("ord").substr(4, 10), "0000000001");
  clock.Set(31);
  EXPECT_EQ(ids.Next("ord").substr(4, 10), "000000000Z");
  clock.Set(32);
  EXPECT_EQ(ids.Next("ord").substr(4, 10), "0000000010");
  clock.Set((int64_t{1} << 48) - 1);  // the largest 48-bit time: 7 then nine Z
  EXPECT_EQ(ids.Next("ord").substr(4, 10), "7ZZZZZZZZZ");
}

TEST(IdsTest, RandomPartCarriesAll80Bits) {
  ManualClock clock(0);
  ConstantRandom ones(0xFF);
  EXPECT_EQ(IdGenerator(clock, ones).Next("x").substr(12), std::string(16, 'Z'));
  ConstantRandom pattern(0x84);  // 10000100 x5 = 10000 10010 00010 01000 01001 00001 00100 00100
  std::string body = IdGenerator(clock, pattern).Next("x").substr(12);
  EXPECT_EQ(body.size(), 16u);
  EXPECT_EQ(body.substr(0, 8), "GJ289144");
  EXPECT_EQ(body.substr(8), "GJ289144");
}

TEST(IdsTest, UniqueOver100k) {
  IdGenerator ids(Clock::System(), Random::Secure());
  std::unordered_set<std::string> seen;
  seen.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) {
    ASSERT_TRUE(seen.insert(ids.Next("ord")).second) << "duplicate at " << i;
  }
  EXPECT_EQ(seen.size(), 100'000u);
}

TEST(IdsTest, UniqueWithinOneMillisecond) {
  ManualClock clock(1'794'355'201'000);
  IdGenerator ids(clock, Random::Secure());
  std::unordered_set<std::string> seen;
  for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(seen.insert(ids.Next("evt")).second);
}

TEST(IdsTest, SortByCreationTime) {
  // Random bits that *decrease* from id to id: only the time prefix can make them sort.
  class Decreasing final : public Random {
   public:
    void Fill(unsigned char* out, size_t len) override { std::memset(out, next_--, len); }
    unsigned char next_ = 0xFF;
  } random;
  ManualClock clock(1'700'000'000'000);
  IdGenerator ids(clock, random);
  std::vector<std::string> made;
  for (int i = 0; i < 200; ++i) {
    made.push_back(ids.Next("ord"));
    clock.Advance(i % 3 == 0 ? 1 : 997);
  }
  EXPECT_TRUE(std::is_sorted(made.begin(), made.end()));
  for (size_t i = 1; i < made.size(); ++i) EXPECT_LT(made[i - 1], made[i]) << i;
}

TEST(IdsTest, LaterTimeSortsAfterAcrossDigitCarry) {
  CountingRandom random;
  ManualClock clock(31);
  IdGenerator ids(clock, random);
  std::string a = ids.Next("ord");
  clock.Set(32);
  std::string b = ids.Next("ord");
  EXPECT_LT(a, b);
}

TEST(IdsTest, LooksLikeIdAcceptsGeneratedIds) {
  CountingRandom random;
  ManualClock clock(1'794'355'201'000);
  IdGenerator ids(clock, random);
  for (int i = 0; i < 100; ++i) {
    std::string id = ids.Next("ord");
    EXPECT_TRUE(LooksLikeId(id, "ord")) << id;
    EXPECT_FALSE(LooksLikeId(id, "evt")) << id;
    EXPECT_FALSE(LooksLikeId(id, "or")) << id;
  }
}

TEST(IdsTest, LooksLikeIdRefusesOtherShapes) {
  const std::string good = "ord_" + std::string("01JC0Q7Z8K5W3M2N4P6R8T9V0X");
  ASSERT_EQ(good.size(), 30u);
  ASSERT_TRUE(LooksLikeId(good, "ord"));
  std::vector<std::string> bad = {
      "",
      "ord",
      "ord_",
      good.substr(0, 29),                                  // one short
      good + "0",                                          // one long
      "ordx" + good.substr(4),                             // no underscore
      "evt_" + good.substr(4),                             // other prefix
      "ORD_" + good.substr(4),                             // prefix is case-sensitive
      "ord_" + std::string("01jc0q7z8k5w3m2n4p6r8t9v0x"),  // lowercase body
  };
  for (char c : std::string("ILOU-_ *\xC3")) {
    std::string s = good;
    s[10] = c;
    bad.push_back(s);
  }
  for (const auto& s : bad) EXPECT_FALSE(LooksLikeId(s, "ord")) << "'" << s << "'";
}

NumberMask MaskWithKey(unsigned char fill) {
  std::array<unsigned char, NumberMask::kKeyBytes> key{};
  key.fill(fill);
  return NumberMask(key);
}

// The 40 bits an id of `prefix` carries after its time and random parts, read as they stand.
uint64_t CarriedBits(std::string_view id, std::string_view prefix) {
  uint64_t v = 0;
  for (char c : id.substr(prefix.size() + 1 + 18, 8)) {
    v = (v << 5) | std::string_view(kCrockford).find(c);
  }
  return v;
}

TEST(IdsTest, NumberedIdsCarryTheirNumberBesideTimeAndRandomness) {
  ManualClock clock(1'700'000'000'000);
  CountingRandom random;
  IdGenerator ids(clock, random);
  NumberMask mask = MaskWithKey(7);
  for (uint64_t n :
       {uint64_t{0}, uint64_t{1}, uint64_t{31}, uint64_t{32}, uint64_t{123456789}, kIdNumberMax}) {
    std::string id = ids.NextNumbered("res", n, mask);
    EXPECT_TRUE(LooksLikeId(id, "res")) << id;
    EXPECT_EQ(NumberInId(id, "res", mask), n) << id;
  }
  // The same number twice still gives two ids (the random half differs), and ids sort by time.
  std::string a = ids.NextNumbered("res", 7, mask);
  std::string b = ids.NextNumbered("res", 7, mask);
  EXPECT_NE(a, b);
  clock.Advance(1);
  std::string later = ids.NextNumbered("res", 1, mask);
  EXPECT_LT(a, later);
  EXPECT_LT(b, later);
  // Numbers beyond 40 bits do not spill into the time or random part.
  EXPECT_EQ(NumberInId(ids.NextNumbered("res", kIdNumberMax + 5, mask), "res", mask), 4u);
  // Only well-formed ids of the prefix decode.
  EXPECT_EQ(NumberInId("res_NOPE", "res", mask), std::nullopt);
  EXPECT_EQ(NumberInId(a, "ord", mask), std::nullopt);
  EXPECT_EQ(NumberInId("res_" + std::string(26, 'U'), "res", mask), std::nullopt);
}

TEST(IdsTest, NumberedIdsDoNotShowTheirNumberWithoutTheKey) {
  ManualClock clock(1'700'000'000'000);
  IdGenerator ids(clock, Random::Secure());
  NumberMask mask = MaskWithKey(7);
  NumberMask other = MaskWithKey(8);
  // Consecutive numbers, as a flash sale's holds get them: what the ids carry is neither the
  // numbers nor in their order, and another key reads other numbers out of them.
  constexpr uint64_t kCount = 1000;
  size_t shown = 0, ascending = 0, other_key_right = 0;
  uint64_t previous = 0;
  for (uint64_t n = 1; n <= kCount; ++n) {
    std::string id = ids.NextNumbered("res", n, mask);
    ASSERT_EQ(NumberInId(id, "res", mask), n) << id;
    uint64_t carried = CarriedBits(id, "res");
    if (carried == n) ++shown;
    if (carried > previous) ++ascending;
    previous = carried;
    if (NumberInId(id, "res", other) == n) ++other_key_right;
  }
  EXPECT_EQ(shown, 0u);
  // Random order ascends about half the time; plain counting would ascend every time.
  EXPECT_GT(ascending, kCount * 2 / 5);
  EXPECT_LT(ascending, kCount * 3 / 5);
  EXPECT_EQ(other_key_right, 0u);
}

TEST(IdsTest, PlainNumbersAreReadFromIdsOfTheOlderLayout) {
  // Before NumberMask: time, then the number in plain view, then 40 random bits.
  EXPECT_EQ(PlainNumberInId("res_01JD00000000000007000ABCDF", "res"), 7u);
  EXPECT_EQ(PlainNumberInId("res_01JD000000ZZZZZZZZ000ABCDF", "res"), kIdNumberMax);
  EXPECT_EQ(PlainNumberInId("res_NOPE", "res"), std::nullopt);
  EXPECT_EQ(PlainNumberInId("ord_01JD00000000000007000ABCDF", "res"), std::nullopt);
}

}  // namespace
}  // namespace oc
