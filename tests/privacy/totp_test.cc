// TOTP against the RFC 6238 appendix B test vectors (SHA-1), truncated to 6 digits.
#include "privacy/totp.h"

#include <gtest/gtest.h>

namespace oc::privacy {
namespace {

// The RFC's SHA-1 secret, ASCII "12345678901234567890", in base32.
constexpr std::string_view kRfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

TEST(TotpTest, MatchesRfc6238Vectors) {
  // (Unix seconds, the RFC's 8-digit code): the last 6 digits are the 6-digit code.
  const std::pair<int64_t, std::string> vectors[] = {
      {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
      {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
  for (const auto& [t, code8] : vectors) {
    EXPECT_EQ(TotpCode(kRfcSecret, t / kTotpStepSeconds), code8.substr(2)) << "T=" << t;
  }
}

TEST(TotpTest, AcceptsOneStepOfDriftAndNoMore) {
  int64_t now_ms = 1234567890LL * 1000;
  int64_t step = 1234567890LL / kTotpStepSeconds;
  for (int64_t delta : {-1, 0, 1}) {
    auto code = TotpCode(kRfcSecret, step + delta);
    ASSERT_TRUE(code);
    EXPECT_EQ(MatchTotp(kRfcSecret, *code, now_ms), step + delta);
  }
  for (int64_t delta : {-3, -2, 2, 3}) {
    auto code = TotpCode(kRfcSecret, step + delta);
    ASSERT_TRUE(code);
    // A code from further away can collide by chance with a valid one; it must not match as
    // its own step.
    auto matched = MatchTotp(kRfcSecret, *code, now_ms);
    EXPECT_TRUE(!matched || *matched != step + delta);
  }
}

TEST(TotpTest, RefusesMalformedCodesAndSecrets) {
  int64_t now_ms = 59'000;
  EXPECT_FALSE(MatchTotp(kRfcSecret, "", now_ms));
  EXPECT_FALSE(MatchTotp(kRfcSecret, "28708", now_ms));
  EXPECT_FALSE(MatchTotp(kRfcSecret, "2870822", now_ms));
  EXPECT_FALSE(MatchTotp(kRfcSecret, "28708x", now_ms));
  EXPECT_FALSE(MatchTotp("not base32!", "287082", now_ms));
  EXPECT_EQ(MatchTotp(kRfcSecret, "287082", now_ms), 1);
}

TEST(TotpTest, Base32DecodesCaseInsensitively) {
  EXPECT_EQ(Base32Decode("gezdgnbvgy3tqojq"), "1234567890");
  EXPECT_EQ(Base32Decode("GEZDGNBVGY3TQOJQ===="), "1234567890");
  EXPECT_FALSE(Base32Decode("GEZ1"));
}

}  // namespace
}  // namespace oc::privacy
