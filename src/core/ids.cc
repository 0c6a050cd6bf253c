#include "core/ids.h"

namespace oc {
namespace {
constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr size_t kIdBodyLength = 26;  // 10 chars of time + 16 of randomness
}  // namespace

std::string IdGenerator::Next(std::string_view prefix) {
  uint64_t ms = static_cast<uint64_t>(clock_.NowUnixMs());
  unsigned char rnd[10];
  random_.Fill(rnd, sizeof rnd);
  std::string id;
  id.reserve(prefix.size() + 1 + kIdBodyLength);
  id.append(prefix);
  id.push_back('_');
  for (int i = 9; i >= 0; --i) id.push_back(kCrockford[(ms >> (i * 5)) & 31]);
  // 80 random bits -> 16 base32 chars.
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 5; ++i) hi = (hi << 8) | rnd[i];
  for (int i = 5; i < 10; ++i) lo = (lo << 8) | rnd[i];
  for (int i = 7; i >= 0; --i) id.push_back(kCrockford[(hi >> (i * 5)) & 31]);
  for (int i = 7; i >= 0; --i) id.push_back(kCrockford[(lo >> (i * 5)) & 31]);
  return id;
}

bool LooksLikeId(std::string_view id, std::string_view prefix) {
  if (id.size() != prefix.size() + 1 + kIdBodyLength) return false;
  if (id.substr(0, prefix.size()) != prefix || id[prefix.size()] != '_') return false;
  for (char c : id.substr(prefix.size() + 1)) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' &&
                                         c != 'O' && c != 'U');
    if (!ok) return false;
  }
  return true;
}

}  // namespace oc
