// Identifiers: opaque, prefixed, time-ordered strings ("ord_01J…", "evt_…", "key_…").
//
// Ids sort by creation time (48-bit millisecond prefix, then 80 random bits, Crockford base32,
// like ULID), so new rows append to B-tree indexes instead of scattering, and an id leaks nothing
// but its creation time. Generation is thread-safe given a thread-safe Random.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace oc {

class IdGenerator {
 public:
  IdGenerator(const Clock& clock, Random& random) : clock_(clock), random_(random) {}
  // `prefix` is a short lowercase tag without the underscore, e.g. "ord".
  std::string Next(std::string_view prefix);
  // An id that also carries `number` (below 2^40), for rows keyed by an integer: the row is
  // found from its id without an index on the id. The same shape as Next()'s (48 bits of time,
  // then 80 bits: here the number's 40 and 40 random ones), so LooksLikeId accepts both.
  std::string NextNumbered(std::string_view prefix, uint64_t number);

 private:
  const Clock& clock_;
  Random& random_;
};

inline constexpr uint64_t kIdNumberMax = (uint64_t{1} << 40) - 1;

// Whether `id` has the shape Next() produces for `prefix`; cheap pre-check before any lookup.
bool LooksLikeId(std::string_view id, std::string_view prefix);
// The number NextNumbered() put in `id`, when `id` has the shape. Any well-formed id decodes
// to some number, so whoever looks a row up by it must check that the row's id is `id`.
std::optional<uint64_t> NumberInId(std::string_view id, std::string_view prefix);

}  // namespace oc
