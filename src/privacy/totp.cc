#include "privacy/totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace oc::privacy {

std::optional<std::string> Base32Decode(std::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char raw : text) {
    if (raw == '=' || raw == ' ' || raw == '-') continue;
    char c = (raw >= 'a' && raw <= 'z') ? static_cast<char>(raw - 'a' + 'A') : raw;
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= '2' && c <= '7') {
      v = c - '2' + 26;
    } else {
      return std::nullopt;
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

std::optional<std::string> TotpCode(std::string_view secret_base32, int64_t step) {
  auto key = Base32Decode(secret_base32);
  if (!key || key->empty() || step < 0) return std::nullopt;
  unsigned char counter[8];
  for (int i = 7; i >= 0; --i) {
    counter[i] = static_cast<unsigned char>(step & 0xff);
    step >>= 8;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  bool ok = HMAC(EVP_sha1(), key->data(), static_cast<int>(key->size()), counter, sizeof counter,
                 md, &n) != nullptr;
  OPENSSL_cleanse(key->data(), key->size());
  if (!ok || n < 20) return std::nullopt;
  int offset = md[n - 1] & 0x0f;  // RFC 4226 dynamic truncation
  uint32_t binary = (static_cast<uint32_t>(md[offset] & 0x7f) << 24) |
                    (static_cast<uint32_t>(md[offset + 1]) << 16) |
                    (static_cast<uint32_t>(md[offset + 2]) << 8) | md[offset + 3];
  std::string code = std::to_string(binary % 1'000'000);
  return std::string(6 - code.size(), '0') + code;
}

std::optional<int64_t> MatchTotp(std::string_view secret_base32, std::string_view code,
                                 int64_t now_unix_ms) {
  if (code.size() != 6) return std::nullopt;
  int64_t now_step = now_unix_ms / 1000 / kTotpStepSeconds;
  for (int64_t step : {now_step, now_step - 1, now_step + 1}) {
    auto expected = TotpCode(secret_base32, step);
    if (expected && CRYPTO_memcmp(expected->data(), code.data(), 6) == 0) return step;
  }
  return std::nullopt;
}

}  // namespace oc::privacy
