#include "core/money.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace oc {
namespace {

constexpr int64_t kMax = int64_t{1} << 53;
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();

TEST(MoneyTest, BoundIsTwoToThe53) { EXPECT_EQ(kMoneyMagnitudeMax, 9007199254740992); }

TEST(MoneyTest, CheckedAddInsideTheBound) {
  EXPECT_EQ(CheckedAdd(0, 0), 0);
  EXPECT_EQ(CheckedAdd(12990, 10), 13000);
  EXPECT_EQ(CheckedAdd(-5, 3), -2);
  EXPECT_EQ(CheckedAdd(kMax - 1, 1), kMax);
  EXPECT_EQ(CheckedAdd(kMax, 0), kMax);
  EXPECT_EQ(CheckedAdd(-kMax + 1, -1), -kMax);
  EXPECT_EQ(CheckedAdd(kMax, -kMax), 0);
}

TEST(MoneyTest, CheckedAddBeyondTheBound) {
  EXPECT_EQ(CheckedAdd(kMax, 1), std::nullopt);
  EXPECT_EQ(CheckedAdd(1, kMax), std::nullopt);
  EXPECT_EQ(CheckedAdd(kMax / 2 + 1, kMax / 2), std::nullopt);
  EXPECT_EQ(CheckedAdd(-kMax, -1), std::nullopt);
  EXPECT_EQ(CheckedAdd(kMax + 1, 0), std::nullopt);  // an operand already out of range
  // No int64 overflow on the way: extreme operands are refused, not wrapped.
  EXPECT_EQ(CheckedAdd(kI64Max, kI64Max), std::nullopt);
  EXPECT_EQ(CheckedAdd(kI64Min, kI64Min), std::nullopt);
  EXPECT_EQ(CheckedAdd(kI64Max, 1), std::nullopt);
}

TEST(MoneyTest, CheckedMulInsideTheBound) {
  EXPECT_EQ(CheckedMul(3, 12990), 38970);
  EXPECT_EQ(CheckedMul(0, kI64Max), 0);
  EXPECT_EQ(CheckedMul(int64_t{1} << 26, int64_t{1} << 27), kMax);
  EXPECT_EQ(CheckedMul(kMax, 1), kMax);
  EXPECT_EQ(CheckedMul(-kMax, 1), -kMax);
  EXPECT_EQ(CheckedMul(kMax, -1), -kMax);
  EXPECT_EQ(CheckedMul(-1, -1), 1);
}

TEST(MoneyTest, CheckedMulBeyondTheBound) {
  EXPECT_EQ(CheckedMul(kMax + 1, 1), std::nullopt);
  EXPECT_EQ(CheckedMul(kMax, 2), std::nullopt);
  EXPECT_EQ(CheckedMul((int64_t{1} << 26) + 1, int64_t{1} << 27), std::nullopt);
  EXPECT_EQ(CheckedMul(1'000'000, 9'007'199'255), std::nullopt);  // 9.007199255e15 > 2^53
  EXPECT_EQ(CheckedMul(-kMax, 2), std::nullopt);
  // Products that overflow int64 itself are refused, not wrapped into range.
  EXPECT_EQ(CheckedMul(kI64Max, kI64Max), std::nullopt);
  EXPECT_EQ(CheckedMul(kI64Min, -1), std::nullopt);
  EXPECT_EQ(CheckedMul(int64_t{1} << 32, int64_t{1} << 32), std::nullopt);  // wraps to 0
}

TEST(MoneyTest, CurrencyMinorDigits) {
  EXPECT_EQ(CurrencyMinorDigits("CNY"), 2);
  EXPECT_EQ(CurrencyMinorDigits("USD"), 2);
  EXPECT_EQ(CurrencyMinorDigits("EUR"), 2);
  EXPECT_EQ(CurrencyMinorDigits("HKD"), 2);
  EXPECT_EQ(CurrencyMinorDigits("JPY"), 0);
  EXPECT_EQ(CurrencyMinorDigits("KRW"), 0);
  EXPECT_EQ(CurrencyMinorDigits("VND"), 0);
  EXPECT_EQ(CurrencyMinorDigits("KWD"), 3);
  EXPECT_EQ(CurrencyMinorDigits("BHD"), 3);
}

TEST(MoneyTest, UnknownCurrenciesAreRefused) {
  for (const char* bad : {"", "XYZ", "cny", "Cny", "CN", "CNYY", " CNY", "CNY ", "RMB", "XXX"}) {
    EXPECT_EQ(CurrencyMinorDigits(bad), std::nullopt) << "'" << bad << "'";
    EXPECT_FALSE(IsKnownCurrency(bad)) << "'" << bad << "'";
  }
  EXPECT_FALSE(IsKnownCurrency(std::string_view("CNY\0", 4)));
}

TEST(MoneyTest, IsKnownCurrencyAgreesWithTheTable) {
  for (const char* code : {"CNY", "USD", "JPY", "KWD", "BHD", "SGD", "EUR", "GBP"}) {
    EXPECT_TRUE(IsKnownCurrency(code)) << code;
    auto digits = CurrencyMinorDigits(code);
    ASSERT_TRUE(digits.has_value()) << code;
    EXPECT_GE(*digits, 0);
    EXPECT_LE(*digits, 3);
  }
}

}  // namespace
}  // namespace oc
