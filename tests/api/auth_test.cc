// Authenticator: keys by hash, and guessing throttled per IP and per presented key, with the
// clock moved by hand.
#include "api/auth.h"

#include <gtest/gtest.h>

#include "privacy/api_keys.h"
#include "store/scoped_temp_dir.h"

namespace oc::api {
namespace {

constexpr int64_t kStart = 1'794'355'201'000;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions opt;
    opt.path = dir_.File("auth.db");
    auto s = store::OpenSqliteStore(opt);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    store::ApiKeyRecord r;
    r.principal = Principal{"key_GOOD", "good", Role::kAdmin, ""};
    r.key_hash = privacy::HashApiKey("good-key");
    r.created_at_ms = kStart;
    ASSERT_TRUE(store_->InsertApiKey(r).ok());
    auth_ = std::make_unique<Authenticator>(*store_, clock_);
  }

  Result<Principal> Try(const std::string& key, const std::string& ip, int64_t* retry = nullptr) {
    return auth_->Authenticate("Bearer " + key, ip, retry);
  }

  oc::testing::ScopedTempDir dir_;
  std::unique_ptr<store::Store> store_;
  ManualClock clock_{kStart};
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(AuthTest, AGoodKeyAuthenticatesAndBadOnesAre401) {
  auto ok = Try("good-key", "10.0.0.1");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->id, "key_GOOD");
  EXPECT_EQ(Try("wrong", "10.0.0.1").status().kind(), ErrorKind::kUnauthenticated);
  EXPECT_EQ(auth_->Authenticate("", "10.0.0.1").status().kind(), ErrorKind::kUnauthenticated);
  EXPECT_EQ(auth_->Authenticate("Basic abc", "10.0.0.1").status().kind(),
            ErrorKind::kUnauthenticated);
}

// Each thread remembers the digest of the key it hashed last: a key that differs from it in
// its last byte only, or is a prefix of it, must still be a different key.
TEST_F(AuthTest, AKeyLikeTheLastOneIsStillCheckedInFull) {
  auto refused = [&](const std::string& key) {
    auto r = Try(key, "10.0.0.1");
    return !r.ok() && r.status().kind() == ErrorKind::kUnauthenticated;
  };
  ASSERT_TRUE(Try("good-key", "10.0.0.1").ok());
  EXPECT_TRUE(refused("good-kez"));
  ASSERT_TRUE(Try("good-key", "10.0.0.1").ok());
  EXPECT_TRUE(refused("good-ke"));
  ASSERT_TRUE(Try("good-key", "10.0.0.1").ok());
  EXPECT_TRUE(refused("good-key!"));
  // A key too long to be remembered is hashed every time, and a same-length twin is refused.
  const std::string long_key(300, 'k');
  store::ApiKeyRecord r;
  r.principal = Principal{"key_LONG", "long", Role::kFinance, ""};
  r.key_hash = privacy::HashApiKey(long_key);
  r.created_at_ms = kStart;
  ASSERT_TRUE(store_->InsertApiKey(r).ok());
  for (int i = 0; i < 2; ++i) {
    auto ok = Try(long_key, "10.0.0.1");
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok->id, "key_LONG");
  }
  std::string twin = long_key;
  twin.back() = 'j';
  EXPECT_TRUE(refused(twin));
  auto good = Try("good-key", "10.0.0.1");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->id, "key_GOOD");
}

TEST_F(AuthTest, TooManyFailuresFromOneIpLockItOutForTheRestOfTheWindow) {
  for (int i = 0; i < kAuthFailuresMax; ++i) {
    EXPECT_EQ(Try("guess-" + std::to_string(i), "10.0.0.9").status().kind(),
              ErrorKind::kUnauthenticated)
        << i;
  }
  int64_t retry = 0;
  auto locked = Try("good-key", "10.0.0.9", &retry);  // even a good key: the answer says nothing
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.status().kind(), ErrorKind::kRateLimited);
  EXPECT_EQ(locked.status().code(), "too_many_auth_failures");
  EXPECT_EQ(retry, 60);
  EXPECT_TRUE(Try("good-key", "10.0.0.10").ok());  // other addresses are unaffected
  clock_.Advance(30'000);
  retry = 0;
  EXPECT_FALSE(Try("good-key", "10.0.0.9", &retry).ok());
  EXPECT_EQ(retry, 30);
  clock_.Advance(30'000);
  EXPECT_TRUE(Try("good-key", "10.0.0.9").ok());  // the window is over
}

TEST_F(AuthTest, FailuresSpreadOverAWindowBoundaryDoNotAddUp) {
  for (int i = 0; i < kAuthFailuresMax - 1; ++i) (void)Try("guess", "10.0.0.7");
  clock_.Advance(kAuthFailureWindowMs);
  for (int i = 0; i < kAuthFailuresMax - 1; ++i) (void)Try("guess2", "10.0.0.7");
  EXPECT_TRUE(Try("good-key", "10.0.0.7").ok());
}

TEST_F(AuthTest, OneGuessedKeyTriedFromManyAddressesIsLockedOutToo) {
  for (int i = 0; i < kAuthFailuresMax; ++i) {
    (void)Try("the-same-guess", "192.0.2." + std::to_string(i));
  }
  auto r = Try("the-same-guess", "198.51.100.1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), "too_many_auth_failures");
  EXPECT_TRUE(Try("good-key", "198.51.100.1").ok());
}

// Failed authentications from a crowd of addresses: each address stays under its own limit,
// but only the budget's worth get audit entries of their own; the rest are counted into the
// next entry, a window later.
TEST_F(AuthTest, FailuresPastTheAuditBudgetAreCountedIntoTheNextEntry) {
  int64_t audited = 0, unrecorded = 0;
  for (int i = 0; i < kAuthFailuresAuditedPerWindow + 30; ++i) {
    std::string ip = "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250);
    ASSERT_EQ(Try("guess-" + std::to_string(i), ip).status().kind(), ErrorKind::kUnauthenticated);
    int64_t before = -1;
    if (auth_->AuditThisFailure(&before)) {
      ++audited;
      EXPECT_EQ(before, 0) << i;
    } else {
      ++unrecorded;
    }
  }
  EXPECT_EQ(audited, kAuthFailuresAuditedPerWindow);
  EXPECT_EQ(unrecorded, 30);
  clock_.Advance(kAuthFailureWindowMs);
  int64_t said = -1;
  ASSERT_TRUE(auth_->AuditThisFailure(&said));
  EXPECT_EQ(said, 30);
  ASSERT_TRUE(auth_->AuditThisFailure(&said));
  EXPECT_EQ(said, 0);  // said once
}

}  // namespace
}  // namespace oc::api
