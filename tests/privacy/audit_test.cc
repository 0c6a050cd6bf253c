// The audit chain against a real SQLite store: appends from many threads form one chain, and
// every kind of tampering with the rows (edit, delete, reorder, cut the tail) is caught and
// named. Tampering goes straight at the database file, as an attacker with file access would.
#include "privacy/audit.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <thread>

#include "store/scoped_temp_dir.h"

namespace oc::privacy {
namespace {

using oc::testing::ScopedTempDir;

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    log_.reset();
    store_.reset();
    store::SqliteOptions opt;
    opt.path = dir_.File("oc.db");
    auto s = store::OpenSqliteStore(opt);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    log_ = std::make_unique<AuditLog>(*store_, ids_, clock_, checkpoint_);
  }

  void AppendN(int n) {
    for (int i = 0; i < n; ++i) {
      store::AuditRecord e;
      e.actor = "key_admin";
      e.role = "admin";
      e.ip = "127.0.0.1";
      e.action = "pii.reveal";
      e.order_id = "ord_" + std::to_string(i);
      e.fields = {"customer.phone"};
      e.detail = "ticket 42";
      e.outcome = "ok";
      ASSERT_TRUE(log_->AppendAndWait(e).ok());
    }
  }

  // Runs SQL against the database file from outside the store, as a tamperer would.
  void Tamper(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir_.File("oc.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string message = err != nullptr ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }

  AuditVerdict Verify() {
    auto v = VerifyAuditChain(*store_, checkpoint_);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : AuditVerdict{};
  }

  ScopedTempDir dir_;
  ManualClock clock_{1'800'000'000'000};
  IdGenerator ids_{clock_, Random::Secure()};
  AuditCheckpoint checkpoint_{dir_.File("audit-checkpoint")};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditTest, AnEmptyChainVerifies) {
  AuditVerdict v = Verify();
  EXPECT_TRUE(v.ok);
  EXPECT_EQ(v.entries, 0);
}

TEST_F(AuditTest, ConcurrentAppendsFormOneUnbrokenChain) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) threads.emplace_back([&] { AppendN(25); });
  for (auto& t : threads) t.join();
  AuditVerdict v = Verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, 200);
  EXPECT_EQ(v.checkpoint_seq, 200);  // the last durable head reached the checkpoint file
  store::AuditQuery query;
  query.order_id = "ord_3";
  query.limit = 500;
  auto page = store_->ListAudit(query);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->size(), 8u);
}

TEST_F(AuditTest, AnEditedRowIsNamed) {
  AppendN(5);
  Tamper("UPDATE audit_log SET actor = 'key_someone_else' WHERE seq = 3");
  AuditVerdict v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 3);
  EXPECT_EQ(v.entries, 2);
  EXPECT_FALSE(v.first_bad_id.empty());
}

TEST_F(AuditTest, AnEditedRowWithARecomputedHashBreaksTheNextLink) {
  AppendN(5);
  auto rows = store_->ReadAuditChain(0, 10);
  ASSERT_TRUE(rows.ok());
  store::AuditRecord forged = (*rows)[1];
  forged.detail = "nothing to see";
  std::string forged_hash = AuditEntryHash(forged);
  Tamper("UPDATE audit_log SET detail = 'nothing to see', hash = '" + forged_hash +
         "' WHERE seq = 2");
  std::filesystem::remove(checkpoint_.path());  // the chain alone must catch it
  AuditVerdict v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 3);  // entry 2 is self-consistent; entry 3 no longer follows it
}

TEST_F(AuditTest, ADeletedRowIsNamed) {
  AppendN(5);
  Tamper("DELETE FROM audit_log WHERE seq = 2");
  AuditVerdict v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 2);
  EXPECT_NE(v.problem.find("missing"), std::string::npos) << v.problem;
}

TEST_F(AuditTest, ReorderedRowsAreNamed) {
  AppendN(5);
  // Swap rows 2 and 4 wholesale, keeping their stored seqs in place.
  Tamper(
      "UPDATE audit_log SET seq = -2 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 4;"
      "UPDATE audit_log SET seq = 4 WHERE seq = -2;");
  AuditVerdict v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 2);
}

TEST_F(AuditTest, ACutOffTailIsCaughtByTheCheckpoint) {
  AppendN(6);
  Tamper("DELETE FROM audit_log WHERE seq > 4");
  AuditVerdict v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 5);
  EXPECT_EQ(v.entries, 4);
  EXPECT_NE(v.problem.find("tail"), std::string::npos) << v.problem;
}

TEST_F(AuditTest, ARewrittenChainDisagreesWithTheCheckpoint) {
  AppendN(3);
  // Rewrite the whole chain consistently from entry 2 on: only the outside checkpoint knows.
  auto rows = store_->ReadAuditChain(0, 10);
  ASSERT_TRUE(rows.ok());
  std::string prev = (*rows)[0].hash;
  for (size_t i = 1; i < rows->size(); ++i) {
    store::AuditRecord r = (*rows)[i];
    r.detail = "rewritten";
    r.prev_hash = prev;
    r.hash = AuditEntryHash(r);
    prev = r.hash;
    Tamper("UPDATE audit_log SET detail = 'rewritten', prev_hash = '" + r.prev_hash +
           "', hash = '" + r.hash + "' WHERE seq = " + std::to_string(r.seq));
  }
  AuditVerdict v = Verify();
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_seq, 2);  // the checkpoint holds every genuine head
}

TEST_F(AuditTest, TheChainContinuesAcrossARestart) {
  AppendN(3);
  Reopen();
  AppendN(2);
  AuditVerdict v = Verify();
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.entries, 5);
}

}  // namespace
}  // namespace oc::privacy
