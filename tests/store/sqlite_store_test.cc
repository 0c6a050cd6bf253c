// The SQLite store against a real database file in a temp dir: round trips, constraints,
// savepoints, rollback, idempotency records, API keys, listing with filters and cursors, the
// outbox, and durability across reopen.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "store/scoped_temp_dir.h"
#include "store/store.h"

namespace oc::store {
namespace {

using oc::testing::ScopedTempDir;

Order MakeOrder(const std::string& id, const std::string& channel, const std::string& ref,
                OrderStatus status = OrderStatus::kPendingPayment, int64_t created_at = 1000,
                std::vector<std::string> tags = {}) {
  Order o;
  o.id = id;
  o.channel = channel;
  o.channel_order_id = ref;
  o.status = status;
  o.version = 1;
  o.customer = Customer{"小李", "李四", "13812345678", std::nullopt};
  o.shipping_address = Address{"浙江省", "杭州市", "西湖区", "文三路 1 号"};
  o.lines = {OrderLine{"SKU-A", "空气净化器", 1, 129900}, OrderLine{"SKU-B", "滤芯", 3, 100}};
  o.total = 130200;
  o.currency = "CNY";
  o.payment_method = "wechat_pay";
  o.tags = std::move(tags);
  o.created_at_ms = created_at;
  o.updated_at_ms = created_at;
  o.created_by = "key_CH";
  return o;
}

void ExpectSameOrder(const Order& got, const Order& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.channel, want.channel);
  EXPECT_EQ(got.channel_order_id, want.channel_order_id);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.refund_origin, want.refund_origin);
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(got.customer.nickname, want.customer.nickname);
  EXPECT_EQ(got.customer.name, want.customer.name);
  EXPECT_EQ(got.customer.phone, want.customer.phone);
  EXPECT_EQ(got.customer.id_number, want.customer.id_number);
  EXPECT_EQ(got.shipping_address.province, want.shipping_address.province);
  EXPECT_EQ(got.shipping_address.city, want.shipping_address.city);
  EXPECT_EQ(got.shipping_address.district, want.shipping_address.district);
  EXPECT_EQ(got.shipping_address.detail, want.shipping_address.detail);
  ASSERT_EQ(got.lines.size(), want.lines.size());
  for (size_t i = 0; i < got.lines.size(); ++i) {
    EXPECT_EQ(got.lines[i].sku, want.lines[i].sku) << i;
    EXPECT_EQ(got.lines[i].name, want.lines[i].name) << i;
    EXPECT_EQ(got.lines[i].qty, want.lines[i].qty) << i;
    EXPECT_EQ(got.lines[i].unit_price, want.lines[i].unit_price) << i;
  }
  EXPECT_EQ(got.total, want.total);
  EXPECT_EQ(got.currency, want.currency);
  EXPECT_EQ(got.payment_method, want.payment_method);
  EXPECT_EQ(got.tags, want.tags);
  EXPECT_EQ(got.health_score, want.health_score);
  EXPECT_EQ(got.risk_flags, want.risk_flags);
  EXPECT_EQ(got.assigned_agent, want.assigned_agent);
  EXPECT_EQ(got.reservation_id, want.reservation_id);
  EXPECT_EQ(got.placed_at_ms, want.placed_at_ms);
  EXPECT_EQ(got.created_at_ms, want.created_at_ms);
  EXPECT_EQ(got.updated_at_ms, want.updated_at_ms);
  EXPECT_EQ(got.created_by, want.created_by);
}

OutboxEvent MakeEvent(const std::string& id, const std::string& order_id, int64_t version) {
  OutboxEvent e;
  e.id = id;
  e.type = version == 1 ? "order.created" : "order.status_changed";
  e.order_id = order_id;
  e.order_version = version;
  e.payload_json = R"({"id":")" + id + R"(","order_version":)" + std::to_string(version) + "}";
  e.created_at_ms = 5000 + version;
  return e;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    store_.reset();
    SqliteOptions opt;
    opt.path = DbPath();
    opt.read_connections = 2;
    auto s = OpenSqliteStore(opt);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  std::string DbPath() const { return dir_.File("orders.db"); }

  std::unique_ptr<WriteTransaction> Begin() {
    auto t = store_->BeginWrite();
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(t).value() : nullptr;
  }

  // Inserts the orders in one transaction and commits.
  void InsertAll(const std::vector<Order>& orders) {
    auto txn = Begin();
    ASSERT_NE(txn, nullptr);
    for (const auto& o : orders) {
      Status s = txn->InsertOrder(o);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    Status c = txn->Commit();
    ASSERT_TRUE(c.ok()) << c.ToString();
  }

  std::optional<Order> Get(const std::string& id) {
    auto r = store_->GetOrder(id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::nullopt;
  }

  std::vector<OutboxEvent> Outbox() {
    auto r = store_->ReadOutbox(0, 100000);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<OutboxEvent>{};
  }

  // Every page of `q` (paged with q.limit), in order.
  std::vector<std::vector<std::string>> AllPages(OrderQuery q) {
    std::vector<std::vector<std::string>> pages;
    for (int guard = 0; guard < 10000; ++guard) {
      auto r = store_->ListOrders(q);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) break;
      std::vector<std::string> ids;
      for (const auto& o : r->items) ids.push_back(o.id);
      pages.push_back(ids);
      if (!r->next_before_seq) break;
      EXPECT_GT(*r->next_before_seq, 0);
      q.before_seq = *r->next_before_seq;
    }
    return pages;
  }

  static std::vector<std::string> Flatten(const std::vector<std::vector<std::string>>& pages) {
    std::vector<std::string> out;
    for (const auto& p : pages) out.insert(out.end(), p.begin(), p.end());
    return out;
  }

  // Runs `sql` on the database file beside the store (as an operator with sqlite3 would).
  void ExecSql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << " in " << sql;
    sqlite3_free(err);
    sqlite3_close(db);
  }

  // Writes `holds` in one transaction, several rows to a statement as the writer does.
  void CommitHolds(const std::vector<ReservationRecord>& holds) {
    auto txn = Begin();
    std::vector<const ReservationRecord*> rows;
    for (const ReservationRecord& r : holds) rows.push_back(&r);
    ASSERT_TRUE(txn->InsertReservations(rows).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }

  std::optional<ReservationRecord> FindHold(const std::string& id) {
    auto r = store_->GetReservation(id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::nullopt;
  }

  int64_t QueryInt(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(DbPath().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  }

  ScopedTempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteStoreTest, PingAndEmptyStore) {
  EXPECT_TRUE(store_->Ping().ok());
  EXPECT_FALSE(Get("ord_missing").has_value());
  EXPECT_TRUE(Outbox().empty());
  auto counts = store_->CountOrdersByStatus();
  ASSERT_TRUE(counts.ok());
  EXPECT_TRUE(counts->empty());
  auto page = store_->ListOrders(OrderQuery{});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
  EXPECT_FALSE(page->next_before_seq.has_value());
}

TEST_F(SqliteStoreTest, InsertAndFindOrderWithLines) {
  Order o = MakeOrder("ord_1", "douyin", "DY1");
  o.customer.id_number = "330106199001011234";
  o.tags = {"vip", "flash"};
  o.risk_flags = {"brushing"};
  o.health_score = 77;
  o.assigned_agent = "key_AGENT";
  o.reservation_id = "rsv_9";
  o.placed_at_ms = 999;
  o.status = OrderStatus::kRefunding;
  o.refund_origin = OrderStatus::kShipped;
  o.version = 4;
  auto txn = Begin();
  ASSERT_TRUE(txn->InsertOrder(o).ok());
  auto inside = txn->FindOrder("ord_1");
  ASSERT_TRUE(inside.ok());
  ASSERT_TRUE(inside->has_value());
  ExpectSameOrder(**inside, o);
  ASSERT_TRUE(txn->Commit().ok());
  auto got = Get("ord_1");
  ASSERT_TRUE(got.has_value());
  ExpectSameOrder(*got, o);
}

TEST_F(SqliteStoreTest, OrderWithoutOptionalFieldsRoundTrips) {
  Order o = MakeOrder("ord_min", "pos", "P1");
  o.customer = Customer{};
  o.shipping_address = Address{};
  o.lines = {OrderLine{"ONLY", "", 1, 0}};
  o.total = 0;
  o.payment_method = "";
  InsertAll({o});
  auto got = Get("ord_min");
  ASSERT_TRUE(got.has_value());
  ExpectSameOrder(*got, o);
  EXPECT_FALSE(got->customer.id_number.has_value());
  EXPECT_FALSE(got->health_score.has_value());
}

TEST_F(SqliteStoreTest, UncommittedWritesAreInvisibleToReaders) {
  auto txn = Begin();
  ASSERT_TRUE(txn->InsertOrder(MakeOrder("ord_1", "douyin", "DY1")).ok());
  ASSERT_TRUE(txn->AppendOutbox(MakeEvent("evt_1", "ord_1", 1)).ok());
  // Readers run beside the open write transaction (WAL) and do not see it.
  EXPECT_FALSE(Get("ord_1").has_value());
  EXPECT_TRUE(Outbox().empty());
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_TRUE(Get("ord_1").has_value());
  EXPECT_EQ(Outbox().size(), 1u);
}

TEST_F(SqliteStoreTest, UniqueChannelOrderIdIsConstraintConflict) {
  auto txn = Begin();
  ASSERT_TRUE(txn->InsertOrder(MakeOrder("ord_1", "douyin", "DY1")).ok());
  Status dup = txn->InsertOrder(MakeOrder("ord_2", "douyin", "DY1"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.kind(), ErrorKind::kConflict);
  EXPECT_EQ(dup.code(), "constraint");
  // The same channel order id on another channel is a different order.
  EXPECT_TRUE(txn->InsertOrder(MakeOrder("ord_3", "taobao", "DY1")).ok());
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_TRUE(Get("ord_1").has_value());
  EXPECT_FALSE(Get("ord_2").has_value());
  EXPECT_TRUE(Get("ord_3").has_value());
}

TEST_F(SqliteStoreTest, DuplicateOrderIdIsConstraintConflict) {
  InsertAll({MakeOrder("ord_1", "douyin", "DY1")});
  auto txn = Begin();
  Status dup = txn->InsertOrder(MakeOrder("ord_1", "douyin", "DY2"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.code(), "constraint");
}

TEST_F(SqliteStoreTest, FindOrderIdByChannelRef) {
  InsertAll({MakeOrder("ord_1", "douyin", "DY1"), MakeOrder("ord_2", "taobao", "DY1")});
  auto txn = Begin();
  auto a = txn->FindOrderIdByChannelRef("douyin", "DY1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, std::optional<std::string>("ord_1"));
  auto b = txn->FindOrderIdByChannelRef("taobao", "DY1");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, std::optional<std::string>("ord_2"));
  auto none = txn->FindOrderIdByChannelRef("jd", "DY1");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto none2 = txn->FindOrderIdByChannelRef("douyin", "dy1");
  ASSERT_TRUE(none2.ok());
  EXPECT_FALSE(none2->has_value());
}

TEST_F(SqliteStoreTest, WritesCountsOnlySuccessfulWriteStatements) {
  InsertAll({MakeOrder("ord_1", "douyin", "DY1")});
  auto txn = Begin();
  EXPECT_EQ(txn->writes(), 0);
  ASSERT_TRUE(txn->FindOrder("ord_1").ok());  // reads do not count
  EXPECT_EQ(txn->writes(), 0);
  Order two_lines = MakeOrder("ord_2", "douyin", "DY2");
  ASSERT_EQ(two_lines.lines.size(), 2u);
  ASSERT_TRUE(txn->InsertOrder(two_lines).ok());
  EXPECT_EQ(txn->writes(), 3);  // the order row and its two lines
  ASSERT_TRUE(txn->AppendOutbox(MakeEvent("evt_2", "ord_2", 1)).ok());
  EXPECT_EQ(txn->writes(), 4);
  ASSERT_FALSE(txn->InsertOrder(MakeOrder("ord_3", "douyin", "DY1")).ok());  // duplicate ref
  EXPECT_EQ(txn->writes(), 4);
  ASSERT_FALSE(txn->AppendOutbox(MakeEvent("evt_2", "ord_2", 1)).ok());  // duplicate event id
  EXPECT_EQ(txn->writes(), 4);
  ASSERT_TRUE(txn->PutIdempotency("key_P", "k", IdempotencyRecord{"h", 201, "{}"}, 1).ok());
  EXPECT_EQ(txn->writes(), 5);
  ASSERT_TRUE(txn->Commit().ok());
}

TEST_F(SqliteStoreTest, AFailedStatementKeepsTheBatchUsable) {
  InsertAll({MakeOrder("ord_1", "douyin", "DY1")});
  auto txn = Begin();
  ASSERT_TRUE(txn->InsertOrder(MakeOrder("ord_x", "douyin", "X")).ok());
  ASSERT_FALSE(txn->InsertOrder(MakeOrder("ord_y", "douyin", "DY1")).ok());  // refused whole
  ASSERT_TRUE(txn->InsertOrder(MakeOrder("ord_z", "douyin", "Z")).ok());
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_TRUE(Get("ord_x").has_value());
  EXPECT_FALSE(Get("ord_y").has_value());
  EXPECT_TRUE(Get("ord_z").has_value());
}

TEST_F(SqliteStoreTest, DestroyingTheTransactionWithoutCommitRollsBack) {
  {
    auto txn = Begin();
    ASSERT_TRUE(txn->InsertOrder(MakeOrder("ord_1", "douyin", "DY1")).ok());
    ASSERT_TRUE(txn->AppendOutbox(MakeEvent("evt_1", "ord_1", 1)).ok());
    ASSERT_TRUE(txn->PutIdempotency("key_P", "k", IdempotencyRecord{"h", 201, "{}"}, 1).ok());
  }
  EXPECT_FALSE(Get("ord_1").has_value());
  EXPECT_TRUE(Outbox().empty());
  // The writer lock was released and the connection is usable again.
  auto txn = Begin();
  ASSERT_NE(txn, nullptr);
  auto idem = txn->FindIdempotency("key_P", "k");
  ASSERT_TRUE(idem.ok());
  EXPECT_FALSE(idem->has_value());
  ASSERT_TRUE(txn->InsertOrder(MakeOrder("ord_1", "douyin", "DY1")).ok());
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_TRUE(Get("ord_1").has_value());
}

TEST_F(SqliteStoreTest, UpdateOrderPersistsTheMutablePart) {
  Order o = MakeOrder("ord_1", "douyin", "DY1", OrderStatus::kShipped);
  InsertAll({o});
  Order changed = o;
  changed.status = OrderStatus::kRefunding;
  changed.refund_origin = OrderStatus::kShipped;
  changed.version = 5;
  changed.assigned_agent = "key_CS";
  changed.tags = {"complaint"};
  changed.risk_flags = {"fraud_pattern"};
  changed.health_score = 12;
  changed.updated_at_ms = 77777;
  // Immutable parts changed in memory are not written by UpdateOrder.
  changed.customer.phone = "19999999999";
  changed.total = 1;
  auto txn = Begin();
  ASSERT_TRUE(txn->UpdateOrder(changed).ok());
  ASSERT_TRUE(txn->Commit().ok());
  txn.reset();
  auto got = Get("ord_1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status, OrderStatus::kRefunding);
  EXPECT_EQ(got->refund_origin, OrderStatus::kShipped);
  EXPECT_EQ(got->version, 5);
  EXPECT_EQ(got->assigned_agent, "key_CS");
  EXPECT_EQ(got->tags, std::vector<std::string>{"complaint"});
  EXPECT_EQ(got->risk_flags, std::vector<std::string>{"fraud_pattern"});
  EXPECT_EQ(got->health_score, 12);
  EXPECT_EQ(got->updated_at_ms, 77777);
  EXPECT_EQ(got->customer.phone, "13812345678");
  EXPECT_EQ(got->total, o.total);
  EXPECT_EQ(got->created_at_ms, o.created_at_ms);
  // And back: the refund origin clears.
  changed.status = OrderStatus::kShipped;
  changed.refund_origin.reset();
  changed.version = 6;
  auto txn2 = Begin();
  ASSERT_TRUE(txn2->UpdateOrder(changed).ok());
  ASSERT_TRUE(txn2->Commit().ok());
  EXPECT_FALSE(Get("ord_1")->refund_origin.has_value());
}

TEST_F(SqliteStoreTest, UpdateOfAMissingOrderFails) {
  auto txn = Begin();
  EXPECT_FALSE(txn->UpdateOrder(MakeOrder("ord_nope", "douyin", "N")).ok());
}

TEST_F(SqliteStoreTest, IdempotencyRecords) {
  auto txn = Begin();
  auto none = txn->FindIdempotency("key_P", "k1");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  IdempotencyRecord rec{"abc123", 201, R"({"id":"ord_1"})"};
  ASSERT_TRUE(txn->PutIdempotency("key_P", "k1", rec, 42).ok());
  ASSERT_TRUE(txn->Commit().ok());
  txn.reset();

  auto txn2 = Begin();
  auto got = txn2->FindIdempotency("key_P", "k1");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->request_hash, "abc123");
  EXPECT_EQ((*got)->status_code, 201);
  EXPECT_EQ((*got)->response_body, R"({"id":"ord_1"})");
  // Keys are scoped per principal.
  auto other = txn2->FindIdempotency("key_Q", "k1");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
  auto other_key = txn2->FindIdempotency("key_P", "k2");
  ASSERT_TRUE(other_key.ok());
  EXPECT_FALSE(other_key->has_value());
  // A second record under the same (principal, key) is refused.
  Status dup = txn2->PutIdempotency("key_P", "k1", IdempotencyRecord{"zzz", 200, "{}"}, 43);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.code(), "constraint");
  EXPECT_TRUE(txn2->PutIdempotency("key_Q", "k1", rec, 44).ok());
}

TEST_F(SqliteStoreTest, PurgeIdempotencyDeletesTheOldestFirstAndNoMoreThanAsked) {
  // Keys sort the other way round from their age: the oldest must be found by age.
  auto key = [](int64_t at) { return "k" + std::to_string(100 - at); };
  {
    auto txn = Begin();
    for (int64_t at : {50, 10, 40, 20, 30}) {
      IdempotencyRecord rec{"h", 201, "{}"};
      ASSERT_TRUE(txn->PutIdempotency("key_P", key(at), rec, at).ok());
    }
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto present = [&](int64_t at) {
    auto txn = Begin();
    auto r = txn->FindIdempotency("key_P", key(at));
    EXPECT_TRUE(r.ok());
    return r.ok() && r->has_value();
  };
  {
    auto txn = Begin();
    auto step = txn->PurgeIdempotency(45, 2);  // four are older than 45: the oldest two go
    ASSERT_TRUE(step.ok()) << step.status().ToString();
    EXPECT_EQ(*step, 2);
    EXPECT_EQ(txn->writes(), 1);
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_FALSE(present(10));
  EXPECT_FALSE(present(20));
  EXPECT_TRUE(present(30));
  EXPECT_TRUE(present(40));
  EXPECT_TRUE(present(50));
  {
    auto txn = Begin();
    auto step = txn->PurgeIdempotency(45, 100);
    ASSERT_TRUE(step.ok());
    EXPECT_EQ(*step, 2);
    auto none = txn->PurgeIdempotency(45, 100);
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(*none, 0);
    // A deleted key can be stored afresh.
    ASSERT_TRUE(txn->PutIdempotency("key_P", key(10), IdempotencyRecord{"h2", 200, "{}"}, 60).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_FALSE(present(30));
  EXPECT_FALSE(present(40));
  EXPECT_TRUE(present(50));
  EXPECT_TRUE(present(10));
}

TEST_F(SqliteStoreTest, ApiKeysByHashAndId) {
  ApiKeyRecord admin;
  admin.principal = Principal{"key_ADMIN", "ops lead", Role::kAdmin, ""};
  admin.key_hash = std::string(64, 'a');
  admin.totp_secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
  admin.created_at_ms = 123;
  ApiKeyRecord channel;
  channel.principal = Principal{"key_CH", "douyin connector", Role::kChannel, "douyin"};
  channel.key_hash = std::string(64, 'b');
  channel.created_at_ms = 456;
  ASSERT_TRUE(store_->InsertApiKey(admin).ok());
  ASSERT_TRUE(store_->InsertApiKey(channel).ok());

  auto by_hash = store_->FindApiKeyByHash(std::string(64, 'b'));
  ASSERT_TRUE(by_hash.ok());
  ASSERT_TRUE(by_hash->has_value());
  EXPECT_EQ((*by_hash)->principal.id, "key_CH");
  EXPECT_EQ((*by_hash)->principal.name, "douyin connector");
  EXPECT_EQ((*by_hash)->principal.role, Role::kChannel);
  EXPECT_EQ((*by_hash)->principal.channel, "douyin");
  EXPECT_EQ((*by_hash)->created_at_ms, 456);
  EXPECT_EQ((*by_hash)->totp_secret, "");

  auto by_id = store_->FindApiKeyById("key_ADMIN");
  ASSERT_TRUE(by_id.ok());
  ASSERT_TRUE(by_id->has_value());
  EXPECT_EQ((*by_id)->key_hash, std::string(64, 'a'));
  EXPECT_EQ((*by_id)->principal.role, Role::kAdmin);
  EXPECT_EQ((*by_id)->totp_secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");

  auto unknown = store_->FindApiKeyByHash(std::string(64, 'c'));
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());
  auto unknown_id = store_->FindApiKeyById("key_NOPE");
  ASSERT_TRUE(unknown_id.ok());
  EXPECT_FALSE(unknown_id->has_value());
  // A hash is not an id and an id is not a hash.
  EXPECT_FALSE(store_->FindApiKeyById(std::string(64, 'a'))->has_value());
  EXPECT_FALSE(store_->FindApiKeyByHash("key_ADMIN")->has_value());

  ApiKeyRecord dup_hash = channel;
  dup_hash.principal.id = "key_OTHER";
  Status s = store_->InsertApiKey(dup_hash);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), "constraint");
  ApiKeyRecord dup_id = channel;
  dup_id.key_hash = std::string(64, 'd');
  EXPECT_FALSE(store_->InsertApiKey(dup_id).ok());
}

TEST_F(SqliteStoreTest, ListOrdersNewestFirstWithCursorPaging) {
  std::vector<Order> orders;
  for (int i = 0; i < 23; ++i) {
    orders.push_back(MakeOrder("ord_" + std::to_string(100 + i), "douyin", "R" + std::to_string(i),
                               OrderStatus::kPendingPayment, 1000 + i));
  }
  InsertAll(orders);
  std::vector<std::string> newest_first;
  for (auto it = orders.rbegin(); it != orders.rend(); ++it) newest_first.push_back(it->id);

  OrderQuery q;
  q.limit = 5;
  auto pages = AllPages(q);
  ASSERT_EQ(pages.size(), 5u);  // 5 + 5 + 5 + 5 + 3
  for (size_t i = 0; i + 1 < pages.size(); ++i) EXPECT_EQ(pages[i].size(), 5u) << i;
  EXPECT_EQ(pages.back().size(), 3u);
  EXPECT_EQ(Flatten(pages), newest_first);  // no duplicates, no gaps, newest first

  // A limit that divides the count exactly: the last full page has no cursor, no empty page.
  q.limit = 23;
  pages = AllPages(q);
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0], newest_first);
  q.limit = 1;
  EXPECT_EQ(Flatten(AllPages(q)), newest_first);

  // Lines come with listed orders.
  auto first = store_->ListOrders(OrderQuery{});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->items.size(), 23u);
  EXPECT_FALSE(first->next_before_seq.has_value());
  for (const auto& o : first->items) {
    ASSERT_EQ(o.lines.size(), 2u) << o.id;
    EXPECT_EQ(o.lines[1].qty, 3);
  }
}

TEST_F(SqliteStoreTest, PagingIsStableWhileNewOrdersArrive) {
  std::vector<Order> orders;
  for (int i = 0; i < 10; ++i) {
    orders.push_back(MakeOrder("ord_" + std::to_string(i), "douyin", "R" + std::to_string(i)));
  }
  InsertAll(orders);
  OrderQuery q;
  q.limit = 4;
  auto p1 = store_->ListOrders(q);
  ASSERT_TRUE(p1.ok());
  ASSERT_TRUE(p1->next_before_seq.has_value());
  InsertAll({MakeOrder("ord_new", "douyin", "NEW")});  // newer than everything listed
  q.before_seq = *p1->next_before_seq;
  std::vector<std::string> seen;
  for (const auto& o : p1->items) seen.push_back(o.id);
  for (auto& page : AllPages(q)) seen.insert(seen.end(), page.begin(), page.end());
  std::vector<std::string> want;
  for (int i = 9; i >= 0; --i) want.push_back("ord_" + std::to_string(i));
  EXPECT_EQ(seen, want);
}

TEST_F(SqliteStoreTest, ListOrdersFilters) {
  using S = OrderStatus;
  InsertAll({
      MakeOrder("ord_0", "douyin", "0", S::kPaid, 1000, {"vip"}),
      MakeOrder("ord_1", "taobao", "1", S::kPaid, 2000, {"vip2"}),
      MakeOrder("ord_2", "douyin", "2", S::kShipped, 3000, {"vip", "flash"}),
      MakeOrder("ord_3", "douyin", "3", S::kPaid, 4000, {}),
      MakeOrder("ord_4", "jd", "4", S::kCancelled, 5000, {"flash"}),
      MakeOrder("ord_5", "douyin", "5", S::kPaid, 6000, {"vip"}),
  });
  auto ids = [&](OrderQuery q) {
    q.limit = 2;  // filters must hold across pages too
    return Flatten(AllPages(q));
  };
  OrderQuery q;
  q.status = S::kPaid;
  EXPECT_EQ(ids(q), (std::vector<std::string>{"ord_5", "ord_3", "ord_1", "ord_0"}));
  q = {};
  q.channel = "douyin";
  EXPECT_EQ(ids(q), (std::vector<std::string>{"ord_5", "ord_3", "ord_2", "ord_0"}));
  q = {};
  q.tag = "vip";  // exact tag, not a prefix of "vip2"
  EXPECT_EQ(ids(q), (std::vector<std::string>{"ord_5", "ord_2", "ord_0"}));
  q = {};
  q.since_ms = 3000;  // inclusive
  EXPECT_EQ(ids(q), (std::vector<std::string>{"ord_5", "ord_4", "ord_3", "ord_2"}));
  q = {};
  q.status = S::kPaid;
  q.channel = "douyin";
  q.tag = "vip";
  EXPECT_EQ(ids(q), (std::vector<std::string>{"ord_5", "ord_0"}));
  q.since_ms = 2000;
  EXPECT_EQ(ids(q), (std::vector<std::string>{"ord_5"}));
  q = {};
  q.status = S::kRefunded;
  EXPECT_TRUE(ids(q).empty());
  q = {};
  q.channel = "pdd";
  EXPECT_TRUE(ids(q).empty());
  q = {};
  q.tag = "vi";
  EXPECT_TRUE(ids(q).empty());
}

TEST_F(SqliteStoreTest, ListOrdersByAssignedAgent) {
  Order a = MakeOrder("ord_a", "douyin", "A");
  a.assigned_agent = "key_CS1";
  Order b = MakeOrder("ord_b", "douyin", "B");
  b.assigned_agent = "key_CS2";
  Order c = MakeOrder("ord_c", "douyin", "C");
  c.assigned_agent = "key_CS1";
  InsertAll({a, b, c});
  OrderQuery q;
  q.assigned_agent = "key_CS1";
  EXPECT_EQ(Flatten(AllPages(q)), (std::vector<std::string>{"ord_c", "ord_a"}));
}

TEST_F(SqliteStoreTest, ListLimitDefaultsTo50AndIsCappedAt500) {
  std::vector<Order> orders;
  for (int i = 0; i < 520; ++i) {
    orders.push_back(MakeOrder("ord_" + std::to_string(i), "douyin", "R" + std::to_string(i)));
  }
  InsertAll(orders);
  OrderQuery q;
  q.limit = 0;
  auto def = store_->ListOrders(q);
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->items.size(), kListLimitDefault);
  EXPECT_TRUE(def->next_before_seq.has_value());
  q.limit = 100000;
  auto capped = store_->ListOrders(q);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->items.size(), kListLimitMax);
  ASSERT_TRUE(capped->next_before_seq.has_value());
  q.before_seq = *capped->next_before_seq;
  auto rest = store_->ListOrders(q);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->items.size(), 20u);
  EXPECT_FALSE(rest->next_before_seq.has_value());
  EXPECT_EQ(rest->items.back().id, "ord_0");
}

TEST_F(SqliteStoreTest, CountOrdersByStatus) {
  using S = OrderStatus;
  std::map<S, int64_t> want = {{S::kPaid, 3}, {S::kShipped, 2}, {S::kCancelled, 1}};
  std::vector<Order> orders;
  int n = 0;
  for (const auto& [status, count] : want) {
    for (int64_t i = 0; i < count; ++i, ++n) {
      orders.push_back(MakeOrder("ord_" + std::to_string(n), "douyin", std::to_string(n), status));
    }
  }
  InsertAll(orders);
  auto counts = store_->CountOrdersByStatus();
  ASSERT_TRUE(counts.ok());
  std::map<S, int64_t> got(counts->begin(), counts->end());
  EXPECT_EQ(got, want);
}

TEST_F(SqliteStoreTest, ReadOutboxInCommitOrder) {
  {
    auto txn = Begin();
    ASSERT_TRUE(txn->AppendOutbox(MakeEvent("evt_c", "ord_1", 1)).ok());
    ASSERT_TRUE(txn->AppendOutbox(MakeEvent("evt_a", "ord_1", 2)).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  {
    auto txn = Begin();
    ASSERT_TRUE(txn->AppendOutbox(MakeEvent("evt_b", "ord_2", 1)).ok());
    ASSERT_TRUE(txn->AppendOutbox(MakeEvent("evt_d", "ord_1", 3)).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto all = Outbox();
  ASSERT_EQ(all.size(), 4u);
  std::vector<std::string> ids;
  for (size_t i = 0; i < all.size(); ++i) {
    ids.push_back(all[i].id);
    if (i > 0) {
      EXPECT_GT(all[i].seq, all[i - 1].seq);
    }
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"evt_c", "evt_a", "evt_b", "evt_d"}));
  EXPECT_EQ(all[1].type, "order.status_changed");
  EXPECT_EQ(all[1].order_id, "ord_1");
  EXPECT_EQ(all[1].order_version, 2);
  EXPECT_EQ(all[1].payload_json, MakeEvent("evt_a", "ord_1", 2).payload_json);
  EXPECT_EQ(all[1].created_at_ms, 5002);

  auto after = store_->ReadOutbox(all[0].seq, 2);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].id, "evt_a");
  EXPECT_EQ((*after)[1].id, "evt_b");
  auto tail = store_->ReadOutbox(all[3].seq, 10);
  ASSERT_TRUE(tail.ok());
  EXPECT_TRUE(tail->empty());
}

TEST_F(SqliteStoreTest, OutboxEventIdsAreUnique) {
  auto txn = Begin();
  ASSERT_TRUE(txn->AppendOutbox(MakeEvent("evt_1", "ord_1", 1)).ok());
  Status dup = txn->AppendOutbox(MakeEvent("evt_1", "ord_1", 2));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.code(), "constraint");
}

TEST_F(SqliteStoreTest, CommittedDataSurvivesReopenAndUncommittedDoesNot) {
  Order o = MakeOrder("ord_1", "douyin", "DY1");
  o.customer.id_number = "330106199001011234";
  InsertAll({o});
  ApiKeyRecord key;
  key.principal = Principal{"key_1", "k", Role::kWarehouse, ""};
  key.key_hash = std::string(64, 'e');
  ASSERT_TRUE(store_->InsertApiKey(key).ok());
  {
    auto txn = Begin();
    ASSERT_TRUE(txn->AppendOutbox(MakeEvent("evt_1", "ord_1", 1)).ok());
    ASSERT_TRUE(txn->PutIdempotency("key_1", "idem", IdempotencyRecord{"h", 201, "b"}, 1).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  {
    auto txn = Begin();  // never committed
    ASSERT_TRUE(txn->InsertOrder(MakeOrder("ord_lost", "douyin", "LOST")).ok());
    ASSERT_TRUE(txn->AppendOutbox(MakeEvent("evt_lost", "ord_lost", 1)).ok());
  }
  store_.reset();
  Open();

  auto got = Get("ord_1");
  ASSERT_TRUE(got.has_value());
  ExpectSameOrder(*got, o);
  EXPECT_FALSE(Get("ord_lost").has_value());
  auto events = Outbox();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, "evt_1");
  auto k = store_->FindApiKeyByHash(std::string(64, 'e'));
  ASSERT_TRUE(k.ok());
  ASSERT_TRUE(k->has_value());
  EXPECT_EQ((*k)->principal.role, Role::kWarehouse);
  auto txn = Begin();
  auto idem = txn->FindIdempotency("key_1", "idem");
  ASSERT_TRUE(idem.ok());
  ASSERT_TRUE(idem->has_value());
  EXPECT_EQ((*idem)->response_body, "b");
  // The unique index survived too.
  EXPECT_FALSE(txn->InsertOrder(MakeOrder("ord_2", "douyin", "DY1")).ok());
}

TEST_F(SqliteStoreTest, SchemaMigrationIsIdempotentOnReopen) {
  InsertAll({MakeOrder("ord_1", "douyin", "DY1")});
  for (int i = 0; i < 3; ++i) {
    store_.reset();
    Open();
  }
  store_.reset();
  EXPECT_EQ(QueryInt("SELECT count(*) FROM schema_migrations"), 13);  // one row per migration
  EXPECT_EQ(QueryInt("SELECT max(version) FROM schema_migrations"), 13);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM orders"), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM order_lines"), 2);
  Open();
  EXPECT_TRUE(Get("ord_1").has_value());
}

SubscriptionRecord Subscription(const std::string& id) {
  SubscriptionRecord r;
  r.id = id;
  r.url = "http://a/";
  r.events = {"order.created"};
  r.secret = "0123456789abcdef";
  r.max_per_minute = 60;
  r.batch_max = 10;
  r.created_by = "key_1";
  r.created_at_ms = 1;
  return r;
}

// A subscription's role view survives a restart exactly; no view stays no view (not admin).
TEST_F(SqliteStoreTest, SubscriptionViewsRoundTripAcrossReopen) {
  SubscriptionRecord plain = Subscription("sub_1");
  SubscriptionRecord scoped = plain;
  scoped.id = "sub_2";
  scoped.view_role = Role::kChannel;
  scoped.view_channel = "douyin";
  SubscriptionRecord finance = plain;
  finance.id = "sub_3";
  finance.view_role = Role::kFinance;
  for (const auto& r : {plain, scoped, finance}) {
    Status s = store_->InsertSubscription(r);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  Open();
  auto got = store_->ListSubscriptions();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_FALSE((*got)[0].view_role.has_value());
  EXPECT_EQ((*got)[0].view_channel, "");
  EXPECT_EQ((*got)[1].view_role, Role::kChannel);
  EXPECT_EQ((*got)[1].view_channel, "douyin");
  EXPECT_EQ((*got)[2].view_role, Role::kFinance);
  EXPECT_EQ((*got)[2].view_channel, "");
}

// Dead letters page newest first, and a page goes on after the last one's position, so letters
// that tie on time and event (one event dead for two subscribers in the same millisecond) are
// each listed exactly once, and letters added meanwhile do not repeat earlier ones.
TEST_F(SqliteStoreTest, DeadLettersPageNewestFirstWithTiesListedOnce) {
  for (const char* id : {"sub_1", "sub_2"})
    ASSERT_TRUE(store_->InsertSubscription(Subscription(id)).ok());
  auto letter = [](std::string id, std::string sub, int64_t seq, int64_t at) {
    DeadLetterRecord d;
    d.id = std::move(id);
    d.subscription_id = std::move(sub);
    d.event_seq = seq;
    d.event_id = "evt_" + std::to_string(seq);
    d.event_type = "order.created";
    d.order_id = "ord_" + std::to_string(seq);
    d.attempts = 4;
    d.last_error = "HTTP 503";
    d.created_at_ms = at;
    d.updated_at_ms = at;
    return d;
  };
  // Newest first: (3000, 9) then the tie at (2000, 5) by id, then (2000, 4), then (1000, 7).
  DeliveryProgress one{"sub_1",
                       9,
                       {letter("dlq_A", "sub_1", 7, 1000), letter("dlq_C", "sub_1", 5, 2000),
                        letter("dlq_D", "sub_1", 4, 2000), letter("dlq_E", "sub_1", 9, 3000)},
                       {},
                       {}};
  DeliveryProgress two{"sub_2", 9, {letter("dlq_B", "sub_2", 5, 2000)}, {}, {}};
  ASSERT_TRUE(store_->RecordDelivery(one).ok());
  ASSERT_TRUE(store_->RecordDelivery(two).ok());
  const std::vector<std::string> newest_first = {"dlq_E", "dlq_C", "dlq_B", "dlq_D", "dlq_A"};

  for (size_t limit : {1, 2, 3, 5}) {
    std::vector<std::string> seen;
    DeadLetterQuery q{"", limit, std::nullopt};
    for (int page = 0; page < 10; ++page) {
      auto got = store_->ListDeadLetters(q);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_LE(got->size(), limit);
      for (const auto& d : *got) seen.push_back(d.id);
      if (got->size() < limit) break;
      const DeadLetterRecord& last = got->back();
      q.after = DeadLetterPosition{last.created_at_ms, last.event_seq, last.id};
    }
    EXPECT_EQ(seen, newest_first) << "limit " << limit;
  }

  // One subscription's, after a position.
  DeadLetterQuery mine{"sub_1", 10, DeadLetterPosition{2000, 5, "dlq_C"}};
  auto rest = store_->ListDeadLetters(mine);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[0].id, "dlq_D");
  EXPECT_EQ((*rest)[1].id, "dlq_A");

  // A letter newer than the first page does not push the second page's letters back onto it.
  DeadLetterQuery first{"", 2, std::nullopt};
  auto page1 = store_->ListDeadLetters(first);
  ASSERT_TRUE(page1.ok());
  DeliveryProgress later{"sub_2", 10, {letter("dlq_F", "sub_2", 10, 4000)}, {}, {}};
  ASSERT_TRUE(store_->RecordDelivery(later).ok());
  const DeadLetterRecord& end = page1->back();
  DeadLetterQuery second{"", 2, DeadLetterPosition{end.created_at_ms, end.event_seq, end.id}};
  auto page2 = store_->ListDeadLetters(second);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->size(), 2u);
  EXPECT_EQ((*page2)[0].id, "dlq_B");
  EXPECT_EQ((*page2)[1].id, "dlq_D");
}

// A view role this binary does not know must not turn into "no view" or a wider one.
TEST_F(SqliteStoreTest, AnUnknownSubscriptionViewRoleIsAnErrorNotAWiderView) {
  SubscriptionRecord r = Subscription("sub_1");
  r.view_role = Role::kWarehouse;
  ASSERT_TRUE(store_->InsertSubscription(r).ok());
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE subscriptions SET view_role = 'superuser'", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  Open();
  EXPECT_FALSE(store_->ListSubscriptions().ok());
}

TEST_F(SqliteStoreTest, DatabaseIsInWalMode) {
  InsertAll({MakeOrder("ord_1", "douyin", "DY1")});
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(DbPath().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(SqliteStoreTest, ANewerSchemaIsRefused) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (99, 0)", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);
  SqliteOptions opt;
  opt.path = DbPath();
  auto s = OpenSqliteStore(opt);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().kind(), ErrorKind::kIOError);
}

TEST_F(SqliteStoreTest, OpeningAnUnwritablePathFails) {
  SqliteOptions opt;
  opt.path = dir_.File("no/such/dir/orders.db");
  auto s = OpenSqliteStore(opt);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().kind(), ErrorKind::kIOError);
}

TEST_F(SqliteStoreTest, StockIsWrittenInTheTransactionAndLoadsBackAfterReopen) {
  {
    auto txn = Begin();
    ASSERT_TRUE(txn->PutStock(StockRecord{"AIR-X1", 100, 5, 3, 2, 0, ""}).ok());
    ASSERT_TRUE(txn->PutStock(StockRecord{"FILTER", 10, 0, 0, 0, 0, ""}).ok());
    EXPECT_EQ(txn->writes(), 2);
    ASSERT_TRUE(txn->SetCategory("AIR-X1", "air").ok());
    ASSERT_TRUE(txn->PutStock(StockRecord{"AIR-X1", 100, 5, 4, 2, 3, ""}).ok());  // replaces
    ASSERT_TRUE(txn->SetCategory("NEW-SKU", "kitchen").ok());  // a row with zero counters
    ASSERT_TRUE(txn->Commit().ok());
  }
  {
    auto txn = Begin();
    ASSERT_TRUE(txn->PutStock(StockRecord{"ROLLED-BACK", 1, 0, 0, 0, 0, ""}).ok());
  }  // destroyed without Commit
  auto negative = Begin();
  EXPECT_FALSE(
      negative->PutStock(StockRecord{"BAD", 1, 0, -1, 0, 0, ""}).ok());  // CHECK constraint
  negative.reset();
  store_.reset();
  Open();
  auto stock = store_->LoadStock();
  ASSERT_TRUE(stock.ok()) << stock.status().ToString();
  ASSERT_EQ(stock->size(), 3u);
  EXPECT_EQ((*stock)[0].sku, "AIR-X1");
  EXPECT_EQ((*stock)[0].reserved, 4);
  EXPECT_EQ((*stock)[0].sold, 2);
  EXPECT_EQ((*stock)[0].safety_buffer, 5);
  EXPECT_EQ((*stock)[0].oversold, 3);
  EXPECT_EQ((*stock)[0].category, "air");  // counters written after the category keep it
  EXPECT_EQ((*stock)[1].sku, "FILTER");
  EXPECT_EQ((*stock)[2].sku, "NEW-SKU");
  EXPECT_EQ((*stock)[2].on_hand, 0);
  EXPECT_EQ((*stock)[2].category, "kitchen");
}

// In WAL mode only checkpoints write the database file, and SQLite's own automatic checkpoint
// is replaced (it would run inside the writer's COMMIT): so the file growing while the store is
// open, with no reader or writer asking for it, shows the background checkpointer at work.
TEST_F(SqliteStoreTest, ABackgroundCheckpointCopiesTheLogIntoTheDatabaseFile) {
  struct stat before {};
  ASSERT_EQ(::stat(dir_.File("orders.db").c_str(), &before), 0);
  const std::string big(4000, 'x');
  int n = 0;
  for (int batch = 0; batch < 60; ++batch) {  // about 24 MB of log, past the 16 MB threshold
    auto txn = Begin();
    ASSERT_NE(txn, nullptr);
    for (int i = 0; i < 100; ++i, ++n) {
      Order o = MakeOrder("ord_" + std::to_string(n), "douyin", "CK" + std::to_string(n));
      o.shipping_address.detail = big;
      ASSERT_TRUE(txn->InsertOrder(o).ok());
    }
    ASSERT_TRUE(txn->Commit().ok());
  }
  ASSERT_TRUE(store_->Sync().ok());
  auto db_size = [&] {
    struct stat st {};
    return ::stat(dir_.File("orders.db").c_str(), &st) == 0 ? st.st_size : off_t{0};
  };
  // Bounded wait for the other thread; no sleeping on a guess.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (db_size() < before.st_size + 8 * 1024 * 1024 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(db_size(), before.st_size + 8 * 1024 * 1024);
  ASSERT_TRUE(Get("ord_5999").has_value());
}

ReservationRecord MakeHold(IdGenerator& ids, const NumberMask& mask, int64_t no,
                           int64_t expires_at_ms) {
  ReservationRecord r;
  r.no = no;
  r.id = ids.NextNumbered("res", static_cast<uint64_t>(no), mask);
  r.created_by = "key_CH";
  r.channel = "douyin";
  r.lines = {HeldLine{"HOT", 2}, HeldLine{"滤芯", 1}};
  r.expires_at_ms = expires_at_ms;
  r.created_at_ms = 1000;
  r.updated_at_ms = 1000;
  return r;
}

TEST_F(SqliteStoreTest, HoldsAreFoundByTheNumberTheirIdCarriesAndOnlyByTheirWholeId) {
  ManualClock clock(1'700'000'000'000);
  IdGenerator ids(clock, Random::Secure());
  ReservationRecord a = MakeHold(ids, store_->hold_id_mask(), 1, 5000);
  ReservationRecord b = MakeHold(ids, store_->hold_id_mask(), 2, 3000);
  {
    auto txn = Begin();
    ASSERT_TRUE(txn->InsertReservations({&a, &b}).ok());
    EXPECT_FALSE(txn->InsertReservations({&a}).ok());  // a number is never reused
    ASSERT_TRUE(txn->Commit().ok());
  }
  auto got = FindHold(a.id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->no, 1);
  EXPECT_EQ(got->id, a.id);
  ASSERT_EQ(got->lines.size(), 2u);
  EXPECT_EQ(got->lines[1].sku, "滤芯");
  EXPECT_EQ(got->expires_at_ms, 5000);
  // Same number, other random part: somebody else's guess, not this hold.
  std::string forged = a.id;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_FALSE(FindHold(forged).has_value());
  EXPECT_FALSE(FindHold(ids.NextNumbered("res", 99, store_->hold_id_mask())).has_value());
  EXPECT_FALSE(FindHold("res_NOPE").has_value());

  {
    auto txn = Begin();
    ReservationRecord converted = a;
    converted.state = ReservationState::kConverted;
    converted.order_id = "ord_1";
    converted.updated_at_ms = 2000;
    ASSERT_TRUE(txn->UpdateReservation(converted).ok());
    ReservationRecord missing = MakeHold(ids, store_->hold_id_mask(), 42, 1);
    EXPECT_FALSE(txn->UpdateReservation(missing).ok());  // nothing to update is an error
    ASSERT_TRUE(txn->Commit().ok());
  }
  got = FindHold(a.id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->state, ReservationState::kConverted);
  EXPECT_EQ(got->order_id, "ord_1");
  EXPECT_EQ(got->updated_at_ms, 2000);
  auto expiries = store_->ActiveReservationExpiries();
  ASSERT_TRUE(expiries.ok());
  EXPECT_EQ(*expiries, (std::vector<std::pair<int64_t, int64_t>>{{3000, 2}}));
  auto max_no = store_->MaxReservationNo();
  ASSERT_TRUE(max_no.ok());
  EXPECT_EQ(*max_no, 2);
}

TEST_F(SqliteStoreTest, ABatchOfHoldsIsWrittenWholeWhateverItsSize) {
  ManualClock clock(1'700'000'000'000);
  IdGenerator ids(clock, Random::Secure());
  // 45 = 32 + 8 + 4 + 1 rows to a statement; every hold's own values must land in its own row.
  std::vector<ReservationRecord> holds;
  for (int64_t no = 1; no <= 45; ++no) {
    ReservationRecord r = MakeHold(ids, store_->hold_id_mask(), no, 10'000 + no);
    r.lines = {HeldLine{"SKU-" + std::to_string(no), no}};
    r.created_by = "key_" + std::to_string(no);
    r.channel = no % 2 ? "douyin" : "";
    holds.push_back(std::move(r));
  }
  CommitHolds(holds);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM reservations"), 45);
  for (const ReservationRecord& want : holds) {
    auto got = FindHold(want.id);
    ASSERT_TRUE(got.has_value()) << want.id;
    EXPECT_EQ(got->no, want.no);
    EXPECT_EQ(got->created_by, want.created_by);
    EXPECT_EQ(got->channel, want.channel);
    EXPECT_EQ(got->expires_at_ms, want.expires_at_ms);
    ASSERT_EQ(got->lines.size(), 1u);
    EXPECT_EQ(got->lines[0].sku, want.lines[0].sku);
    EXPECT_EQ(got->lines[0].qty, want.lines[0].qty);
  }
}

// The retention pass deletes holds that ended before the cutoff, walking up the numbers a step
// at a time, and ends its pass at the first hold too young to have ended before it.
TEST_F(SqliteStoreTest, TheRetentionPassDeletesOnlyHoldsThatEndedBeforeTheCutoff) {
  ManualClock clock(1'700'000'000'000);
  IdGenerator ids(clock, Random::Secure());
  const int64_t cutoff = 500;
  struct Shape {
    ReservationState state;
    int64_t created_at, updated_at;
    bool deleted;
  };
  const std::vector<Shape> shapes = {
      {ReservationState::kReleased, 10, 100, true},
      {ReservationState::kActive, 20, 20, false},  // still holds stock, however old
      {ReservationState::kExpired, 30, 150, true},
      {ReservationState::kConverted, 40, 900, false},  // ended after the cutoff
      {ReservationState::kReleased, 50, 200, true},
      {ReservationState::kReleased, 600, 610, false},  // created after the cutoff: the pass ends
      {ReservationState::kReleased, 45, 100, false},   // behind it (a clock step): next pass
      {ReservationState::kExpired, 700, 700, false},
  };
  std::vector<ReservationRecord> holds;
  for (size_t i = 0; i < shapes.size(); ++i) {
    ReservationRecord r = MakeHold(ids, store_->hold_id_mask(), static_cast<int64_t>(i + 1), 1);
    r.state = shapes[i].state;
    r.created_at_ms = shapes[i].created_at;
    r.updated_at_ms = shapes[i].updated_at;
    holds.push_back(std::move(r));
  }
  CommitHolds(holds);

  // Two holds a step: 1-2, 3-4, then 5 and the young 6 end the pass.
  std::vector<std::tuple<int64_t, int64_t, bool>> steps;
  int64_t from = 0;
  for (int i = 0; i < 5; ++i) {
    auto txn = Begin();
    auto step = txn->PurgeEndedReservations(from, cutoff, 2);
    ASSERT_TRUE(step.ok()) << step.status().ToString();
    ASSERT_TRUE(txn->Commit().ok());
    steps.emplace_back(step->deleted, step->next_no, step->pass_done);
    if (step->pass_done) break;
    from = step->next_no;
  }
  EXPECT_EQ(steps, (std::vector<std::tuple<int64_t, int64_t, bool>>{
                       {1, 3, false}, {1, 5, false}, {1, 6, true}}));
  for (size_t i = 0; i < shapes.size(); ++i) {
    EXPECT_EQ(FindHold(holds[i].id).has_value(), !shapes[i].deleted) << "hold " << i + 1;
  }
  EXPECT_EQ(QueryInt("SELECT count(*) FROM reservations"), 5);

  // A rolled-back step deletes nothing.
  {
    auto txn = Begin();
    auto step = txn->PurgeEndedReservations(0, 10'000, 1000);
    ASSERT_TRUE(step.ok());
    EXPECT_EQ(step->deleted, 3);  // all that ended, bar the newest
  }
  EXPECT_EQ(QueryInt("SELECT count(*) FROM reservations"), 5);
  // With everything long ended, only the newest hold stays: the next start numbers on from it.
  {
    auto txn = Begin();
    auto step = txn->PurgeEndedReservations(0, 10'000, 1000);
    ASSERT_TRUE(step.ok());
    EXPECT_TRUE(step->pass_done);
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(QueryInt("SELECT count(*) FROM reservations"), 2);  // the active one and the newest
  EXPECT_TRUE(FindHold(holds[1].id).has_value());
  EXPECT_TRUE(FindHold(holds.back().id).has_value());
  auto max_no = store_->MaxReservationNo();
  ASSERT_TRUE(max_no.ok());
  EXPECT_EQ(*max_no, static_cast<int64_t>(shapes.size()));
}

// Schema 12 erases the unkeyed request hashes that earlier schemas stored beside each
// Idempotency-Key answer; keyed fingerprints ("k1:") stay.
TEST_F(SqliteStoreTest, UnkeyedRequestHashesAreErasedBySchemaTwelve) {
  const std::string unkeyed(64, 'a');
  {
    auto txn = Begin();
    ASSERT_TRUE(txn->PutIdempotency("key_P", "old", IdempotencyRecord{unkeyed, 201, "{}"}, 1).ok());
    ASSERT_TRUE(txn->PutIdempotency("key_P", "new", IdempotencyRecord{"k1:bb", 201, "{}"}, 1).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  store_.reset();
  ExecSql("DELETE FROM schema_migrations WHERE version >= 12");
  Open();
  auto txn = Begin();
  auto old_record = txn->FindIdempotency("key_P", "old");
  ASSERT_TRUE(old_record.ok() && old_record->has_value());
  EXPECT_EQ((*old_record)->request_hash, "");
  EXPECT_EQ((*old_record)->status_code, 201);
  auto new_record = txn->FindIdempotency("key_P", "new");
  ASSERT_TRUE(new_record.ok() && new_record->has_value());
  EXPECT_EQ((*new_record)->request_hash, "k1:bb");
  txn.reset();
  store_.reset();
  for (const std::string& file : {DbPath(), DbPath() + "-wal"}) {
    std::ifstream f(file, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(unkeyed), std::string::npos) << "the erased hash is still in " << file;
  }
}

TEST_F(SqliteStoreTest, HoldsFromBeforeSchemaNineKeepTheirIdsAcrossTheMigration) {
  // A database as schema 8 left it: the holds table keyed by the (random) id text.
  store_.reset();
  ExecSql(R"sql(
    DROP TABLE reservations;
    CREATE TABLE reservations (
      id TEXT PRIMARY KEY, created_by TEXT NOT NULL, channel TEXT NOT NULL, lines TEXT NOT NULL,
      state TEXT NOT NULL, order_id TEXT NOT NULL DEFAULT '', expires_at INTEGER NOT NULL,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
    CREATE INDEX reservations_due ON reservations(state, expires_at);
    INSERT INTO reservations VALUES
      ('res_01JD0000000000000000000000', 'key_CH', 'douyin', '[{"sku":"HOT","qty":3}]',
       'active', '', 9000, 100, 100),
      ('res_01JC0000000000000000000000', 'key_CH', 'douyin', '[{"sku":"HOT","qty":1}]',
       'converted', 'ord_9', 8000, 50, 60);
    DELETE FROM schema_migrations WHERE version >= 9;
    DROP TABLE settings;
    DROP INDEX idempotency_keys_age;
  )sql");
  Open();
  auto active = FindHold("res_01JD0000000000000000000000");
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->state, ReservationState::kActive);
  ASSERT_EQ(active->lines.size(), 1u);
  EXPECT_EQ(active->lines[0].qty, 3);
  auto converted = FindHold("res_01JC0000000000000000000000");
  ASSERT_TRUE(converted.has_value());
  EXPECT_EQ(converted->order_id, "ord_9");
  EXPECT_LT(converted->no, active->no);  // numbered in creation order
  auto expiries = store_->ActiveReservationExpiries();
  ASSERT_TRUE(expiries.ok());
  EXPECT_EQ(*expiries, (std::vector<std::pair<int64_t, int64_t>>{{9000, active->no}}));
  // New holds continue after them, and an old hold still changes state by its number.
  auto max_no = store_->MaxReservationNo();
  ASSERT_TRUE(max_no.ok());
  EXPECT_EQ(*max_no, 2);
  {
    auto txn = Begin();
    active->state = ReservationState::kReleased;
    ASSERT_TRUE(txn->UpdateReservation(*active).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  EXPECT_EQ(FindHold("res_01JD0000000000000000000000")->state, ReservationState::kReleased);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM sqlite_master WHERE name = 'reservations_due'"), 0);
}

TEST_F(SqliteStoreTest, HoldIdsHideTheirNumberUnderTheDatabasesOwnKeyAcrossRestarts) {
  ManualClock clock(1'700'000'000'000);
  IdGenerator ids(clock, Random::Secure());
  std::vector<ReservationRecord> holds;
  for (int64_t no = 1; no <= 3; ++no)
    holds.push_back(MakeHold(ids, store_->hold_id_mask(), no, 9000));
  CommitHolds(holds);
  EXPECT_EQ(QueryInt("SELECT length(value) FROM settings WHERE name = 'hold_id_key'"), 16);
  Open();  // the key is the database's: the ids still lead to their rows
  for (const ReservationRecord& want : holds) {
    auto got = FindHold(want.id);
    ASSERT_TRUE(got.has_value()) << want.id;
    EXPECT_EQ(got->no, want.no);
    EXPECT_EQ(NumberInId(want.id, "res", store_->hold_id_mask()), static_cast<uint64_t>(want.no));
  }
  // Another database made its own key: the same ids mean other numbers there.
  ScopedTempDir other_dir;
  SqliteOptions opt;
  opt.path = other_dir.File("other.db");
  auto other = OpenSqliteStore(opt);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  size_t same = 0;
  for (const ReservationRecord& h : holds) {
    if (NumberInId(h.id, "res", (*other)->hold_id_mask()) == static_cast<uint64_t>(h.no)) ++same;
  }
  EXPECT_EQ(same, 0u);
}

TEST_F(SqliteStoreTest, ADamagedHoldIdKeyStopsTheStoreFromOpening) {
  store_.reset();
  ExecSql("UPDATE settings SET value = x'0102' WHERE name = 'hold_id_key'");
  SqliteOptions opt;
  opt.path = DbPath();
  auto damaged = OpenSqliteStore(opt);
  ASSERT_FALSE(damaged.ok());  // ids made under the old key would silently stop resolving
  EXPECT_EQ(damaged.status().kind(), ErrorKind::kIOError);
  EXPECT_NE(damaged.status().detail().find("hold id key"), std::string::npos);
}

TEST_F(SqliteStoreTest, HoldsNumberedInPlainViewKeepTheirIdsAcrossSchemaTen) {
  // A database as schema 9 left it: a hold whose id carried its number as it was, and no key.
  store_.reset();
  ExecSql(R"sql(
    INSERT INTO reservations (no, id, created_by, channel, lines, state, order_id, expires_at,
                              created_at, updated_at)
      VALUES (5, 'res_01JD00000000000005000ABCDE', 'key_CH', 'douyin', '[{"sku":"HOT","qty":2}]',
              'active', '', 9000, 100, 100);
    DELETE FROM schema_migrations WHERE version >= 10;
    DROP TABLE settings;
    DROP INDEX idempotency_keys_age;
  )sql");
  Open();
  // Schema 11 on the way: stored Idempotency-Key answers by age, for their retention pass.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM sqlite_master WHERE name = 'idempotency_keys_age'"), 1);
  auto old = FindHold("res_01JD00000000000005000ABCDE");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->no, 5);
  EXPECT_EQ(old->lines[0].qty, 2);
  auto max_no = store_->MaxReservationNo();
  ASSERT_TRUE(max_no.ok());
  EXPECT_EQ(*max_no, 5);
  // New holds continue after it, under the new key.
  ManualClock clock(1'700'000'000'000);
  IdGenerator ids(clock, Random::Secure());
  ReservationRecord next = MakeHold(ids, store_->hold_id_mask(), 6, 9000);
  CommitHolds({next});
  ASSERT_TRUE(FindHold(next.id).has_value());
  EXPECT_EQ(FindHold(next.id)->no, 6);
  EXPECT_EQ(FindHold("res_01JD00000000000005000ABCDE")->no, 5);
  // A schema-9 orderd still running after a newer orderctl migrated the file goes on writing
  // plain-numbered holds (legacy = 0): they are found all the same.
  ExecSql(R"sql(
    INSERT INTO reservations (no, id, created_by, channel, lines, state, order_id, expires_at,
                              created_at, updated_at)
      VALUES (7, 'res_01JD00000000000007000ABCDF', 'key_CH', 'douyin', '[{"sku":"HOT","qty":1}]',
              'active', '', 9000, 200, 200);
  )sql");
  auto late = FindHold("res_01JD00000000000007000ABCDF");
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->no, 7);
  EXPECT_FALSE(FindHold("res_01JD00000000000007000ABCDG").has_value());  // other random part
}

TEST_F(SqliteStoreTest, ReadsSeeOnlyDurableDataAndSyncFirstWhenTheyMustNot) {
  int64_t before = store_->fsyncs();
  {
    auto txn = Begin();
    ASSERT_TRUE(txn->InsertOrder(MakeOrder("ord_1", "douyin", "DY1")).ok());
    ASSERT_TRUE(txn->Commit().ok());  // committed, not yet fsync'd
  }
  EXPECT_EQ(store_->fsyncs(), before);
  ASSERT_TRUE(Get("ord_1").has_value());
  EXPECT_EQ(store_->fsyncs(), before + 1);  // the read made the commit durable before showing it
  ASSERT_TRUE(Get("ord_1").has_value());
  EXPECT_EQ(store_->fsyncs(), before + 1);  // nothing new to make durable: no second fsync
  ASSERT_TRUE(store_->Sync().ok());
  EXPECT_EQ(store_->fsyncs(), before + 1);  // Sync() skips work a reader already did
  ApiKeyRecord key;
  key.principal = Principal{"key_X", "x", Role::kAdmin, ""};
  key.key_hash = "hash-x";
  ASSERT_TRUE(store_->InsertApiKey(key).ok());
  EXPECT_EQ(store_->fsyncs(), before + 2);  // a key insert is its own durable commit
}

}  // namespace
}  // namespace oc::store
