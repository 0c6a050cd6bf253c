// Step-up for admins: a fresh TOTP code exchanged for a short-lived token that unlocks plaintext
// personal data (POST /v1/orders/{id}/reveal).
//
// Tokens are 256 random bits, valid for five minutes, bound to the admin who asked, and kept
// only as their SHA-256 in memory: a restart ends every step-up, which is the safe direction.
// Each TOTP time step works once per admin, so a code seen over a shoulder or in a proxy log
// cannot be replayed. Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"
#include "core/principal.h"
#include "core/status.h"

namespace oc::privacy {

inline constexpr int64_t kStepUpTtlMs = 5 * 60 * 1000;
inline constexpr size_t kStepUpTokensMax = 10'000;

struct StepUpToken {
  std::string token;
  int64_t expires_at_ms = 0;
};

class StepUpTokens {
 public:
  StepUpTokens(const Clock& clock, Random& random) : clock_(clock), random_(random) {}

  // Checks `code` against the admin's TOTP secret and issues a token. Refusals (403,
  // "step_up_failed") do not say whether the code was wrong, stale or already used.
  Result<StepUpToken> Issue(const Principal& admin, std::string_view totp_secret,
                            std::string_view code);
  // Ok when `token` was issued to `admin` and has not expired; 403 "step_up_required" when no
  // token was sent, "step_up_invalid" otherwise.
  Status Check(std::string_view token, const Principal& admin);

 private:
  struct Grant {
    std::string principal_id;
    int64_t expires_at_ms = 0;
  };
  const Clock& clock_;
  Random& random_;
  std::mutex mu_;
  std::unordered_map<std::string, Grant> by_hash_;
  std::unordered_map<std::string, int64_t> last_step_;  // principal id -> newest TOTP step used
};

}  // namespace oc::privacy
