// Authenticator: turns an `Authorization: Bearer <api-key>` header into a Principal.
//
// Keys are looked up by their SHA-256 (the only form the store holds) and cached in memory;
// a miss goes to the store, so keys created by `orderctl` beside a running orderd work at once.
// Unknown keys are never cached, and the key itself is never logged.
//
// Guessing is throttled: after kAuthFailuresMax failed authentications within a window from one
// IP, or with one presented key, every request from that IP or with that key is answered 429
// too_many_auth_failures (before the key is even checked, so the answer reveals nothing) until
// the window ends; Retry-After says when. A shared NAT address is locked out as a whole for that
// minute: the price of not letting a guesser hide behind valid requests. The table is bounded.
// Failed authentications get audit entries of their own up to kAuthFailuresAuditedPerWindow a
// window across all addresses; the rest are counted into the next entry, so a crowd of
// addresses cannot turn guesses into fsync'd audit writes without limit. Thread-safe.
#pragma once

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"
#include "core/principal.h"
#include "core/status.h"
#include "store/store.h"

namespace oc::api {

inline constexpr int kAuthFailuresMax = 20;
inline constexpr int64_t kAuthFailureWindowMs = 60'000;
inline constexpr size_t kAuthFailureTrackedMax = 100'000;
inline constexpr int64_t kAuthFailuresAuditedPerWindow = 120;
// Keys each HTTP thread remembers without a lock before it starts its copy over.
inline constexpr size_t kKeysCachedPerThreadMax = 10'000;

class Authenticator {
 public:
  Authenticator(store::Store& store, const Clock& clock);
  // On 429, `*retry_after_s` (when given) is set to the seconds until the lockout ends.
  Result<Principal> Authenticate(std::string_view authorization_header, std::string_view remote_ip,
                                 int64_t* retry_after_s = nullptr);
  // Counts a failed second factor (a refused step-up code) like a failed authentication, for
  // the caller's IP and key: guessing TOTP codes locks the key and the address out too.
  void RecordSecondFactorFailure(std::string_view authorization_header, std::string_view remote_ip);
  // Whether the failed authentication just answered gets an audit entry of its own: true for
  // the first kAuthFailuresAuditedPerWindow of a window. When true, `*unrecorded` is how many
  // failures since the last audited one went without (to be said in this entry).
  bool AuditThisFailure(int64_t* unrecorded);
  // Failed authentications that went without an entry of their own, since start.
  int64_t FailuresUnaudited() const { return unaudited_total_.load(std::memory_order_relaxed); }

 private:
  struct Failures {
    int count = 0;
    int64_t window_start_ms = 0;
  };
  // Seconds until `subject` may try again, 0 if it may now. Caller holds failures_mu_.
  int64_t LockedOutFor(const std::string& subject, int64_t now_ms);
  void RecordFailure(const std::string& subject, int64_t now_ms);

  store::Store& store_;
  const Clock& clock_;
  const uint64_t instance_;  // tells this Authenticator's per-thread cache entries from others'
  std::shared_mutex mu_;
  std::unordered_map<std::string, Principal> by_hash_;
  std::mutex failures_mu_;
  std::unordered_map<std::string, Failures> failures_;  // "ip:…" or "key:<hash>"
  int64_t audited_window_start_ms_ = 0;                 // under failures_mu_, like the two below
  int64_t audited_in_window_ = 0;
  int64_t unrecorded_ = 0;
  std::atomic<int64_t> unaudited_total_{0};
  // failures_.size(), written under failures_mu_, read without it.
  std::atomic<size_t> failures_tracked_{0};
};

}  // namespace oc::api
