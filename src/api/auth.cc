#include "api/auth.h"

#include <openssl/crypto.h>

#include <array>
#include <cstring>
#include <mutex>
#include <utility>

#include "privacy/api_keys.h"

namespace oc::api {
namespace {
std::atomic<uint64_t> next_instance{1};

// The digest of the key this thread hashed last. A client sends the same key with every
// request, and its SHA-256 was about a seventh of a checkout hold's instructions on the HTTP
// thread (callgrind, which runs without the CPU's SHA extensions). The key is compared in constant
// time: a comparison that stopped at the first difference would tell a guesser how much of another
// client's key it had right. Keys longer than the buffer are hashed every time. The bytes are wiped
// when replaced and when the thread ends.
class LastKeyDigest {
 public:
  ~LastKeyDigest() { OPENSSL_cleanse(key_.data(), key_.size()); }
  privacy::Sha256Digest Of(std::string_view key) {
    if (size_ != 0 && key.size() == size_ && CRYPTO_memcmp(key.data(), key_.data(), size_) == 0) {
      return digest_;
    }
    privacy::Sha256Digest digest = privacy::ApiKeyDigest(key);
    if (key.size() <= key_.size()) {
      OPENSSL_cleanse(key_.data(), key_.size());
      std::memcpy(key_.data(), key.data(), key.size());
      size_ = key.size();
      digest_ = digest;
    }
    return digest;
  }

 private:
  std::array<char, 128> key_{};
  size_t size_ = 0;  // 0: nothing remembered (an empty key never gets here)
  privacy::Sha256Digest digest_{};
};
}  // namespace

Authenticator::Authenticator(store::Store& store, const Clock& clock)
    : store_(store), clock_(clock), instance_(next_instance.fetch_add(1)) {}

int64_t Authenticator::LockedOutFor(const std::string& subject, int64_t now_ms) {
  auto it = failures_.find(subject);
  if (it == failures_.end()) return 0;
  int64_t window_end = it->second.window_start_ms + kAuthFailureWindowMs;
  if (now_ms >= window_end) {
    failures_.erase(it);
    failures_tracked_.store(failures_.size(), std::memory_order_release);
    return 0;
  }
  if (it->second.count < kAuthFailuresMax) return 0;
  return (window_end - now_ms + 999) / 1000;
}

void Authenticator::RecordFailure(const std::string& subject, int64_t now_ms) {
  if (failures_.size() >= kAuthFailureTrackedMax && !failures_.contains(subject)) {
    std::erase_if(failures_, [&](const auto& e) {
      return now_ms >= e.second.window_start_ms + kAuthFailureWindowMs;
    });
    if (failures_.size() >= kAuthFailureTrackedMax) failures_.clear();  // a flood: start over
  }
  Failures& f = failures_[subject];
  if (f.count == 0 || now_ms >= f.window_start_ms + kAuthFailureWindowMs) {
    f = Failures{0, now_ms};
  }
  ++f.count;
  failures_tracked_.store(failures_.size(), std::memory_order_release);
}

void Authenticator::RecordSecondFactorFailure(std::string_view header, std::string_view remote_ip) {
  int64_t now = clock_.NowUnixMs();
  constexpr size_t kBearerBytes = 7;  // "Bearer ", already checked by Authenticate
  std::string hash =
      header.size() > kBearerBytes ? privacy::HashApiKey(header.substr(kBearerBytes)) : "";
  std::lock_guard lock(failures_mu_);
  RecordFailure("ip:" + std::string(remote_ip), now);
  if (!hash.empty()) RecordFailure("key:" + hash, now);
}

bool Authenticator::AuditThisFailure(int64_t* unrecorded) {
  int64_t now = clock_.NowUnixMs();
  std::lock_guard lock(failures_mu_);
  if (now - audited_window_start_ms_ >= kAuthFailureWindowMs || now < audited_window_start_ms_) {
    audited_window_start_ms_ = now;
    audited_in_window_ = 0;
  }
  if (audited_in_window_ >= kAuthFailuresAuditedPerWindow) {
    ++unrecorded_;
    unaudited_total_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  ++audited_in_window_;
  *unrecorded = std::exchange(unrecorded_, 0);
  return true;
}

Result<Principal> Authenticator::Authenticate(std::string_view header, std::string_view remote_ip,
                                              int64_t* retry_after_s) {
  int64_t now = clock_.NowUnixMs();
  auto ip_subject = [&] { return "ip:" + std::string(remote_ip); };
  // With no failure on record (the normal case) there is nobody to lock out: skip the shared
  // table's mutex, which every request on every HTTP thread would otherwise take twice.
  const bool any_failures = failures_tracked_.load(std::memory_order_acquire) > 0;
  auto throttled = [&](int64_t seconds) {
    if (retry_after_s != nullptr) *retry_after_s = seconds;
    return Status::Make(
        ErrorKind::kRateLimited, "too_many_auth_failures",
        "too many failed authentications; retry in " + std::to_string(seconds) + " s");
  };
  if (any_failures) {
    std::lock_guard lock(failures_mu_);
    if (int64_t wait = LockedOutFor(ip_subject(), now); wait > 0) return throttled(wait);
  }
  auto fail = [&](Status s, const std::string& key_hash) {
    std::lock_guard lock(failures_mu_);
    RecordFailure(ip_subject(), now);
    if (!key_hash.empty()) RecordFailure("key:" + key_hash, now);
    return s;
  };
  constexpr std::string_view kBearer = "Bearer ";
  if (header.empty()) {
    return fail(Status::Unauthenticated("missing Authorization: Bearer <api-key>"), "");
  }
  auto scheme_is_bearer = [&] {  // the auth scheme is case-insensitive (RFC 9110 §11.1)
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    for (size_t i = 0; i < kBearer.size(); ++i) {
      if (lower(header[i]) != lower(kBearer[i])) return false;
    }
    return true;
  };
  if (header.size() <= kBearer.size() || !scheme_is_bearer()) {
    return fail(Status::Unauthenticated("the Authorization header must be 'Bearer <api-key>'"), "");
  }
  std::string_view key = header.substr(kBearer.size());
  thread_local LastKeyDigest last_key;
  const privacy::Sha256Digest digest = last_key.Of(key);
  // The stored form (HashApiKey), spelled out only off the common path.
  auto hex = [&] { return privacy::HexEncode(digest.data(), digest.size()); };
  if (any_failures) {
    std::lock_guard lock(failures_mu_);
    if (int64_t wait = LockedOutFor("key:" + hex(), now); wait > 0) return throttled(wait);
  }
  // This thread's own copy of the keys it has seen, so the common case takes no lock that the
  // other HTTP threads take too (a shared lock still moves its cache line between cores), keyed
  // by the digest itself: no hex string is made per request.
  struct DigestHash {
    size_t operator()(const privacy::Sha256Digest& d) const {
      size_t h;  // the digest's bytes are uniformly distributed already
      std::memcpy(&h, d.data(), sizeof h);
      return h;
    }
  };
  struct ThreadCache {
    uint64_t owner = 0;  // the Authenticator the entries belong to
    std::unordered_map<privacy::Sha256Digest, Principal, DigestHash> by_digest;
  };
  thread_local ThreadCache cache;
  if (cache.owner != instance_ || cache.by_digest.size() >= kKeysCachedPerThreadMax) {
    cache.by_digest.clear();
    cache.owner = instance_;
  }
  if (auto it = cache.by_digest.find(digest); it != cache.by_digest.end()) return it->second;
  const std::string hash = hex();
  {
    std::shared_lock lock(mu_);
    auto it = by_hash_.find(hash);
    if (it != by_hash_.end()) {
      cache.by_digest.emplace(digest, it->second);
      return it->second;
    }
  }
  OC_ASSIGN_OR_RETURN(auto record, store_.FindApiKeyByHash(hash));
  if (!record) return fail(Status::Unauthenticated("unknown API key"), hash);
  std::unique_lock lock(mu_);
  by_hash_.emplace(hash, record->principal);
  cache.by_digest.emplace(digest, record->principal);
  return record->principal;
}

}  // namespace oc::api
