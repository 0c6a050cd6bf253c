// Step-up tokens on a ManualClock: expiry, replay of a TOTP code, binding to one admin.
#include "privacy/step_up.h"

#include <gtest/gtest.h>

#include "privacy/totp.h"

namespace oc::privacy {
namespace {

constexpr std::string_view kSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

class StepUpTest : public ::testing::Test {
 protected:
  std::string CodeNow() {
    return TotpCode(kSecret, clock_.NowUnixMs() / 1000 / kTotpStepSeconds).value_or("");
  }
  ManualClock clock_{1'800'000'000'000};
  StepUpTokens tokens_{clock_, Random::Secure()};
  Principal admin_{"key_admin", "root", Role::kAdmin, ""};
};

TEST_F(StepUpTest, ATokenWorksForFiveMinutesForItsAdminOnly) {
  auto issued = tokens_.Issue(admin_, kSecret, CodeNow());
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  EXPECT_EQ(issued->expires_at_ms, clock_.NowUnixMs() + kStepUpTtlMs);
  EXPECT_TRUE(tokens_.Check(issued->token, admin_).ok());
  Principal other{"key_other", "", Role::kAdmin, ""};
  EXPECT_EQ(tokens_.Check(issued->token, other).code(), "step_up_invalid");
  clock_.Advance(kStepUpTtlMs - 1);
  EXPECT_TRUE(tokens_.Check(issued->token, admin_).ok());
  clock_.Advance(1);
  EXPECT_EQ(tokens_.Check(issued->token, admin_).code(), "step_up_invalid");
  EXPECT_EQ(tokens_.Check("", admin_).code(), "step_up_required");
}

TEST_F(StepUpTest, ACodeWorksOnceAndAnOlderOneNeverAfterIt) {
  std::string code = CodeNow();
  ASSERT_TRUE(tokens_.Issue(admin_, kSecret, code).ok());
  EXPECT_EQ(tokens_.Issue(admin_, kSecret, code).status().code(), "step_up_failed");
  clock_.Advance(kTotpStepSeconds * 1000);
  std::string next = CodeNow();
  ASSERT_TRUE(tokens_.Issue(admin_, kSecret, next).ok());
  // The previous step's code is still inside the drift window, but older than one used.
  EXPECT_EQ(tokens_.Issue(admin_, kSecret, code).status().code(), "step_up_failed");
}

TEST_F(StepUpTest, WrongCodesMissingSecretsAndOtherRolesAreRefused) {
  std::string code = CodeNow();
  std::string wrong = code == "123456" ? "654321" : "123456";
  EXPECT_EQ(tokens_.Issue(admin_, kSecret, wrong).status().code(), "step_up_failed");
  EXPECT_EQ(tokens_.Issue(admin_, "", code).status().code(), "step_up_failed");
  Principal cs{"key_cs", "", Role::kCustomerService, ""};
  EXPECT_EQ(tokens_.Issue(cs, kSecret, code).status().code(), "forbidden");
  // A refusal does not burn the code.
  EXPECT_TRUE(tokens_.Issue(admin_, kSecret, code).ok());
}

}  // namespace
}  // namespace oc::privacy
