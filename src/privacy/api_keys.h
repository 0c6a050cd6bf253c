// API keys: generation and the one-way hash under which they are stored.
//
// A key is 32 random bytes (256 bits), so a plain SHA-256 is a safe storage hash (no dictionary
// to attack); the secret is shown once at creation and never stored. Admin keys also get a TOTP
// secret (RFC 6238) for step-up. Thread-safe given a thread-safe Random.
#pragma once

#include <string>
#include <string_view>

#include "core/clock.h"
#include "privacy/hashing.h"

namespace oc::privacy {

inline constexpr std::string_view kApiKeyPrefix = "oc_";

std::string GenerateApiKey(Random& random);
// What is stored of a key: the hex of ApiKeyDigest(key).
std::string HashApiKey(std::string_view key);
Sha256Digest ApiKeyDigest(std::string_view key);
std::string GenerateTotpSecret(Random& random);  // base32, 160 bits

}  // namespace oc::privacy
