#include "privacy/masking.h"

#include <vector>

namespace oc::privacy {
namespace {

// Splits UTF-8 into code points; invalid bytes count as one unit each (input was validated
// at the API boundary, this only has to be safe).
std::vector<std::string_view> CodePoints(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + n > s.size()) n = 1;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string KeepEnds(std::string_view s, size_t head, size_t tail) {
  auto cps = CodePoints(s);
  if (cps.size() <= head + tail) {
    // Too short to keep both ends and still hide something: hide all but the first, and a
    // single code point entirely (keeping it would hide nothing).
    std::string out = cps.size() < 2 ? "" : std::string(cps[0]);
    for (size_t i = cps.size() < 2 ? 0 : 1; i < cps.size(); ++i) out += '*';
    return out;
  }
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (i < head || i >= cps.size() - tail) {
      out += cps[i];
    } else {
      out += '*';
    }
  }
  return out;
}

}  // namespace

std::string MaskPhone(std::string_view phone) {
  auto cps = CodePoints(phone);
  if (cps.size() >= 11) {
    std::string out;
    for (size_t i = 0; i < 3; ++i) out += cps[i];
    out += "****";
    for (size_t i = cps.size() - 4; i < cps.size(); ++i) out += cps[i];
    return out;
  }
  return KeepEnds(phone, 2, 2);
}

std::string MaskName(std::string_view name) { return KeepEnds(name, 1, 0); }

std::string MaskIdNumber(std::string_view id) { return KeepEnds(id, 6, 2); }

std::string MaskDigitRuns(std::string_view text) {
  constexpr size_t kRunMin = 7, kKeepHead = 3, kKeepTail = 2;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  std::string out(text);
  for (size_t i = 0; i < out.size();) {
    if (!digit(out[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < out.size() && digit(out[end])) ++end;
    if (end < out.size() && (out[end] == 'X' || out[end] == 'x') && end - i >= 14) ++end;
    if (end - i >= kRunMin) {
      for (size_t k = i + kKeepHead; k < end - kKeepTail; ++k) out[k] = '*';
    }
    i = end;
  }
  return out;
}

std::string MaskAddressDetail(std::string_view d) {
  if (d.empty()) return "";
  auto cps = CodePoints(d);
  std::string out;
  for (size_t i = 0; i < cps.size() && i < 2; ++i) out += cps[i];
  return out + "****";
}

}  // namespace oc::privacy
