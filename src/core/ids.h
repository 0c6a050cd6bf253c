// Identifiers: opaque, prefixed, time-ordered strings ("ord_01J…", "evt_…", "key_…").
//
// Ids sort by creation time (48-bit millisecond prefix, then 80 random bits, Crockford base32,
// like ULID), so new rows append to B-tree indexes instead of scattering, and an id leaks nothing
// but its creation time. Generation is thread-safe given a thread-safe Random.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace oc {

class IdGenerator {
 public:
  IdGenerator(const Clock& clock, Random& random) : clock_(clock), random_(random) {}
  // `prefix` is a short lowercase tag without the underscore, e.g. "ord".
  std::string Next(std::string_view prefix);

 private:
  const Clock& clock_;
  Random& random_;
};

// Whether `id` has the shape Next() produces for `prefix`; cheap pre-check before any lookup.
bool LooksLikeId(std::string_view id, std::string_view prefix);

}  // namespace oc
