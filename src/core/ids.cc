#include "core/ids.h"

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
}  // namespace

std::string IdGenerator::Next(std::string_view prefix) {
  unsigned char rnd[10];
  random_.Fill(rnd, sizeof rnd);
  return Compose(prefix, static_cast<uint64_t>(clock_.NowUnixMs()), Bits40(rnd), Bits40(rnd + 5));
}

std::string IdGenerator::NextNumbered(std::string_view prefix, uint64_t number) {
  unsigned char rnd[5];
  random_.Fill(rnd, sizeof rnd);
  return Compose(prefix, static_cast<uint64_t>(clock_.NowUnixMs()), number & kIdNumberMax,
                 Bits40(rnd));
}

std::optional<uint64_t> NumberInId(std::string_view id, std::string_view prefix) {
  if (!LooksLikeId(id, prefix)) return std::nullopt;
  uint64_t number = 0;
  for (char c : id.substr(prefix.size() + 1 + kIdTimeLength, 8)) {
    number = (number << 5) | static_cast<uint64_t>(CrockfordValue(c));
  }
  return number;
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
