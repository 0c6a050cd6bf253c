// TOTP (RFC 6238 over RFC 4226 HOTP): the second factor admins present for step-up.
//
// SHA-1, 30-second steps, 6 digits: what every authenticator app uses by default. Verification
// accepts the current step and one step either side (clock drift between phone and server) and
// reports which step matched, so the caller can refuse a code that was already used (replay).
// HMAC through OpenSSL. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace oc::privacy {

inline constexpr int64_t kTotpStepSeconds = 30;

// RFC 4648 base32 (case-insensitive, padding and spaces ignored); nullopt on a bad character.
std::optional<std::string> Base32Decode(std::string_view text);

// The 6-digit code of `secret_base32` for time step `step` (Unix seconds / 30).
std::optional<std::string> TotpCode(std::string_view secret_base32, int64_t step);

// The time step `code` is valid for at `now_unix_ms` (window ±1 step), or nullopt.
std::optional<int64_t> MatchTotp(std::string_view secret_base32, std::string_view code,
                                 int64_t now_unix_ms);

}  // namespace oc::privacy
