#include "privacy/hashing.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>
#include <stdexcept>

namespace oc::privacy {

std::string HexEncode(const unsigned char* data, size_t len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 15];
  }
  return out;
}

std::string Base32Encode(const unsigned char* data, size_t len) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

Sha256Digest Sha256(std::string_view data) {
  // Fetched once: OpenSSL 3's implicit fetch per call takes provider locks (runs per request).
  static EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  // One context per thread, reset by each init: EVP_Digest would allocate and free a context
  // and the provider's state per call, and this runs for every authenticated request.
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  thread_local std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  Sha256Digest md;
  unsigned int n = 0;
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), sha256, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md.data(), &n) != 1 || n != md.size()) {
    throw std::runtime_error("SHA-256 failed");
  }
  return md;
}

std::string Sha256Hex(std::string_view data) {
  Sha256Digest md = Sha256(data);
  return HexEncode(md.data(), md.size());
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &n) == nullptr) {
    throw std::runtime_error("HMAC failed");
  }
  return HexEncode(md, n);
}

}  // namespace oc::privacy
