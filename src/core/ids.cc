#include "core/ids.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace oc {
namespace {
constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr size_t kIdBodyLength = 26;  // 10 chars of time + 16 of randomness

constexpr size_t kIdTimeLength = 10;

// prefix "_" 48-bit time, then `hi` and `lo` (40 bits each), Crockford base32.
std::string Compose(std::string_view prefix, uint64_t ms, uint64_t hi, uint64_t lo) {
  std::string id;
  id.reserve(prefix.size() + 1 + kIdBodyLength);
  id.append(prefix);
  id.push_back('_');
  for (int i = 9; i >= 0; --i) id.push_back(kCrockford[(ms >> (i * 5)) & 31]);
  for (int i = 7; i >= 0; --i) id.push_back(kCrockford[(hi >> (i * 5)) & 31]);
  for (int i = 7; i >= 0; --i) id.push_back(kCrockford[(lo >> (i * 5)) & 31]);
  return id;
}

uint64_t Bits40(const unsigned char* b) {
  uint64_t v = 0;
  for (int i = 0; i < 5; ++i) v = (v << 8) | b[i];
  return v;
}

int CrockfordValue(char c) {
  for (int i = 0; i < 32; ++i) {
    if (kCrockford[i] == c) return i;
  }
  return -1;
}

// The 40 bits of `id`'s field `at` characters after its time; `id` has the shape.
uint64_t Field40(std::string_view id, std::string_view prefix, size_t at) {
  uint64_t v = 0;
  for (char c : id.substr(prefix.size() + 1 + kIdTimeLength + at, 8)) {
    v = (v << 5) | static_cast<uint64_t>(CrockfordValue(c));
  }
  return v;
}
}  // namespace

std::string IdGenerator::Next(std::string_view prefix) {
  unsigned char rnd[10];
  random_.Fill(rnd, sizeof rnd);
  return Compose(prefix, static_cast<uint64_t>(clock_.NowUnixMs()), Bits40(rnd), Bits40(rnd + 5));
}

NumberMask::NumberMask(std::span<const unsigned char, kKeyBytes> key) : ctx_(EVP_CIPHER_CTX_new()) {
  if (ctx_ == nullptr ||
      EVP_EncryptInit_ex(ctx_, EVP_aes_128_ecb(), nullptr, key.data(), nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx_, 0) != 1) {
    EVP_CIPHER_CTX_free(ctx_);
    throw std::runtime_error("AES-128 setup failed");
  }
}

NumberMask::~NumberMask() { EVP_CIPHER_CTX_free(ctx_); }

uint64_t NumberMask::For(uint64_t nonce) const {
  // One block: the nonce's 40 bits, then zeros. AES is a pseudo-random permutation, so its
  // output for distinct nonces is as good as random to anyone without the key.
  unsigned char in[16] = {};
  for (int i = 0; i < 5; ++i) in[i] = static_cast<unsigned char>(nonce >> (8 * (4 - i)));
  unsigned char out[16 + EVP_MAX_BLOCK_LENGTH];
  int n = 0;
  {
    std::lock_guard lock(mu_);
    if (EVP_EncryptUpdate(ctx_, out, &n, in, sizeof in) != 1 || n != 16) {
      throw std::runtime_error("AES-128 block encryption failed");
    }
  }
  return Bits40(out);
}

std::string IdGenerator::NextNumbered(std::string_view prefix, uint64_t number,
                                      const NumberMask& mask) {
  unsigned char rnd[5];
  random_.Fill(rnd, sizeof rnd);
  uint64_t nonce = Bits40(rnd);
  return Compose(prefix, static_cast<uint64_t>(clock_.NowUnixMs()), nonce,
                 (number & kIdNumberMax) ^ mask.For(nonce));
}

std::optional<uint64_t> NumberInId(std::string_view id, std::string_view prefix,
                                   const NumberMask& mask) {
  if (!LooksLikeId(id, prefix)) return std::nullopt;
  return Field40(id, prefix, 8) ^ mask.For(Field40(id, prefix, 0));
}

std::optional<uint64_t> PlainNumberInId(std::string_view id, std::string_view prefix) {
  if (!LooksLikeId(id, prefix)) return std::nullopt;
  return Field40(id, prefix, 0);
}

bool LooksLikeId(std::string_view id, std::string_view prefix) {
  if (id.size() != prefix.size() + 1 + kIdBodyLength) return false;
  if (id.substr(0, prefix.size()) != prefix || id[prefix.size()] != '_') return false;
  for (char c : id.substr(prefix.size() + 1)) {
    bool ok = (c >= '0' && c <= '9') ||
              (c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U');
    if (!ok) return false;
  }
  return true;
}

}  // namespace oc
