// Money: integer minor units with an ISO-4217 currency, never floating point.
//
// Amounts are int64 minor units (12990 = 129.90 CNY). Every amount that crosses the API must stay
// within ±2^53 so JavaScript clients (the dashboard) read it exactly; arithmetic here checks for
// that bound and for overflow instead of wrapping. Pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace oc {

inline constexpr int64_t kMoneyMagnitudeMax = int64_t{1} << 53;  // JSON-safe integer bound

// The number of minor-unit digits of an ISO-4217 currency, or nullopt if we do not know it.
std::optional<int> CurrencyMinorDigits(std::string_view code);
bool IsKnownCurrency(std::string_view code);

// a * b and a + b within ±kMoneyMagnitudeMax; nullopt when the result would leave that range.
std::optional<int64_t> CheckedMul(int64_t a, int64_t b);
std::optional<int64_t> CheckedAdd(int64_t a, int64_t b);

}  // namespace oc
