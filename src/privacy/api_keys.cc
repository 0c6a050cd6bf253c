#include "privacy/api_keys.h"

#include <openssl/crypto.h>

#include "privacy/hashing.h"

namespace oc::privacy {

std::string GenerateApiKey(Random& random) {
  unsigned char bytes[32];
  random.Fill(bytes, sizeof bytes);
  std::string key = std::string(kApiKeyPrefix) + HexEncode(bytes, sizeof bytes);
  OPENSSL_cleanse(bytes, sizeof bytes);
  return key;
}

Sha256Digest ApiKeyDigest(std::string_view key) { return Sha256(key); }

std::string HashApiKey(std::string_view key) {
  Sha256Digest digest = ApiKeyDigest(key);
  return HexEncode(digest.data(), digest.size());
}

std::string GenerateTotpSecret(Random& random) {
  unsigned char bytes[20];
  random.Fill(bytes, sizeof bytes);
  std::string secret = Base32Encode(bytes, sizeof bytes);
  OPENSSL_cleanse(bytes, sizeof bytes);
  return secret;
}

}  // namespace oc::privacy
