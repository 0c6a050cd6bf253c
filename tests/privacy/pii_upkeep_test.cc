// The background upkeep pass against a real SQLite store: after a rotation every row is
// re-wrapped and still opens; rows without a phone index get one; a row changed meanwhile is
// left for the next pass, not overwritten.
#include "privacy/pii_upkeep.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/scoped_temp_dir.h"

namespace oc::privacy {
namespace {

constexpr int64_t kRotatedAt = 1'800'000'000'000;  // when the tests' rotations happen

using oc::testing::ScopedTempDir;

class PiiUpkeepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = FileKeyProvider::OpenOrCreate(dir_.File("keyring.json"), Random::Secure());
    ASSERT_TRUE(keys.ok());
    keys_ = std::move(keys).value();
    codec_ = std::make_unique<EnvelopePiiCodec>(*keys_, Random::Secure());
    store::SqliteOptions opt;
    opt.path = dir_.File("oc.db");
    opt.pii_codec = codec_.get();
    auto s = store::OpenSqliteStore(opt);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  void Insert(int n) {
    auto tx = store_->BeginWrite();
    ASSERT_TRUE(tx.ok());
    for (int i = 0; i < n; ++i) {
      Order o;
      o.id = "ord_" + std::to_string(next_);
      o.channel = "douyin";
      o.channel_order_id = "DY" + std::to_string(next_++);
      o.currency = "CNY";
      o.customer.name = "李四";
      o.customer.phone = i % 2 == 0 ? "13812345678" : "";
      o.shipping_address.detail = "文三路 1 号";
      o.lines = {{"SKU", "x", 1, 100}};
      o.total = 100;
      ASSERT_TRUE((*tx)->InsertOrder(o).ok());
    }
    ASSERT_TRUE((*tx)->Commit().ok());
    ASSERT_TRUE(store_->Sync().ok());
  }

  int64_t Count(const std::string& where) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(dir_.File("oc.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    std::string sql = "SELECT count(*) FROM orders WHERE " + where;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }

  void InsertSubscription(const std::string& secret) {
    store::SubscriptionRecord sub;
    sub.id = "sub_1";
    sub.url = "https://erp.example/hook";
    sub.events = {"order.created"};
    sub.secret = secret;
    ASSERT_TRUE(store_->InsertSubscription(sub).ok());
  }

  void Exec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir_.File("oc.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(db);
  }

  ScopedTempDir dir_;
  std::unique_ptr<FileKeyProvider> keys_;
  std::unique_ptr<EnvelopePiiCodec> codec_;
  std::unique_ptr<store::Store> store_;
  int next_ = 1;
};

TEST_F(PiiUpkeepTest, APassAfterRotationRewrapsEveryRowAndKeepsThemReadable) {
  Insert(450);  // more than two batches
  ASSERT_TRUE(
      FileKeyProvider::RotateMaster(dir_.File("keyring.json"), Random::Secure(), kRotatedAt).ok());
  ASSERT_TRUE(keys_->ReloadIfChanged().ok());
  EXPECT_EQ(Count("json_extract(pii, '$.mk') = 'm1'"), 450);
  auto report = RunPiiUpkeepPass(*store_, *codec_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->scanned, 450);
  EXPECT_EQ(report->rewrapped, 450);
  EXPECT_EQ(report->left, 0);
  EXPECT_EQ(Count("json_extract(pii, '$.mk') = 'm2'"), 450);
  for (int i : {1, 200, 450}) {
    auto o = store_->GetOrder("ord_" + std::to_string(i));
    ASSERT_TRUE(o.ok()) << o.status().ToString();
    ASSERT_TRUE(o->has_value());
    EXPECT_EQ((*o)->shipping_address.detail, "文三路 1 号");
  }
  auto second = RunPiiUpkeepPass(*store_, *codec_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->rewrapped, 0);  // nothing left to do
}

TEST_F(PiiUpkeepTest, RowsWithoutAPhoneIndexGetOne) {
  Insert(10);
  std::string index = codec_->PhoneIndex("13812345678");
  EXPECT_EQ(Count("phone_index = '" + index + "'"), 5);
  Exec("UPDATE orders SET phone_index = NULL");  // as rows written before migration 7
  auto report = RunPiiUpkeepPass(*store_, *codec_);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->indexed, 10);
  EXPECT_EQ(Count("phone_index = '" + index + "'"), 5);
  EXPECT_EQ(Count("phone_index = ''"), 5);  // no phone: indexed as such, not looked at again
  store::OrderQuery q;
  q.phone_index = index;
  auto page = store_->ListOrders(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 5u);
}

// Every other sealed value moves to the active key too, so that the old key ends up naming
// nothing at all: stored idempotent answers, TOTP secrets, webhook secrets, plaintext ones left
// from before sealing existed included. Each still reads back as it was.
TEST_F(PiiUpkeepTest, APassResealsEverySealedValueUntilTheOldKeyNamesNothing) {
  Insert(3);
  store::ApiKeyRecord admin;
  admin.principal = Principal{"key_admin", "ops", Role::kAdmin, ""};
  admin.key_hash = std::string(64, 'a');
  admin.totp_secret = "JBSWY3DPEHPK3PXP";
  ASSERT_TRUE(store_->InsertApiKey(admin).ok());
  store::ApiKeyRecord old_admin = admin;
  old_admin.principal.id = "key_old";
  old_admin.key_hash = std::string(64, 'b');
  ASSERT_TRUE(store_->InsertApiKey(old_admin).ok());
  Exec("UPDATE api_keys SET totp_secret = 'PLAINOLDSECRET22' WHERE id = 'key_old'");
  InsertSubscription("whsec_0123456789");
  for (int i = 0; i < 5; ++i) {
    auto tx = store_->BeginWrite();
    ASSERT_TRUE(tx.ok());
    store::IdempotencyRecord r{"hash", 201, "{\"answer\":" + std::to_string(i) + "}"};
    ASSERT_TRUE((*tx)->PutIdempotency("key_ch", "idem-" + std::to_string(i), r, 1000).ok());
    ASSERT_TRUE((*tx)->Commit().ok());
  }
  ASSERT_TRUE(store_->Sync().ok());

  ASSERT_TRUE(
      FileKeyProvider::RotateMaster(dir_.File("keyring.json"), Random::Secure(), kRotatedAt).ok());
  ASSERT_TRUE(keys_->ReloadIfChanged().ok());
  auto uses = [&](std::string_view key) {
    auto counts = store_->CountSealedUnder(key);
    EXPECT_TRUE(counts.ok()) << counts.status().ToString();
    return counts.ok() ? *counts : std::vector<std::pair<std::string, int64_t>>{};
  };
  using Counts = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(
      uses("m1"),
      (Counts{
          {"orders", 3}, {"idempotent answers", 5}, {"TOTP secrets", 1}, {"webhook secrets", 1}}));
  // Two a batch: every place is paged through, not just its first rows.
  auto report = RunPiiUpkeepPass(*store_, *codec_, 2);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->rewrapped, 3);
  EXPECT_EQ(report->resealed, 5 + 2 + 1);  // the plaintext TOTP secret is sealed now too
  EXPECT_EQ(report->left, 0);
  EXPECT_EQ(
      uses("m1"),
      (Counts{
          {"orders", 0}, {"idempotent answers", 0}, {"TOTP secrets", 0}, {"webhook secrets", 0}}));
  EXPECT_EQ(
      uses("m2"),
      (Counts{
          {"orders", 3}, {"idempotent answers", 5}, {"TOTP secrets", 2}, {"webhook secrets", 1}}));

  auto read_admin = store_->FindApiKeyById("key_admin");
  ASSERT_TRUE(read_admin.ok() && read_admin->has_value());
  EXPECT_EQ((*read_admin)->totp_secret, "JBSWY3DPEHPK3PXP");
  auto read_old = store_->FindApiKeyById("key_old");
  ASSERT_TRUE(read_old.ok() && read_old->has_value());
  EXPECT_EQ((*read_old)->totp_secret, "PLAINOLDSECRET22");
  auto subs = store_->ListSubscriptions();
  ASSERT_TRUE(subs.ok() && subs->size() == 1);
  EXPECT_EQ((*subs)[0].secret, "whsec_0123456789");
  {
    auto tx = store_->BeginWrite();  // rolled back: only read
    ASSERT_TRUE(tx.ok());
    auto answer = (*tx)->FindIdempotency("key_ch", "idem-3");
    ASSERT_TRUE(answer.ok() && answer->has_value()) << answer.status().ToString();
    EXPECT_EQ((*answer)->response_body, "{\"answer\":3}");
  }
  auto second = RunPiiUpkeepPass(*store_, *codec_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->resealed, 0);  // nothing left to do
}

TEST_F(PiiUpkeepTest, ASealedTextChangedMeanwhileIsNotOverwritten) {
  InsertSubscription("whsec_first");
  ASSERT_TRUE(
      FileKeyProvider::RotateMaster(dir_.File("keyring.json"), Random::Secure(), kRotatedAt).ok());
  ASSERT_TRUE(keys_->ReloadIfChanged().ok());
  auto rows = store_->ScanSealedTexts(store::SealedTextPlace::kWebhookSecret, "m2", "", "", 10);
  ASSERT_TRUE(rows.ok() && rows->size() == 1);
  store::SealedTextRow stale = (*rows)[0];
  stale.stored = "oc1:m1:something else";
  auto replaced = store_->ReplaceSealedTexts({store::SealedTextUpdate{stale, "oc1:m2:bogus"}});
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(*replaced, 0);
  auto subs = store_->ListSubscriptions();
  ASSERT_TRUE(subs.ok() && subs->size() == 1);
  EXPECT_EQ((*subs)[0].secret, "whsec_first");  // still the value it had, still under m1
  EXPECT_EQ(store_->CountSealedUnder("m1").value()[3].second, 1);
}

TEST_F(PiiUpkeepTest, ARowChangedMeanwhileIsNotOverwritten) {
  Insert(1);
  ASSERT_TRUE(
      FileKeyProvider::RotateMaster(dir_.File("keyring.json"), Random::Secure(), kRotatedAt).ok());
  ASSERT_TRUE(keys_->ReloadIfChanged().ok());
  auto rows = store_->ScanSealedPii(0, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  auto rewrapped = codec_->Rewrap((*rows)[0].order_id, (*rows)[0].sealed);
  ASSERT_TRUE(rewrapped.ok() && rewrapped->has_value());
  store::SealedPiiUpdate stale;
  stale.seq = (*rows)[0].seq;
  stale.expected_sealed = "something else";
  stale.sealed = **rewrapped;
  auto replaced = store_->ReplaceSealedPii({stale});
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(*replaced, 0);
  EXPECT_EQ(Count("json_extract(pii, '$.mk') = 'm1'"), 1);
}

}  // namespace
}  // namespace oc::privacy
