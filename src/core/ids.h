// Identifiers: opaque, prefixed, time-ordered strings ("ord_01J…", "evt_…", "key_…").
//
// Ids sort by creation time (48-bit millisecond prefix, then 80 random bits, Crockford base32,
// like ULID), so new rows append to B-tree indexes instead of scattering, and an id leaks nothing
// but its creation time. Generation is thread-safe given a thread-safe Random.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace oc {

// Hides the number a numbered id carries (IdGenerator::NextNumbered). The id holds the number
// XOR 40 bits of AES-128(key, the id's own 40 random bits): without the key, ids of consecutive
// rows look unrelated, so nobody who is handed ids can count the rows made between them (a
// channel must not read the shop's checkout volume off its hold ids); with it, the number comes
// back with one block encryption and no lookup. Thread-safe.
class NumberMask {
 public:
  static constexpr size_t kKeyBytes = 16;
  explicit NumberMask(std::span<const unsigned char, kKeyBytes> key);
  ~NumberMask();
  NumberMask(const NumberMask&) = delete;
  NumberMask& operator=(const NumberMask&) = delete;

  // The 40 bits that hide a number in an id whose random part is `nonce` (its low 40 bits).
  uint64_t For(uint64_t nonce) const;

 private:
  mutable std::mutex mu_;  // an EVP context is not for two threads at once
  EVP_CIPHER_CTX* ctx_;    // AES-128-ECB with the key, kept: one block per call
};

class IdGenerator {
 public:
  IdGenerator(const Clock& clock, Random& random) : clock_(clock), random_(random) {}
  // `prefix` is a short lowercase tag without the underscore, e.g. "ord".
  std::string Next(std::string_view prefix);
  // An id that also carries `number` (below 2^40), for rows keyed by an integer: the row is
  // found from its id without an index on the id. The same shape as Next()'s (48 bits of time,
  // then 80 bits: here 40 random ones and the number hidden by `mask` under them), so
  // LooksLikeId accepts both.
  std::string NextNumbered(std::string_view prefix, uint64_t number, const NumberMask& mask);

 private:
  const Clock& clock_;
  Random& random_;
};

inline constexpr uint64_t kIdNumberMax = (uint64_t{1} << 40) - 1;

// Whether `id` has the shape Next() produces for `prefix`; cheap pre-check before any lookup.
bool LooksLikeId(std::string_view id, std::string_view prefix);
// The number NextNumbered() put in `id` with `mask`, when `id` has the shape. Any well-formed
// id decodes to some number, so whoever looks a row up by it must check that the row's id is
// `id`.
std::optional<uint64_t> NumberInId(std::string_view id, std::string_view prefix,
                                   const NumberMask& mask);
// The number as ids carried it in plain view before NumberMask (just after the time), for
// finding rows that an older binary numbered. The same caveat: check the row's id.
std::optional<uint64_t> PlainNumberInId(std::string_view id, std::string_view prefix);

}  // namespace oc
