#include "privacy/step_up.h"

#include <openssl/crypto.h>

#include "privacy/hashing.h"
#include "privacy/totp.h"

namespace oc::privacy {

Result<StepUpToken> StepUpTokens::Issue(const Principal& admin, std::string_view totp_secret,
                                        std::string_view code) {
  if (admin.role != Role::kAdmin) {
    return Status::PermissionDenied("step-up is for admin keys");
  }
  int64_t now = clock_.NowUnixMs();
  auto refused = Status::Make(ErrorKind::kPermissionDenied, "step_up_failed",
                              "the TOTP code was not accepted");
  if (totp_secret.empty()) return refused;
  auto step = MatchTotp(totp_secret, code, now);
  if (!step) return refused;
  unsigned char raw[32];
  random_.Fill(raw, sizeof raw);
  StepUpToken issued{"su_" + HexEncode(raw, sizeof raw), now + kStepUpTtlMs};
  OPENSSL_cleanse(raw, sizeof raw);
  std::lock_guard lock(mu_);
  auto& last = last_step_[admin.id];
  if (*step <= last) return refused;  // this code (or an older one) was already used
  last = *step;
  if (by_hash_.size() >= kStepUpTokensMax) {
    std::erase_if(by_hash_, [&](const auto& e) { return e.second.expires_at_ms <= now; });
    if (by_hash_.size() >= kStepUpTokensMax) {
      return Status::Unavailable("too many step-up tokens outstanding; retry later");
    }
  }
  by_hash_[Sha256Hex(issued.token)] = Grant{admin.id, issued.expires_at_ms};
  return issued;
}

Status StepUpTokens::Check(std::string_view token, const Principal& admin) {
  if (token.empty()) {
    return Status::Make(ErrorKind::kPermissionDenied, "step_up_required",
                        "this needs a step-up token: POST /v1/auth/step-up with a TOTP code, "
                        "then send it as X-Step-Up-Token");
  }
  auto invalid = Status::Make(ErrorKind::kPermissionDenied, "step_up_invalid",
                              "the step-up token is unknown or expired; step up again");
  std::string hash = Sha256Hex(token);
  int64_t now = clock_.NowUnixMs();
  std::lock_guard lock(mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return invalid;
  if (it->second.expires_at_ms <= now) {
    by_hash_.erase(it);
    return invalid;
  }
  if (it->second.principal_id != admin.id || admin.role != Role::kAdmin) return invalid;
  return Status::Ok();
}

}  // namespace oc::privacy
