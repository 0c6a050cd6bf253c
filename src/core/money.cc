#include "core/money.h"

#include <array>

namespace oc {
namespace {

struct Currency {
  std::string_view code;
  int minor_digits;
};

// The currencies our channels settle in, plus the common ones partners report in.
constexpr std::array<Currency, 28> kCurrencies = {{
    {"CNY", 2}, {"HKD", 2}, {"TWD", 2}, {"MOP", 2}, {"USD", 2}, {"EUR", 2}, {"GBP", 2},
    {"JPY", 0}, {"KRW", 0}, {"SGD", 2}, {"MYR", 2}, {"THB", 2}, {"VND", 0}, {"IDR", 2},
    {"PHP", 2}, {"AUD", 2}, {"NZD", 2}, {"CAD", 2}, {"CHF", 2}, {"SEK", 2}, {"NOK", 2},
    {"DKK", 2}, {"INR", 2}, {"RUB", 2}, {"AED", 2}, {"SAR", 2}, {"BHD", 3}, {"KWD", 3},
}};

bool InRange(__int128 v) { return v <= kMoneyMagnitudeMax && v >= -kMoneyMagnitudeMax; }

}  // namespace

std::optional<int> CurrencyMinorDigits(std::string_view code) {
  for (const auto& c : kCurrencies) {
    if (c.code == code) return c.minor_digits;
  }
  return std::nullopt;
}

bool IsKnownCurrency(std::string_view code) { return CurrencyMinorDigits(code).has_value(); }

std::optional<int64_t> CheckedMul(int64_t a, int64_t b) {
  __int128 r = static_cast<__int128>(a) * b;
  if (!InRange(r)) return std::nullopt;
  return static_cast<int64_t>(r);
}

std::optional<int64_t> CheckedAdd(int64_t a, int64_t b) {
  __int128 r = static_cast<__int128>(a) + b;
  if (!InRange(r)) return std::nullopt;
  return static_cast<int64_t>(r);
}

}  // namespace oc
