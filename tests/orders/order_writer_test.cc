// OrderWriter against a real SQLite store in a temp dir: outbox rows per change, refusals that
// leave no trace, uniqueness and idempotency, batches with failures, a 32-thread race with exact
// counts afterwards, and draining on Stop(). No sleeps: ordering is forced with promises.
#include "orders/order_writer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstring>
#include <future>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/ids.h"
#include "store/scoped_temp_dir.h"
#include "store/store.h"
#include "store/store_wrapper.h"

namespace oc::orders {
namespace {

namespace bj = boost::json;
using S = OrderStatus;
using oc::testing::ScopedTempDir;

constexpr int64_t kStart = 1'794'355'201'000;

// Secure randomness, or a constant byte pattern on demand (to force id collisions).
class SwitchableRandom final : public Random {
 public:
  void Fill(unsigned char* out, size_t len) override {
    if (constant_.load()) {
      std::memset(out, 0x5A, len);
    } else {
      Random::Secure().Fill(out, len);
    }
  }
  std::atomic<bool> constant_{false};
};

Principal Admin() { return Principal{"key_ADMIN", "admin", Role::kAdmin, ""}; }
Principal ChannelKey(const std::string& ch) {
  return Principal{"key_CH_" + ch, ch, Role::kChannel, ch};
}
Principal Warehouse() { return Principal{"key_WH", "wh", Role::kWarehouse, ""}; }
Principal Cs(const std::string& id) { return Principal{id, "cs", Role::kCustomerService, ""}; }

Order Input(const std::string& channel, const std::string& ref) {
  Order o;
  o.channel = channel;
  o.channel_order_id = ref;
  o.currency = "CNY";
  o.customer = Customer{"小李", "李四", "13812345678", std::nullopt};
  o.shipping_address = Address{"浙江省", "杭州市", "西湖区", "文三路 1 号"};
  o.lines = {OrderLine{"SKU-1", "净化器", 2, 1000}};
  o.total = 2000;
  o.payment_method = "alipay";
  return o;
}

Command Create(const std::string& channel, const std::string& ref, Principal actor = Admin()) {
  return Command{CreateOrder{Input(channel, ref)}, std::move(actor), std::nullopt};
}

Command Move(const std::string& id, S to, std::optional<int64_t> expected = std::nullopt,
             Principal actor = Admin()) {
  return Command{Transition{id, to, expected, "test"}, std::move(actor), std::nullopt};
}

Idempotency Idem(const std::string& principal, const std::string& key, const std::string& hash) {
  Idempotency i;
  i.principal_id = principal;
  i.key = key;
  i.request_hash = hash;
  i.render = [](const CommandOutcome& out) {
    store::IdempotencyRecord r;
    r.status_code = out.created ? 201 : 200;
    r.response_body = R"({"id":")" + out.order->id + R"("})";
    return r;
  };
  i.render_refusal = [](const Status& refusal) {
    return store::IdempotencyRecord{"", 409, R"({"code":")" + refusal.code() + R"("})"};
  };
  return i;
}

using Future = std::future<Result<CommandOutcome>>;

// Holds the writer inside BeginWrite() while armed, so commands submitted meanwhile pile up and
// land together in the next batch. Completions run on the syncer thread, so blocking one of them
// would not stop the writer; the store seam does.
class GatedStore final : public store::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;

  // Arms the gate; the next BeginWrite() signals `entered` and waits for `release`.
  void Arm(std::promise<void>* entered, std::shared_future<void> release) {
    std::lock_guard lock(mu_);
    entered_ = entered;
    release_ = std::move(release);
  }

  Result<std::unique_ptr<store::WriteTransaction>> BeginWrite() override {
    std::promise<void>* entered = nullptr;
    std::shared_future<void> release;
    {
      std::lock_guard lock(mu_);
      std::swap(entered, entered_);
      release = release_;
      release_ = {};
    }
    if (entered != nullptr) {
      entered->set_value();
      release.wait();
    }
    return target().BeginWrite();
  }

 private:
  std::mutex mu_;
  std::promise<void>* entered_ = nullptr;
  std::shared_future<void> release_;
};

// Puts plenty of stock on the SKUs these tests order, before a writer loads the inventory.
void SeedStock(store::Store& store) {
  auto txn = store.BeginWrite();
  ASSERT_TRUE(txn.ok()) << txn.status().ToString();
  for (const char* sku : {"SKU-1", "SKU"}) {
    ASSERT_TRUE((*txn)->PutStock(store::StockRecord{sku, 1'000'000, 0, 0, 0, 0, ""}).ok());
  }
  ASSERT_TRUE((*txn)->Commit().ok());
}

class OrderWriterTest : public ::testing::Test {
 protected:
  OrderWriterTest() : clock_(kStart), ids_(clock_, random_) {}

  void SetUp() override {
    store::SqliteOptions opt;
    opt.path = dir_.File("orders.db");
    opt.read_connections = 4;
    auto s = store::OpenSqliteStore(opt);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    SeedStock(*store_);
    gated_ = std::make_unique<GatedStore>(*store_);
    StartWriter();
  }

  void TearDown() override {
    if (writer_) writer_->Stop();
    writer_.reset();
  }

  // Stops the writer and starts a new one on the same store, with `options`.
  void RestartWriter(WriterOptions options = {}) {
    writer_->Stop();
    writer_.reset();
    StartWriter(std::move(options));
  }

  void StartWriter(WriterOptions options = {}) {
    auto w = OrderWriter::Start(*gated_, clock_, ids_, std::move(options));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    writer_ = std::move(w).value();
  }

  // Submits and returns a future of the outcome (an Unavailable status if Submit refused).
  Future SubmitAsync(Command c) {
    auto p = std::make_shared<std::promise<Result<CommandOutcome>>>();
    Future f = p->get_future();
    Status s = writer_->Submit(std::move(c),
                               [p](Result<CommandOutcome> r) { p->set_value(std::move(r)); });
    if (!s.ok()) p->set_value(s);
    return f;
  }

  Result<CommandOutcome> Run(Command c) { return SubmitAsync(std::move(c)).get(); }

  std::string CreateOk(const std::string& channel, const std::string& ref) {
    auto r = Run(Create(channel, ref));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r.ok() && r->created);
    return r.ok() ? r->order->id : "";
  }

  void MoveOk(const std::string& id, S to) {
    auto r = Run(Move(id, to));
    ASSERT_TRUE(r.ok()) << ToString(to) << ": " << r.status().ToString();
  }

  Order Get(const std::string& id) {
    auto r = store_->GetOrder(id);
    EXPECT_TRUE(r.ok() && r->has_value()) << id;
    return r.ok() && r->has_value() ? **r : Order{};
  }

  std::vector<store::OutboxEvent> Outbox() {
    auto r = store_->ReadOutbox(0, 1'000'000);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<store::OutboxEvent>{};
  }

  size_t OrderCount() {
    auto counts = store_->CountOrdersByStatus();
    EXPECT_TRUE(counts.ok());
    size_t n = 0;
    for (const auto& [s, c] : *counts) n += static_cast<size_t>(c);
    return n;
  }

  std::array<int64_t, 9> DbCounts() {
    std::array<int64_t, 9> out{};
    auto counts = store_->CountOrdersByStatus();
    EXPECT_TRUE(counts.ok());
    for (const auto& [s, c] : *counts) out[static_cast<size_t>(s)] = c;
    return out;
  }

  // Blocks the writer thread inside the completion of a command, so that whatever is submitted
  // next queues up and is taken as one batch once Release() is called.
  struct Gate {
    std::promise<void> entered;
    std::promise<void> release;
  };
  // Returns once the writer is parked in BeginWrite() for a batch holding one dummy command;
  // everything submitted until `release` is set goes into the batch after it.
  std::unique_ptr<Gate> BlockWriter() {
    auto gate = std::make_unique<Gate>();
    gated_->Arm(&gate->entered, gate->release.get_future().share());
    Status s = writer_->Submit(Move("ord_none", S::kPaid), [](Result<CommandOutcome>) {});
    EXPECT_TRUE(s.ok());
    gate->entered.get_future().wait();
    return gate;
  }

  ScopedTempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<GatedStore> gated_;
  ManualClock clock_;
  SwitchableRandom random_;
  IdGenerator ids_;
  std::unique_ptr<OrderWriter> writer_;
};

TEST_F(OrderWriterTest, CreateWritesTheOrderAndExactlyOneOutboxRow) {
  auto r = Run(Create("douyin", "DY1", ChannelKey("douyin")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->created);
  EXPECT_FALSE(r->replay.has_value());
  EXPECT_FALSE(r->previous_status.has_value());
  const Order& o = *r->order;
  EXPECT_TRUE(LooksLikeId(o.id, "ord")) << o.id;
  EXPECT_EQ(o.status, S::kPendingPayment);
  EXPECT_EQ(o.version, 1);
  EXPECT_EQ(o.created_at_ms, kStart);
  EXPECT_EQ(o.created_by, "key_CH_douyin");

  Order stored = Get(o.id);
  EXPECT_EQ(stored.channel_order_id, "DY1");
  EXPECT_EQ(stored.version, 1);
  EXPECT_EQ(stored.total, 2000);
  EXPECT_EQ(stored.lines.size(), 1u);

  auto events = Outbox();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "order.created");
  EXPECT_EQ(events[0].order_id, o.id);
  EXPECT_EQ(events[0].order_version, 1);
  EXPECT_TRUE(LooksLikeId(events[0].id, "evt")) << events[0].id;
  auto payload = bj::parse(events[0].payload_json).as_object();
  EXPECT_EQ(payload.at("id").as_string(), events[0].id);
  EXPECT_EQ(payload.at("type").as_string(), "order.created");
  EXPECT_EQ(payload.at("order_id").as_string(), o.id);
  EXPECT_EQ(payload.at("order_version").as_int64(), 1);
  EXPECT_EQ(payload.at("status").as_string(), "pending_payment");
  EXPECT_FALSE(payload.contains("previous_status"));
  EXPECT_EQ(payload.at("occurred_at").as_string(), FormatRfc3339(kStart));
  // The event carries no personal data.
  EXPECT_EQ(events[0].payload_json.find("13812345678"), std::string::npos);
  EXPECT_EQ(events[0].payload_json.find("李四"), std::string::npos);
}

TEST_F(OrderWriterTest, TransitionWritesExactlyOneOutboxRow) {
  std::string id = CreateOk("douyin", "DY1");
  clock_.Advance(1500);
  auto r = Run(Move(id, S::kPaid, 1));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->previous_status, S::kPendingPayment);
  EXPECT_EQ(r->order->status, S::kPaid);
  EXPECT_EQ(r->order->version, 2);
  EXPECT_FALSE(r->created);

  Order stored = Get(id);
  EXPECT_EQ(stored.status, S::kPaid);
  EXPECT_EQ(stored.version, 2);
  EXPECT_EQ(stored.updated_at_ms, kStart + 1500);
  EXPECT_EQ(stored.created_at_ms, kStart);

  auto events = Outbox();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, "order.status_changed");
  EXPECT_EQ(events[1].order_id, id);
  EXPECT_EQ(events[1].order_version, 2);
  auto payload = bj::parse(events[1].payload_json).as_object();
  EXPECT_EQ(payload.at("status").as_string(), "paid");
  EXPECT_EQ(payload.at("previous_status").as_string(), "pending_payment");
  EXPECT_EQ(payload.at("order_version").as_int64(), 2);
  EXPECT_EQ(payload.at("occurred_at").as_string(), FormatRfc3339(kStart + 1500));
}

TEST_F(OrderWriterTest, InvalidTransitionLeavesNoTrace) {
  std::string id = CreateOk("douyin", "DY1");
  clock_.Advance(10);
  for (S to : {S::kShipped, S::kPacked, S::kDelivered, S::kCompleted, S::kRefunded, S::kRefunding,
               S::kPendingPayment}) {
    auto r = Run(Move(id, to));
    ASSERT_FALSE(r.ok()) << ToString(to);
    EXPECT_EQ(r.status().kind(), ErrorKind::kConflict) << ToString(to);
    EXPECT_EQ(r.status().code(), "invalid_transition") << ToString(to);
  }
  Order stored = Get(id);
  EXPECT_EQ(stored.version, 1);
  EXPECT_EQ(stored.status, S::kPendingPayment);
  EXPECT_EQ(stored.updated_at_ms, kStart);
  EXPECT_EQ(Outbox().size(), 1u);
  EXPECT_EQ(writer_->OrderCountsByStatus(), DbCounts());
}

TEST_F(OrderWriterTest, TerminalOrdersRefuseEverything) {
  std::string id = CreateOk("douyin", "DY1");
  MoveOk(id, S::kCancelled);
  for (S to : kAllOrderStatuses) {
    auto r = Run(Move(id, to));
    ASSERT_FALSE(r.ok()) << ToString(to);
    EXPECT_EQ(r.status().code(), "invalid_transition");
  }
  EXPECT_EQ(Get(id).version, 2);
  EXPECT_EQ(Outbox().size(), 2u);
}

TEST_F(OrderWriterTest, VersionConflictLeavesNoTrace) {
  std::string id = CreateOk("douyin", "DY1");
  for (int64_t stale : {int64_t{0}, int64_t{2}, int64_t{7}}) {
    auto r = Run(Move(id, S::kPaid, stale));
    ASSERT_FALSE(r.ok()) << stale;
    EXPECT_EQ(r.status().kind(), ErrorKind::kConflict);
    EXPECT_EQ(r.status().code(), "version_conflict");
  }
  EXPECT_EQ(Get(id).version, 1);
  EXPECT_EQ(Get(id).status, S::kPendingPayment);
  EXPECT_EQ(Outbox().size(), 1u);
  auto ok = Run(Move(id, S::kPaid, 1));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto again = Run(Move(id, S::kPacked, 1));  // the version moved on
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), "version_conflict");
  EXPECT_EQ(Get(id).version, 2);
  EXPECT_EQ(Outbox().size(), 2u);
}

TEST_F(OrderWriterTest, UnknownOrderIsNotFound) {
  auto r = Run(Move("ord_missing", S::kPaid));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kNotFound);
  EXPECT_TRUE(Outbox().empty());
}

TEST_F(OrderWriterTest, RepeatChannelOrderReturnsTheExistingOrder) {
  std::string id = CreateOk("douyin", "DY1");
  MoveOk(id, S::kPaid);
  Command again = Create("douyin", "DY1", ChannelKey("douyin"));
  std::get<CreateOrder>(again.action).order.currency = "USD";  // ignored: the order exists
  auto r = Run(std::move(again));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->created);
  EXPECT_EQ(r->order->id, id);
  EXPECT_EQ(r->order->status, S::kPaid);
  EXPECT_EQ(r->order->version, 2);
  EXPECT_EQ(r->order->currency, "CNY");
  EXPECT_EQ(Outbox().size(), 2u);
  EXPECT_EQ(OrderCount(), 1u);
  // The same channel_order_id on another channel is a new order.
  auto other = Run(Create("taobao", "DY1"));
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->created);
  EXPECT_NE(other->order->id, id);
  EXPECT_EQ(Outbox().size(), 3u);
}

TEST_F(OrderWriterTest, RepeatInsideOneBatchCreatesOnce) {
  auto gate = BlockWriter();
  std::vector<Future> fs;
  for (int i = 0; i < 5; ++i) fs.push_back(SubmitAsync(Create("douyin", "SAME")));
  EXPECT_EQ(writer_->QueueDepth(), 5u);
  gate->release.set_value();
  std::set<std::string> ids;
  int created = 0;
  for (auto& f : fs) {
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    created += r->created ? 1 : 0;
    ids.insert(r->order->id);
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(Outbox().size(), 1u);
}

TEST_F(OrderWriterTest, IdempotencyKeyReplaysOrRefuses) {
  Command first = Create("douyin", "DY1");
  first.idempotency = Idem("key_ADMIN", "k1", "hash-1");
  auto r1 = Run(std::move(first));
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  ASSERT_TRUE(r1->created);
  EXPECT_FALSE(r1->replay.has_value());
  std::string id = r1->order->id;

  // Same key, same request hash: the recorded response, and nothing done (even though this
  // command would otherwise create a different order).
  Command repeat = Create("douyin", "DY2");
  repeat.idempotency = Idem("key_ADMIN", "k1", "hash-1");
  auto r2 = Run(std::move(repeat));
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  ASSERT_TRUE(r2->replay.has_value());
  EXPECT_EQ(r2->replay->status_code, 201);
  EXPECT_EQ(r2->replay->response_body, R"({"id":")" + id + R"("})");
  EXPECT_EQ(r2->replay->request_hash, "hash-1");
  EXPECT_EQ(OrderCount(), 1u);
  EXPECT_EQ(Outbox().size(), 1u);

  // Same key, different request: refused.
  Command reused = Create("douyin", "DY3");
  reused.idempotency = Idem("key_ADMIN", "k1", "hash-2");
  auto r3 = Run(std::move(reused));
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.status().code(), "idempotency_key_reused");
  EXPECT_EQ(r3.status().kind(), ErrorKind::kUnprocessable);
  EXPECT_EQ(OrderCount(), 1u);
  EXPECT_EQ(Outbox().size(), 1u);

  // Keys belong to a principal: another principal's "k1" is unrelated.
  Command other = Create("douyin", "DY4", ChannelKey("douyin"));
  other.idempotency = Idem("key_CH_douyin", "k1", "hash-2");
  auto r4 = Run(std::move(other));
  ASSERT_TRUE(r4.ok()) << r4.status().ToString();
  EXPECT_TRUE(r4->created);
  EXPECT_FALSE(r4->replay.has_value());
  EXPECT_EQ(OrderCount(), 2u);
  EXPECT_EQ(Outbox().size(), 2u);
}

// A record from before schema 12 has its fingerprint erased (the unkeyed hash of a body with
// personal data): a repeat of its key replays the first answer, whatever the body.
TEST_F(OrderWriterTest, AnAnswerWhoseFingerprintWasErasedIsReplayed) {
  {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)
                    ->PutIdempotency("key_ADMIN", "legacy",
                                     store::IdempotencyRecord{"", 201, R"({"id":"ord_old"})"}, 1)
                    .ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  Command repeat = Create("douyin", "DY-LEGACY");
  repeat.idempotency = Idem("key_ADMIN", "legacy", "k1:anything");
  auto r = Run(std::move(repeat));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->replay.has_value());
  EXPECT_EQ(r->replay->response_body, R"({"id":"ord_old"})");
  EXPECT_EQ(OrderCount(), 0u);
}

// A stored answer goes by the writer's own retention pass once older than the retention: until
// then a repeat of its key replays it, after that the key is a new request.
TEST_F(OrderWriterTest, IdempotencyKeysOlderThanTheRetentionAreDeletedByTheWritersOwnPass) {
  WriterOptions options;
  options.idempotency_retention = std::chrono::hours(24);
  options.hold_retention = std::chrono::milliseconds(0);  // the pass runs for this table alone
  RestartWriter(options);
  auto keyed = [](const std::string& ref, const std::string& key) {
    Command c = Create("douyin", ref);
    c.idempotency = Idem("key_ADMIN", key, "hash-" + key);
    return c;
  };
  auto first = Run(keyed("DY1", "old"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  clock_.Advance(12 * 3'600'000);
  ASSERT_TRUE(Run(keyed("DY2", "young")).ok());
  clock_.Advance(12 * 3'600'000 + 1);  // "old" is now a day and a millisecond old

  // The pass, due since the clock passed the first pass interval, runs before this batch.
  auto after = Run(keyed("DY3", "old"));
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_FALSE(after->replay.has_value());
  ASSERT_TRUE(after->created);
  EXPECT_NE(after->order->id, first->order->id);
  EXPECT_EQ(writer_->IdempotencyPurged(), 1);  // for /metrics
  auto young = Run(keyed("DY4", "young"));
  ASSERT_TRUE(young.ok()) << young.status().ToString();
  ASSERT_TRUE(young->replay.has_value());
  EXPECT_EQ(OrderCount(), 3u);
  // The new answer under "old" is kept in its turn.
  auto again = Run(keyed("DY5", "old"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_TRUE(again->replay.has_value());
  EXPECT_EQ(again->replay->response_body, R"({"id":")" + after->order->id + R"("})");
}

// Fails every hold retention step, to see the other table's pass go on regardless.
class FailHoldPurgeStore final : public store::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  Result<std::unique_ptr<store::WriteTransaction>> BeginWrite() override {
    OC_ASSIGN_OR_RETURN(auto inner, target().BeginWrite());
    return std::unique_ptr<store::WriteTransaction>(new Txn(std::move(inner)));
  }

 private:
  class Txn final : public store::WriteTransactionWrapper {
   public:
    using WriteTransactionWrapper::WriteTransactionWrapper;
    Result<HoldPurgeStep> PurgeEndedReservations(int64_t, int64_t, size_t) override {
      return Status::IOError("injected purge failure");
    }
  };
};

TEST_F(OrderWriterTest, AFailingHoldRetentionStepLeavesTheIdempotencyPassAlone) {
  writer_->Stop();
  writer_.reset();
  FailHoldPurgeStore failing(*store_);
  auto w = OrderWriter::Start(failing, clock_, ids_);  // both retentions at their defaults
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  writer_ = std::move(w).value();
  Command first = Create("douyin", "DY1");
  first.idempotency = Idem("key_ADMIN", "k", "h");
  ASSERT_TRUE(Run(std::move(first)).ok());
  clock_.Advance(25 * 3'600'000);
  // Both tables' steps are due before this batch; the holds' fails, the answers' goes on.
  ASSERT_TRUE(Run(Create("douyin", "DY2")).ok());
  EXPECT_EQ(writer_->HoldPurgeFailures(), 1);
  EXPECT_EQ(writer_->IdempotencyPurged(), 1);
  Command repeat = Create("douyin", "DY3");
  repeat.idempotency = Idem("key_ADMIN", "k", "h");
  auto r = Run(std::move(repeat));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->replay.has_value());
  EXPECT_TRUE(r->created);
  writer_->Stop();
  writer_.reset();
}

// More stored answers than one step deletes: the pass goes on a step later, with no traffic.
TEST_F(OrderWriterTest, AnIdempotencyBacklogDrainsStepByStep) {
  {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    for (size_t i = 0; i < kIdempotencyPurgeMax + 10; ++i) {
      ASSERT_TRUE((*txn)
                      ->PutIdempotency("key_ADMIN", "k" + std::to_string(i),
                                       store::IdempotencyRecord{"h", 201, "{}"}, kStart)
                      .ok());
    }
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  WriterOptions options;
  options.hold_check_interval = std::chrono::milliseconds(5);  // an idle writer looks often
  RestartWriter(options);
  clock_.Advance(25 * 3'600'000);
  // The first step, when the writer next looks: a full one, so the pass goes on.
  while (writer_->IdempotencyPurged() < static_cast<int64_t>(kIdempotencyPurgeMax)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(writer_->IdempotencyPurged(), static_cast<int64_t>(kIdempotencyPurgeMax));
  // The next step is due a step interval later by the (manual) clock, not the pass interval.
  clock_.Advance(kHoldPurgeStepInterval.count());
  while (writer_->IdempotencyPurged() < static_cast<int64_t>(kIdempotencyPurgeMax + 10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(writer_->IdempotencyPurged(), static_cast<int64_t>(kIdempotencyPurgeMax + 10));
}

TEST_F(OrderWriterTest, AnIdempotencyRetentionOfZeroKeepsEveryAnswer) {
  WriterOptions options;
  options.idempotency_retention = std::chrono::milliseconds(0);
  RestartWriter(options);
  Command first = Create("douyin", "DY1");
  first.idempotency = Idem("key_ADMIN", "k", "h");
  ASSERT_TRUE(Run(std::move(first)).ok());
  clock_.Advance(10 * 365 * 24 * 3'600'000LL);
  Command repeat = Create("douyin", "DY2");
  repeat.idempotency = Idem("key_ADMIN", "k", "h");
  auto r = Run(std::move(repeat));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->replay.has_value());
  EXPECT_EQ(writer_->IdempotencyPurged(), 0);
  EXPECT_EQ(OrderCount(), 1u);
}

TEST_F(OrderWriterTest, IdempotencyOnTransitions) {
  std::string id = CreateOk("douyin", "DY1");
  Command pay = Move(id, S::kPaid);
  pay.idempotency = Idem("key_ADMIN", "pay-1", "h");
  ASSERT_TRUE(Run(std::move(pay)).ok());
  Command again = Move(id, S::kPaid);  // would be invalid_transition if executed
  again.idempotency = Idem("key_ADMIN", "pay-1", "h");
  auto r = Run(std::move(again));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->replay.has_value());
  EXPECT_EQ(Get(id).version, 2);
  EXPECT_EQ(Outbox().size(), 2u);
}

TEST_F(OrderWriterTest, ARefusalIsTheFirstResponseAndIsReplayed) {
  std::string id = CreateOk("douyin", "DY1");
  Command refused = Move(id, S::kPacked);  // pending -> packed: invalid_transition
  refused.idempotency = Idem("key_ADMIN", "k", "h");
  auto r = Run(std::move(refused));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->refusal.has_value());
  EXPECT_EQ(r->refusal->code(), "invalid_transition");
  MoveOk(id, S::kPaid);  // now the same move would be legal...
  Command retry = Move(id, S::kPacked);
  retry.idempotency = Idem("key_ADMIN", "k", "h");
  auto again = Run(std::move(retry));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_TRUE(again->replay.has_value());  // ...but the key's answer stays the first one
  EXPECT_EQ(again->replay->status_code, 409);
  EXPECT_EQ(Get(id).status, S::kPaid);
  EXPECT_EQ(Get(id).version, 2);
}

TEST_F(OrderWriterTest, OneFailingCommandInABatchDoesNotDisturbTheOthers) {
  std::string x = CreateOk("douyin", "X");
  auto gate = BlockWriter();
  int64_t batches_before = writer_->BatchesCommitted();
  size_t events_before = Outbox().size();
  std::vector<Future> fs;
  fs.push_back(SubmitAsync(Create("douyin", "A")));
  fs.push_back(SubmitAsync(Move(x, S::kShipped)));  // invalid_transition
  fs.push_back(SubmitAsync(Create("douyin", "B")));
  fs.push_back(SubmitAsync(Move(x, S::kPaid, 5)));    // version_conflict
  fs.push_back(SubmitAsync(Move(x, S::kPaid, 1)));    // ok
  fs.push_back(SubmitAsync(Move(x, S::kPacked, 1)));  // stale after the previous one
  fs.push_back(SubmitAsync(Move(x, S::kPacked, 2)));  // ok
  ASSERT_EQ(writer_->QueueDepth(), fs.size());
  gate->release.set_value();
  std::vector<Result<CommandOutcome>> rs;
  for (auto& f : fs) rs.push_back(f.get());

  // The parked dummy batch, then these seven together: one batch, one commit.
  EXPECT_EQ(writer_->BatchesCommitted(), batches_before + 2);
  ASSERT_TRUE(rs[0].ok());
  EXPECT_EQ(rs[1].status().code(), "invalid_transition");
  ASSERT_TRUE(rs[2].ok());
  EXPECT_EQ(rs[3].status().code(), "version_conflict");
  ASSERT_TRUE(rs[4].ok()) << rs[4].status().ToString();
  EXPECT_EQ(rs[5].status().code(), "version_conflict");
  ASSERT_TRUE(rs[6].ok()) << rs[6].status().ToString();

  EXPECT_EQ(Get(rs[0]->order->id).channel_order_id, "A");
  EXPECT_EQ(Get(rs[2]->order->id).channel_order_id, "B");
  Order xs = Get(x);
  EXPECT_EQ(xs.status, S::kPacked);
  EXPECT_EQ(xs.version, 3);
  EXPECT_EQ(Outbox().size(), events_before + 4);  // A, B, x paid, x packed
}

TEST_F(OrderWriterTest, ACommandFailingAfterItsFirstWriteIsUndone) {
  // With a constant random source and a frozen clock, the transition's event id equals the
  // creation event's id: UpdateOrder succeeds, then AppendOutbox hits the unique index.
  random_.constant_ = true;
  std::string id = CreateOk("douyin", "DY1");
  auto r = Run(Move(id, S::kPaid));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), "constraint");
  Order stored = Get(id);
  EXPECT_EQ(stored.status, S::kPendingPayment);  // the UpdateOrder was rolled back
  EXPECT_EQ(stored.version, 1);
  EXPECT_EQ(Outbox().size(), 1u);
  EXPECT_EQ(writer_->OrderCountsByStatus(), DbCounts());
  random_.constant_ = false;
  MoveOk(id, S::kPaid);
  EXPECT_EQ(Get(id).version, 2);
  EXPECT_EQ(Outbox().size(), 2u);
}

TEST_F(OrderWriterTest, RolesAreEnforcedAndRefusalsLeaveNoTrace) {
  std::string id = CreateOk("douyin", "DY1");
  auto wh = Run(Move(id, S::kPaid, std::nullopt, Warehouse()));
  ASSERT_FALSE(wh.ok());
  EXPECT_EQ(wh.status().kind(), ErrorKind::kPermissionDenied);
  auto foreign = Run(Move(id, S::kPaid, std::nullopt, ChannelKey("taobao")));
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.status().kind(), ErrorKind::kNotFound);
  auto cs = Run(Move(id, S::kPaid, std::nullopt, Cs("key_CS")));
  ASSERT_FALSE(cs.ok());
  EXPECT_EQ(cs.status().kind(), ErrorKind::kNotFound);
  auto finance =
      Run(Move(id, S::kPaid, std::nullopt, Principal{"key_FIN", "f", Role::kFinance, ""}));
  ASSERT_FALSE(finance.ok());
  EXPECT_EQ(finance.status().kind(), ErrorKind::kPermissionDenied);
  auto create = Run(Create("taobao", "T", ChannelKey("douyin")));
  ASSERT_FALSE(create.ok());
  EXPECT_EQ(create.status().kind(), ErrorKind::kPermissionDenied);
  EXPECT_EQ(Get(id).version, 1);
  EXPECT_EQ(Outbox().size(), 1u);
  EXPECT_EQ(OrderCount(), 1u);
  // The moves each role may make do go through.
  ASSERT_TRUE(Run(Move(id, S::kPaid, 1, ChannelKey("douyin"))).ok());
  ASSERT_TRUE(Run(Move(id, S::kPacked, 2, Warehouse())).ok());
  ASSERT_TRUE(Run(Move(id, S::kShipped, 3, Warehouse())).ok());
  EXPECT_EQ(Get(id).version, 4);
  EXPECT_EQ(Outbox().size(), 4u);
}

TEST_F(OrderWriterTest, RefundRejectionReturnsToItsOriginOnly) {
  std::string id = CreateOk("douyin", "DY1");
  MoveOk(id, S::kPaid);
  MoveOk(id, S::kPacked);
  MoveOk(id, S::kShipped);
  MoveOk(id, S::kRefunding);
  EXPECT_EQ(Get(id).refund_origin, S::kShipped);  // persisted, not just in memory
  for (S wrong : {S::kPaid, S::kDelivered, S::kPacked}) {
    auto r = Run(Move(id, wrong));
    ASSERT_FALSE(r.ok()) << ToString(wrong);
    EXPECT_EQ(r.status().code(), "invalid_transition");
  }
  MoveOk(id, S::kShipped);  // refund rejected
  Order back = Get(id);
  EXPECT_EQ(back.status, S::kShipped);
  EXPECT_FALSE(back.refund_origin.has_value());
  EXPECT_EQ(back.version, 6);
  MoveOk(id, S::kDelivered);
  MoveOk(id, S::kRefunding);
  EXPECT_EQ(Get(id).refund_origin, S::kDelivered);
  MoveOk(id, S::kRefunded);
  EXPECT_EQ(Get(id).status, S::kRefunded);
  EXPECT_EQ(Get(id).version, 9);
  EXPECT_EQ(Outbox().size(), 9u);
}

TEST_F(OrderWriterTest, AssignmentScopesCustomerService) {
  store::ApiKeyRecord cs;
  cs.principal = Cs("key_CS1");
  cs.key_hash = std::string(64, '1');
  ASSERT_TRUE(store_->InsertApiKey(cs).ok());
  store::ApiKeyRecord wh;
  wh.principal = Warehouse();
  wh.key_hash = std::string(64, '2');
  ASSERT_TRUE(store_->InsertApiKey(wh).ok());

  std::string id = CreateOk("douyin", "DY1");
  MoveOk(id, S::kPaid);
  auto not_admin = Run(Command{Assign{id, "key_CS1", std::nullopt}, Warehouse(), std::nullopt});
  ASSERT_FALSE(not_admin.ok());
  EXPECT_EQ(not_admin.status().kind(), ErrorKind::kPermissionDenied);
  auto not_cs = Run(Command{Assign{id, "key_WH", std::nullopt}, Admin(), std::nullopt});
  ASSERT_FALSE(not_cs.ok());
  EXPECT_EQ(not_cs.status().kind(), ErrorKind::kUnprocessable);
  auto stale = Run(Command{Assign{id, "key_CS1", 1}, Admin(), std::nullopt});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), "version_conflict");
  EXPECT_EQ(Get(id).assigned_agent, "");

  // Before assignment the agent cannot see the order at all.
  auto early = Run(Move(id, S::kRefunding, std::nullopt, Cs("key_CS1")));
  EXPECT_EQ(early.status().kind(), ErrorKind::kNotFound);

  auto ok = Run(Command{Assign{id, "key_CS1", 2}, Admin(), std::nullopt});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->order->assigned_agent, "key_CS1");
  EXPECT_EQ(Get(id).assigned_agent, "key_CS1");
  EXPECT_EQ(Get(id).version, 3);
  EXPECT_EQ(Outbox().size(), 2u);  // assignment is not a status change

  auto cancel = Run(Move(id, S::kCancelled, std::nullopt, Cs("key_CS1")));
  EXPECT_EQ(cancel.status().kind(), ErrorKind::kPermissionDenied);
  auto other_agent = Run(Move(id, S::kRefunding, std::nullopt, Cs("key_CS2")));
  EXPECT_EQ(other_agent.status().kind(), ErrorKind::kNotFound);
  auto refund = Run(Move(id, S::kRefunding, 3, Cs("key_CS1")));
  ASSERT_TRUE(refund.ok()) << refund.status().ToString();
  EXPECT_EQ(Get(id).status, S::kRefunding);
}

TEST_F(OrderWriterTest, ThirtyTwoThreadsRaceAndTheCountsAreExact) {
  constexpr int kThreads = 32;
  constexpr int kOwnOrders = 4;
  constexpr int kShared = 6;
  std::vector<std::string> shared;
  for (int i = 0; i < kShared; ++i) shared.push_back(CreateOk("douyin", "SH" + std::to_string(i)));
  const size_t events_before = Outbox().size();

  std::mutex mu;
  std::map<std::string, int64_t> accepted;  // order id -> accepted transitions
  // order id -> the status each accepted move produced, by the version it produced: the order in
  // which threads get to record their wins is up to the scheduler, the versions are not.
  std::map<std::string, std::map<int64_t, S>> winners;
  int created = 0;
  std::map<std::string, int> unexpected;  // error codes other than the expected refusals
  auto record = [&](const std::string& id, const Result<CommandOutcome>& r) {
    std::lock_guard lock(mu);
    if (r.ok()) {
      ++accepted[id];
      winners[id][r->order->version] = r->order->status;
    } else if (r.status().code() != "version_conflict" &&
               r.status().code() != "invalid_transition") {
      ++unexpected[r.status().ToString()];
    }
  };

  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      std::vector<std::string> own;
      for (int i = 0; i < kOwnOrders; ++i) {
        auto r = Run(Create("jd", "T" + std::to_string(t) + "-" + std::to_string(i)));
        std::lock_guard lock(mu);
        if (r.ok() && r->created) {
          ++created;
          own.push_back(r->order->id);
        } else {
          ++unexpected[r.ok() ? "not created" : r.status().ToString()];
        }
      }
      {
        auto r = Run(Create("jd", "EVERYONE"));  // the same reference from every thread
        std::lock_guard lock(mu);
        if (!r.ok()) ++unexpected[r.status().ToString()];
        if (r.ok() && r->created) ++created;
      }
      for (const auto& id : shared) {
        record(id, Run(Move(id, S::kPaid, 1)));  // exactly one thread can win version 1
        record(id, Run(Move(id, S::kPacked)));   // exactly one thread can make paid -> packed
      }
      for (const auto& id : own) {
        for (S to : {S::kPaid, S::kPacked, S::kShipped}) record(id, Run(Move(id, to)));
      }
      if (!own.empty()) record(own[0], Run(Move(own[0], S::kDelivered)));
    });
  }
  for (auto& th : threads) th.join();

  EXPECT_TRUE(unexpected.empty()) << unexpected.begin()->first;
  EXPECT_EQ(created, kThreads * kOwnOrders + 1);
  int64_t transitions = 0;
  for (const auto& [id, n] : accepted) transitions += n;
  for (const auto& id : shared) {
    EXPECT_EQ(accepted[id], 2) << id;
    EXPECT_EQ(winners[id], (std::map<int64_t, S>{{2, S::kPaid}, {3, S::kPacked}})) << id;
    Order o = Get(id);
    EXPECT_EQ(o.status, S::kPacked);
    EXPECT_EQ(o.version, 3);
  }
  EXPECT_EQ(transitions, kShared * 2 + kThreads * (kOwnOrders * 3 + 1));

  // Exactly one outbox row per create and per accepted transition, nothing else.
  auto events = Outbox();
  EXPECT_EQ(events.size(),
            events_before + static_cast<size_t>(created) + static_cast<size_t>(transitions));
  // Per order: versions 1..v, each once, in commit order, and v is the stored version.
  std::map<std::string, std::vector<int64_t>> versions;
  std::set<std::string> event_ids;
  for (const auto& e : events) {
    versions[e.order_id].push_back(e.order_version);
    EXPECT_TRUE(event_ids.insert(e.id).second) << "duplicate event id " << e.id;
  }
  EXPECT_EQ(versions.size(), static_cast<size_t>(kShared + created));
  for (const auto& [id, vs] : versions) {
    Order o = Get(id);
    ASSERT_EQ(static_cast<int64_t>(vs.size()), o.version) << id;
    for (size_t i = 0; i < vs.size(); ++i) EXPECT_EQ(vs[i], static_cast<int64_t>(i) + 1) << id;
    if (accepted.count(id)) {
      EXPECT_EQ(o.version, 1 + accepted[id]) << id;
    } else {
      EXPECT_EQ(o.version, 1) << id;  // only the EVERYONE order has no transition
    }
  }
  EXPECT_EQ(writer_->OrderCountsByStatus(), DbCounts());
  EXPECT_EQ(OrderCount(), static_cast<size_t>(kShared + created));
}

TEST_F(OrderWriterTest, StopDrainsQueuedCommands) {
  std::atomic<int> completions{0};
  std::atomic<int> failures{0};
  auto count = [&](Result<CommandOutcome> r) {
    if (!r.ok() && r.status().kind() != ErrorKind::kNotFound) ++failures;
    ++completions;
  };
  auto gate = BlockWriter();
  constexpr int kQueued = 50;
  for (int i = 0; i < kQueued; ++i) {
    ASSERT_TRUE(writer_->Submit(Create("douyin", "Q" + std::to_string(i)), count).ok());
  }
  ASSERT_EQ(writer_->QueueDepth(), static_cast<size_t>(kQueued));
  // Stop() from another thread while commands are queued and the writer is busy.
  std::thread stopper([&] { writer_->Stop(); });
  // Once Stop() has begun, Submit refuses. Probes accepted before that are queued as well.
  int probes = 0;
  while (writer_->Submit(Move("ord_probe", S::kPaid), count).ok()) {
    ++probes;
    std::this_thread::yield();
  }
  EXPECT_LT(writer_->QueueDepth(), kQueueDepthMax);  // refused for stopping, not a full queue
  gate->release.set_value();
  stopper.join();
  EXPECT_EQ(completions.load(), kQueued + probes);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(writer_->QueueDepth(), 0u);
  EXPECT_EQ(OrderCount(), static_cast<size_t>(kQueued));
  EXPECT_EQ(Outbox().size(), static_cast<size_t>(kQueued));
}

TEST_F(OrderWriterTest, SubmitAfterStopIsUnavailableAndNeverCompletes) {
  writer_->Stop();
  writer_->Stop();  // idempotent
  bool called = false;
  Status s =
      writer_->Submit(Create("douyin", "LATE"), [&](Result<CommandOutcome>) { called = true; });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kUnavailable);
  EXPECT_FALSE(called);
  EXPECT_EQ(OrderCount(), 0u);
}

// ---- Checkout holds and oversell, with the clock moved by hand (no sleeps) ----

Command SetHot(int64_t on_hand) {
  return Command{SetStock{"HOT", on_hand, 0, std::nullopt}, Admin(), std::nullopt};
}

Command Hold(int64_t qty, int64_t ttl_seconds, Principal actor = ChannelKey("douyin")) {
  return Command{CreateReservation{{{"HOT", qty}}, ttl_seconds}, std::move(actor), std::nullopt};
}

Command Release(const std::string& id, Principal actor = ChannelKey("douyin")) {
  return Command{ReleaseReservation{id}, std::move(actor), std::nullopt};
}

Command BuyHot(const std::string& ref, int64_t qty, const std::string& reservation_id = "",
               bool accept_oversell = false) {
  Order o = Input("douyin", ref);
  o.lines = {OrderLine{"HOT", "热卖", qty, 1000}};
  o.total = 1000 * qty;
  o.reservation_id = reservation_id;
  return Command{CreateOrder{std::move(o), accept_oversell}, ChannelKey("douyin"), std::nullopt};
}

class HoldTest : public OrderWriterTest {
 protected:
  store::StockRecord Hot() {
    auto r = store_->GetStock("HOT");
    EXPECT_TRUE(r.ok() && r->has_value());
    return r.ok() && r->has_value() ? **r : store::StockRecord{};
  }
  store::ReservationRecord HoldRecord(const std::string& id) {
    auto r = store_->GetReservation(id);
    EXPECT_TRUE(r.ok() && r->has_value()) << id;
    return r.ok() && r->has_value() ? **r : store::ReservationRecord{};
  }
  std::string HoldOk(int64_t qty, int64_t ttl_seconds) {
    auto r = Run(Hold(qty, ttl_seconds));
    EXPECT_TRUE(r.ok() && r->reservation) << (r.ok() ? "" : r.status().ToString());
    return r.ok() && r->reservation ? r->reservation->id : "";
  }
  // Runs the writer on `store` (a fault-injecting wrapper) until the test stops it.
  void RestartWriterOn(store::Store& store) {
    writer_->Stop();
    writer_.reset();
    auto w = OrderWriter::Start(store, clock_, ids_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    writer_ = std::move(w).value();
  }
  // One step of the retention pass now; the number of holds it deleted.
  int64_t RunPurge() {
    auto p = std::make_shared<std::promise<Result<CommandOutcome>>>();
    auto f = p->get_future();
    EXPECT_TRUE(
        writer_
            ->RunRetentionStep(RetainedTable::kHolds,
                               [p](Result<CommandOutcome> r) { p->set_value(std::move(r)); })
            .ok());
    auto r = f.get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->purged : -1;
  }
  void Expire() {
    auto p = std::make_shared<std::promise<Result<CommandOutcome>>>();
    auto f = p->get_future();
    ASSERT_TRUE(
        writer_->ExpireHolds([p](Result<CommandOutcome> r) { p->set_value(std::move(r)); }).ok());
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
};

TEST_F(HoldTest, AHoldReservesItsLinesAndExpiresByTheClock) {
  ASSERT_TRUE(Run(SetHot(10)).ok());
  auto r = Run(Hold(4, 60));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->reservation.has_value());
  EXPECT_TRUE(r->created);
  EXPECT_TRUE(LooksLikeId(r->reservation->id, "res")) << r->reservation->id;
  EXPECT_EQ(r->reservation->state, store::ReservationState::kActive);
  EXPECT_EQ(r->reservation->expires_at_ms, kStart + 60'000);
  EXPECT_EQ(r->reservation->channel, "douyin");
  EXPECT_EQ(Hot().reserved, 4);
  // Short of stock: refused whole, nothing held.
  auto too_much = Run(Hold(7, 60));
  ASSERT_FALSE(too_much.ok());
  EXPECT_EQ(too_much.status().code(), "out_of_stock");
  EXPECT_EQ(Hot().reserved, 4);

  clock_.Advance(59'999);
  Expire();
  EXPECT_EQ(HoldRecord(r->reservation->id).state, store::ReservationState::kActive);
  EXPECT_EQ(Hot().reserved, 4);
  clock_.Advance(1);
  Expire();
  EXPECT_EQ(HoldRecord(r->reservation->id).state, store::ReservationState::kExpired);
  EXPECT_EQ(Hot().reserved, 0);
  EXPECT_TRUE(Run(Hold(10, 60)).ok());  // all of it is free again
}

TEST_F(HoldTest, AnOrderConvertsItsHoldOnceAndOnlyOnce) {
  ASSERT_TRUE(Run(SetHot(10)).ok());
  std::string hold = HoldOk(3, 900);
  ASSERT_TRUE(Run(BuyHot("OTHER", 7)).ok());  // everyone else takes the rest
  EXPECT_EQ(Hot().reserved, 10);
  auto bought = Run(BuyHot("MINE", 3, hold));
  ASSERT_TRUE(bought.ok()) << bought.status().ToString();
  EXPECT_TRUE(bought->created);
  EXPECT_EQ(Hot().reserved, 10);  // converted, not reserved again
  store::ReservationRecord converted = HoldRecord(hold);
  EXPECT_EQ(converted.state, store::ReservationState::kConverted);
  EXPECT_EQ(converted.order_id, bought->order->id);
  EXPECT_EQ(Get(bought->order->id).reservation_id, hold);
  // The same channel order again is the same order (200), not a second conversion.
  auto repeat = Run(BuyHot("MINE", 3, hold));
  ASSERT_TRUE(repeat.ok());
  EXPECT_FALSE(repeat->created);
  EXPECT_EQ(repeat->order->id, bought->order->id);
  // Another order naming the same hold is refused; so is releasing a converted hold.
  auto second = Run(BuyHot("SECOND", 3, hold));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), "reservation_converted");
  auto release = Run(Release(hold));
  ASSERT_FALSE(release.ok());
  EXPECT_EQ(release.status().code(), "reservation_converted");
  EXPECT_EQ(Hot().reserved, 10);
  // Cancelling the order gives the converted stock back exactly once.
  MoveOk(bought->order->id, S::kCancelled);
  EXPECT_EQ(Hot().reserved, 7);
}

TEST_F(HoldTest, ConversionWithMoreThanTheHoldNeedsTheDifferenceFree) {
  ASSERT_TRUE(Run(SetHot(5)).ok());
  std::string hold = HoldOk(2, 900);
  ASSERT_TRUE(Run(BuyHot("OTHER", 2)).ok());  // 1 left free
  auto too_many = Run(BuyHot("MINE", 4, hold));
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().code(), "out_of_stock");
  EXPECT_EQ(HoldRecord(hold).state, store::ReservationState::kActive);  // kept on refusal
  EXPECT_EQ(Hot().reserved, 4);
  ASSERT_TRUE(Run(BuyHot("MINE", 3, hold)).ok());
  EXPECT_EQ(Hot().reserved, 5);
}

TEST_F(HoldTest, ReleaseIsIdempotentAndScopedToTheChannel) {
  ASSERT_TRUE(Run(SetHot(10)).ok());
  std::string hold = HoldOk(6, 900);
  auto foreign = Run(Release(hold, ChannelKey("taobao")));
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.status().kind(), ErrorKind::kNotFound);
  auto foreign_buy = BuyHot("TB", 1, hold);
  std::get<CreateOrder>(foreign_buy.action).order.channel = "taobao";
  foreign_buy.actor = ChannelKey("taobao");
  auto fb = Run(std::move(foreign_buy));
  ASSERT_FALSE(fb.ok());
  EXPECT_EQ(fb.status().code(), "reservation_not_found");
  EXPECT_EQ(Hot().reserved, 6);
  for (int i = 0; i < 3; ++i) {
    auto r = Run(Release(hold));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->reservation->state, store::ReservationState::kReleased);
    EXPECT_EQ(Hot().reserved, 0) << "release " << i;
  }
  auto after = Run(BuyHot("LATE", 1, hold));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), "reservation_released");
  auto missing = Run(Release("res_NOPE"));
  EXPECT_EQ(missing.status().kind(), ErrorKind::kNotFound);
}

TEST_F(HoldTest, AHoldThatExpiredWhileStoppedIsReleasedAtStartAndCannotConvert) {
  ASSERT_TRUE(Run(SetHot(10)).ok());
  std::string hold = HoldOk(4, 10);
  std::string kept = HoldOk(3, 3600);
  writer_->Stop();
  writer_.reset();
  clock_.Advance(10'001);
  StartWriter();  // no command yet: the start itself released it
  EXPECT_EQ(HoldRecord(hold).state, store::ReservationState::kExpired);
  EXPECT_EQ(HoldRecord(kept).state, store::ReservationState::kActive);
  EXPECT_EQ(Hot().reserved, 3);
  auto late = Run(BuyHot("LATE", 4, hold));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), "reservation_expired");
}

// More holds fell due while stopped than one sweep takes: the start releases every one of them
// before the first command, not a sweep's worth with the rest left to later batches.
TEST_F(HoldTest, EveryHoldThatExpiredWhileStoppedIsReleasedAtStartHoweverMany) {
  constexpr int kHolds = 2'600;  // more than two sweeps (kExpireBatchMax is 1,000)
  ASSERT_TRUE(Run(SetHot(kHolds + 5)).ok());
  std::vector<Future> pending;
  for (int i = 0; i < kHolds; ++i) pending.push_back(SubmitAsync(Hold(1, 10)));
  for (auto& f : pending) ASSERT_TRUE(f.get().ok());
  std::string kept = HoldOk(5, 3600);
  ASSERT_EQ(Hot().reserved, kHolds + 5);
  writer_->Stop();
  writer_.reset();
  clock_.Advance(10'001);
  StartWriter();
  EXPECT_EQ(Hot().reserved, 5);  // read before any command reaches the writer
  EXPECT_EQ(HoldRecord(kept).state, store::ReservationState::kActive);
  auto all = Run(BuyHot("ALL", kHolds));
  ASSERT_TRUE(all.ok()) << all.status().ToString();
}

TEST_F(HoldTest, ADueHoldNotYetSweptIsRefusedAsExpired) {
  ASSERT_TRUE(Run(SetHot(10)).ok());
  std::string hold = HoldOk(4, 10);
  clock_.Advance(10'000);
  auto late = Run(BuyHot("LATE", 4, hold));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), "reservation_expired");
  Expire();
  EXPECT_EQ(Hot().reserved, 0);
}

TEST_F(HoldTest, HoldsThatEndedEarlyAreSkippedWhenTheirTimeComes) {
  ASSERT_TRUE(Run(SetHot(10)).ok());
  std::string released = HoldOk(4, 60);
  std::string converted = HoldOk(3, 60);
  std::string left = HoldOk(2, 60);
  ASSERT_TRUE(Run(Release(released)).ok());
  ASSERT_TRUE(Run(BuyHot("MINE", 3, converted)).ok());
  EXPECT_EQ(Hot().reserved, 5);  // the order's 3 and the hold left alone
  clock_.Advance(60'000);
  Expire();
  // Only the hold still active expired: nothing was given back twice.
  EXPECT_EQ(HoldRecord(left).state, store::ReservationState::kExpired);
  EXPECT_EQ(HoldRecord(released).state, store::ReservationState::kReleased);
  EXPECT_EQ(HoldRecord(converted).state, store::ReservationState::kConverted);
  EXPECT_EQ(Hot().reserved, 3);
  EXPECT_EQ(writer_->OrderCountsByStatus(), DbCounts());  // holds are not orders (/metrics)
  // The same after a restart, which rebuilds the queue from the active holds alone.
  std::string later = HoldOk(1, 60);
  writer_->Stop();
  writer_.reset();
  StartWriter();
  EXPECT_EQ(Hot().reserved, 4);
  clock_.Advance(60'000);
  Expire();
  EXPECT_EQ(HoldRecord(later).state, store::ReservationState::kExpired);
  EXPECT_EQ(Hot().reserved, 3);
}

// Holds that ended longer than the retention ago go, by the writer's own pass: held stock and
// recent history stay, and numbering goes on across a restart.
TEST_F(HoldTest, HoldsThatEndedLongerThanTheRetentionAgoAreDeletedByTheWritersOwnPass) {
  WriterOptions options;
  options.hold_retention = std::chrono::hours(1);
  RestartWriter(options);
  ASSERT_TRUE(Run(SetHot(100)).ok());
  std::string released = HoldOk(1, 60);
  std::string expired = HoldOk(1, 60);
  std::string converted = HoldOk(1, 60);
  std::string long_held = HoldOk(2, 24 * 3600);
  ASSERT_TRUE(Run(Release(released)).ok());
  ASSERT_TRUE(Run(BuyHot("KEPT", 1, converted)).ok());
  clock_.Advance(60'000);
  Expire();
  EXPECT_EQ(HoldRecord(expired).state, store::ReservationState::kExpired);

  // Ended a minute ago: kept, whoever asks.
  auto early = RunPurge();
  EXPECT_EQ(early, 0);
  clock_.Advance(3'600'000);
  std::string recent = HoldOk(1, 60);
  ASSERT_TRUE(Run(Release(recent)).ok());
  // The pass, due since the clock passed the first pass interval, runs by itself before the
  // next batch.
  clock_.Advance(kHoldPurgePassInterval.count());
  ASSERT_TRUE(Run(SetHot(100)).ok());
  for (const std::string& gone : {released, expired, converted}) {
    auto r = store_->GetReservation(gone);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->has_value()) << gone;
  }
  EXPECT_EQ(writer_->HoldsPurged(), 3);  // for /metrics
  EXPECT_EQ(HoldRecord(long_held).state, store::ReservationState::kActive);
  EXPECT_EQ(HoldRecord(recent).state, store::ReservationState::kReleased);
  EXPECT_EQ(Hot().reserved, 3);         // the long hold's 2 and the order's 1
  auto order = Run(BuyHot("KEPT", 1));  // a repeat: the order still names the hold it took
  ASSERT_TRUE(order.ok() && order->order) << order.status().ToString();
  EXPECT_EQ(order->order->reservation_id, converted);
  // An id that went answers like one that never was.
  auto gone = Run(Release(released));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().kind(), ErrorKind::kNotFound);

  // The newest hold stays however long ago it ended: a restart numbers on from it.
  clock_.Advance(2 * 3'600'000);
  EXPECT_EQ(RunPurge(), 0);
  int64_t newest = HoldRecord(recent).no;
  EXPECT_EQ(HoldRecord(recent).state, store::ReservationState::kReleased);
  RestartWriter(options);
  std::string after = HoldOk(1, 60);
  EXPECT_GT(HoldRecord(after).no, newest);
}

TEST_F(HoldTest, ARetentionOfZeroKeepsEveryHold) {
  WriterOptions options;
  options.hold_retention = std::chrono::milliseconds(0);
  RestartWriter(options);
  ASSERT_TRUE(Run(SetHot(10)).ok());
  std::string released = HoldOk(1, 60);
  ASSERT_TRUE(Run(Release(released)).ok());
  HoldOk(1, 60);
  clock_.Advance(10 * 365 * 24 * 3'600'000LL);
  EXPECT_EQ(RunPurge(), 0);
  EXPECT_EQ(HoldRecord(released).state, store::ReservationState::kReleased);
}

TEST_F(HoldTest, HoldsPlacedInABatchAreWrittenBeforeTheBatchLooksOneUp) {
  ASSERT_TRUE(Run(SetHot(10)).ok());
  std::string old = HoldOk(2, 60);
  auto gate = BlockWriter();
  std::vector<Future> fs;
  fs.push_back(SubmitAsync(Hold(3, 60)));
  fs.push_back(SubmitAsync(Release(old)));  // reads a hold: the one above is written first
  fs.push_back(SubmitAsync(Hold(4, 60)));   // written when the batch commits
  ASSERT_EQ(writer_->QueueDepth(), 3u);
  gate->release.set_value();
  std::vector<Result<CommandOutcome>> rs;
  for (auto& f : fs) rs.push_back(f.get());
  for (auto& r : rs) ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(rs[1]->reservation->state, store::ReservationState::kReleased);
  EXPECT_EQ(HoldRecord(rs[0]->reservation->id).state, store::ReservationState::kActive);
  EXPECT_EQ(HoldRecord(rs[2]->reservation->id).state, store::ReservationState::kActive);
  EXPECT_EQ(HoldRecord(old).state, store::ReservationState::kReleased);
  EXPECT_EQ(Hot().reserved, 7);
}

// Fails the first hold update it sees (as a disk error half-way through a command would), or
// the first hold read by number (a transient read error: before any write).
class FailFirstHoldStore final : public store::StoreWrapper {
 public:
  enum class Fails { kUpdate, kRead };
  FailFirstHoldStore(store::Store& target, Fails fails) : StoreWrapper(target), fails_(fails) {}
  Result<std::unique_ptr<store::WriteTransaction>> BeginWrite() override {
    OC_ASSIGN_OR_RETURN(auto inner, target().BeginWrite());
    return std::unique_ptr<store::WriteTransaction>(new Txn(std::move(inner), this));
  }
  bool failed() const { return failed_.load(); }

 private:
  class Txn final : public store::WriteTransactionWrapper {
   public:
    Txn(std::unique_ptr<store::WriteTransaction> inner, FailFirstHoldStore* store)
        : WriteTransactionWrapper(std::move(inner)), store_(store) {}
    Status UpdateReservation(const store::ReservationRecord& r) override {
      if (store_->FailNow(Fails::kUpdate)) return Status::IOError("injected write failure");
      return WriteTransactionWrapper::UpdateReservation(r);
    }
    Result<std::optional<store::ReservationRecord>> FindReservationByNo(int64_t no) override {
      if (store_->FailNow(Fails::kRead)) return Status::IOError("injected read failure");
      return WriteTransactionWrapper::FindReservationByNo(no);
    }

   private:
    FailFirstHoldStore* store_;
  };
  bool FailNow(Fails what) { return what == fails_ && !failed_.exchange(true); }

  const Fails fails_;
  std::atomic<bool> failed_{false};
};

TEST_F(HoldTest, AnExpirySweepWhoseBatchRollsBackIsTakenAgain) {
  ASSERT_TRUE(Run(SetHot(10)).ok());
  std::string hold = HoldOk(4, 10);
  FailFirstHoldStore failing(*gated_, FailFirstHoldStore::Fails::kUpdate);
  RestartWriterOn(failing);
  clock_.Advance(10'000);
  // The first sweep releases the stock, then its write fails: its batch is rolled back, the
  // stock and the hold's place in the expiry queue with it, and re-run without it. The sweep
  // asked for here (in that batch or the next) must still find the hold.
  Expire();
  EXPECT_TRUE(failing.failed());
  EXPECT_EQ(HoldRecord(hold).state, store::ReservationState::kExpired);
  EXPECT_EQ(Hot().reserved, 0);
  writer_->Stop();
  writer_.reset();
}

TEST_F(HoldTest, AnExpirySweepThatFailsBeforeWritingKeepsTheHoldQueued) {
  ASSERT_TRUE(Run(SetHot(10)).ok());
  std::string hold = HoldOk(4, 10);
  FailFirstHoldStore failing(*gated_, FailFirstHoldStore::Fails::kRead);
  RestartWriterOn(failing);
  clock_.Advance(10'000);
  // The first sweep fails on its read, with nothing written, so its batch commits as it is;
  // the hold must stay in the queue for the next sweep, not drop out until a restart.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto p = std::make_shared<std::promise<Result<CommandOutcome>>>();
    auto f = p->get_future();
    ASSERT_TRUE(
        writer_->ExpireHolds([p](Result<CommandOutcome> r) { p->set_value(std::move(r)); }).ok());
    (void)f.get();
  }
  EXPECT_TRUE(failing.failed());
  EXPECT_EQ(HoldRecord(hold).state, store::ReservationState::kExpired);
  EXPECT_EQ(Hot().reserved, 0);
  writer_->Stop();
  writer_.reset();
}

TEST_F(HoldTest, AnOrderAcceptedAsOversoldIsFlaggedWithItsEventAndListed) {
  ASSERT_TRUE(Run(SetHot(1)).ok());
  auto refused = Run(BuyHot("NO", 3));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), "out_of_stock");
  auto r = Run(BuyHot("PAID-ON-PLATFORM", 3, "", true));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->order->risk_flags, std::vector<std::string>{"oversold"});
  EXPECT_EQ(Get(r->order->id).risk_flags, std::vector<std::string>{"oversold"});
  store::StockRecord hot = Hot();
  EXPECT_EQ(hot.reserved, 3);
  EXPECT_EQ(hot.oversold, 2);
  std::vector<store::OutboxEvent> events;
  for (auto& e : Outbox()) {
    if (e.order_id == r->order->id) events.push_back(e);
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "order.created");
  EXPECT_EQ(events[1].type, "inventory.oversold");
  bj::value payload = bj::parse(events[1].payload_json);
  EXPECT_EQ(payload.at("lines").at(0).at("sku").as_string(), "HOT");
  EXPECT_EQ(payload.at("lines").at(0).at("qty_short").as_int64(), 2);
  auto listed = store_->ListOversold();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].order_id, r->order->id);
  EXPECT_EQ((*listed)[0].lines[0].qty_short, 2);
  // Still nothing available: a second flagged order adds to the shortfall.
  auto again = Run(BuyHot("AGAIN", 1, "", true));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Hot().oversold, 3);
  // A restock covers the shortfall; with enough stock the flag changes nothing.
  ASSERT_TRUE(Run(SetHot(10)).ok());
  EXPECT_EQ(Hot().oversold, 0);
  auto fits = Run(BuyHot("FITS", 1, "", true));
  ASSERT_TRUE(fits.ok());
  EXPECT_TRUE(fits->order->risk_flags.empty());
  EXPECT_EQ(Hot().oversold, 0);
}

TEST_F(OrderWriterTest, OrderCountsByStatusMatchTheDatabase) {
  std::array<int64_t, 9> zero{};
  EXPECT_EQ(writer_->OrderCountsByStatus(), zero);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(CreateOk("douyin", "C" + std::to_string(i)));
  MoveOk(ids[0], S::kPaid);
  MoveOk(ids[1], S::kPaid);
  MoveOk(ids[1], S::kPacked);
  MoveOk(ids[2], S::kCancelled);
  MoveOk(ids[3], S::kPaid);
  MoveOk(ids[3], S::kRefunding);
  (void)Run(Move(ids[4], S::kShipped));  // refused: must not count
  auto counts = writer_->OrderCountsByStatus();
  EXPECT_EQ(counts, DbCounts());
  EXPECT_EQ(counts[static_cast<size_t>(S::kPendingPayment)], 2);
  EXPECT_EQ(counts[static_cast<size_t>(S::kPaid)], 1);
  EXPECT_EQ(counts[static_cast<size_t>(S::kPacked)], 1);
  EXPECT_EQ(counts[static_cast<size_t>(S::kCancelled)], 1);
  EXPECT_EQ(counts[static_cast<size_t>(S::kRefunding)], 1);
  // A writer started on the same store rebuilds the counts from the database.
  writer_->Stop();
  writer_.reset();
  StartWriter();
  EXPECT_EQ(writer_->OrderCountsByStatus(), counts);
  MoveOk(ids[5], S::kPaid);
  EXPECT_EQ(writer_->OrderCountsByStatus(), DbCounts());
}

// Sync() parks until released (or fails when told to), to watch what the writer does meanwhile.
class SyncControlStore final : public store::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  std::promise<void> entered;
  std::promise<void> release;
  std::atomic<bool> fail{false};
  std::atomic<int> syncs{0};

  Status Sync() override {
    if (syncs.fetch_add(1) == 0) {
      entered.set_value();
      release.get_future().wait();
    }
    if (fail) return Status::IOError("injected fsync failure");
    return target().Sync();
  }
};

class OrderWriterSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions opt;
    opt.path = dir_.File("orders.db");
    auto s = store::OpenSqliteStore(opt);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    SeedStock(*store_);
    control_ = std::make_unique<SyncControlStore>(*store_);
    auto w = OrderWriter::Start(*control_, clock_, ids_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    writer_ = std::move(w).value();
  }
  void TearDown() override { writer_->Stop(); }

  // Submits an order; its outcome arrives in the future returned.
  std::future<Result<CommandOutcome>> SubmitCreate(const std::string& channel_order_id) {
    auto p = std::make_shared<std::promise<Result<CommandOutcome>>>();
    auto f = p->get_future();
    Status s = writer_->Submit(CreateCommand(channel_order_id),
                               [p](Result<CommandOutcome> r) { p->set_value(std::move(r)); });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return f;
  }

  Command CreateCommand(const std::string& channel_order_id) {
    Order o;
    o.channel = "douyin";
    o.channel_order_id = channel_order_id;
    o.currency = "CNY";
    o.lines.push_back({"SKU", "thing", 1, 100});
    o.total = 100;
    return Command{CreateOrder{std::move(o)}, Principal{"key_admin", "admin", Role::kAdmin, ""},
                   std::nullopt};
  }

  ScopedTempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<SyncControlStore> control_;
  ManualClock clock_{kStart};
  IdGenerator ids_{clock_, Random::Secure()};
  std::unique_ptr<OrderWriter> writer_;
};

TEST_F(OrderWriterSyncTest, NothingCompletesBeforeItsBatchIsSynced) {
  std::promise<Result<CommandOutcome>> first;
  ASSERT_TRUE(writer_
                  ->Submit(CreateCommand("A"),
                           [&](Result<CommandOutcome> r) { first.set_value(std::move(r)); })
                  .ok());
  control_->entered.get_future().wait();  // batch A is committed and its fsync has begun
  // Meanwhile the writer is free: batch B is applied and committed while A's fsync is pending.
  std::promise<Result<CommandOutcome>> second;
  ASSERT_TRUE(writer_
                  ->Submit(CreateCommand("B"),
                           [&](Result<CommandOutcome> r) { second.set_value(std::move(r)); })
                  .ok());
  auto first_future = first.get_future();
  auto second_future = second.get_future();
  EXPECT_EQ(first_future.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  EXPECT_EQ(second_future.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  control_->release.set_value();
  auto a = first_future.get();
  auto b = second_future.get();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(a->created);
  EXPECT_TRUE(b->created);
  EXPECT_GE(control_->syncs.load(), 2);  // B's completion waited for a sync that began after it
}

TEST_F(OrderWriterSyncTest, AFailedSyncFailsTheBatchAndStopsWrites) {
  control_->fail = true;
  auto done = SubmitCreate("A");
  control_->entered.get_future().wait();
  // Queued while the failing fsync is in flight: it must not succeed either.
  auto queued = SubmitCreate("Q");
  control_->release.set_value();
  auto r = done.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kIOError);
  auto q = queued.get();
  EXPECT_FALSE(q.ok());
  Status later = writer_->Submit(CreateCommand("B"),
                                 [](Result<CommandOutcome>) { ADD_FAILURE() << "must not run"; });
  EXPECT_EQ(later.kind(), ErrorKind::kUnavailable);
}

// After a failed fsync nothing is written, and nothing due may keep the writer awake: a
// retention step that stayed due once made it spin at a full core.
TEST_F(OrderWriterSyncTest, AfterAFailedSyncTheWriterSleepsThoughRetentionIsDue) {
  writer_->Stop();
  writer_.reset();
  WriterOptions options;
  options.hold_check_interval = std::chrono::milliseconds(20);
  auto w = OrderWriter::Start(*control_, clock_, ids_, options);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  writer_ = std::move(w).value();
  control_->fail = true;
  auto done = SubmitCreate("A");
  control_->entered.get_future().wait();
  control_->release.set_value();
  ASSERT_FALSE(done.get().ok());
  // Due only now: before the failure was known, the writer could rightly have run them.
  clock_.Advance(10 * kHoldPurgePassInterval.count());  // both tables' steps are due
  // Asleep, the writer looks once per 20 ms: about 25 times in half a second. Awake, it turns
  // hundreds of thousands of times.
  int64_t before = writer_->LoopTurns();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_LT(writer_->LoopTurns() - before, 200);
  EXPECT_EQ(writer_->HoldPurgeFailures(), 0);  // no step was even tried
}

// Fails AppendOutbox for one order: the command has already written its order row by then.
class PoisonOneOrderStore final : public store::StoreWrapper {
 public:
  PoisonOneOrderStore(store::Store& target, std::string poisoned_order_id)
      : StoreWrapper(target), poisoned_(std::move(poisoned_order_id)) {}

  Result<std::unique_ptr<store::WriteTransaction>> BeginWrite() override {
    OC_ASSIGN_OR_RETURN(auto inner, target().BeginWrite());
    ++transactions;
    return std::unique_ptr<store::WriteTransaction>(new Txn(std::move(inner), poisoned_));
  }
  std::atomic<int> transactions{0};

 private:
  class Txn final : public store::WriteTransactionWrapper {
   public:
    Txn(std::unique_ptr<store::WriteTransaction> inner, const std::string& poisoned)
        : WriteTransactionWrapper(std::move(inner)), poisoned_(poisoned) {}
    Status AppendOutbox(const store::OutboxEvent& e) override {
      if (e.order_id == poisoned_) return Status::IOError("injected write failure");
      return WriteTransactionWrapper::AppendOutbox(e);
    }

   private:
    const std::string& poisoned_;
  };
  std::string poisoned_;
};

TEST_F(OrderWriterTest, ACommandFailingMidWriteIsDroppedAndTheRestOfItsBatchCommits) {
  std::string x = CreateOk("douyin", "X");
  writer_->Stop();
  PoisonOneOrderStore poison(*gated_, x);
  auto w = OrderWriter::Start(poison, clock_, ids_);
  ASSERT_TRUE(w.ok());
  writer_ = std::move(w).value();
  auto gate = BlockWriter();
  int transactions_before = poison.transactions.load();
  std::vector<Future> fs;
  fs.push_back(SubmitAsync(Create("douyin", "A")));
  fs.push_back(SubmitAsync(Move(x, S::kPaid, 1)));  // writes its row, then its event fails
  fs.push_back(SubmitAsync(Create("douyin", "B")));
  ASSERT_EQ(writer_->QueueDepth(), 3u);  // all three go into the batch after the parked one
  gate->release.set_value();
  std::vector<Result<CommandOutcome>> rs;
  for (auto& f : fs) rs.push_back(f.get());
  ASSERT_TRUE(rs[0].ok()) << rs[0].status().ToString();
  ASSERT_FALSE(rs[1].ok());
  EXPECT_EQ(rs[1].status().kind(), ErrorKind::kIOError);
  ASSERT_TRUE(rs[2].ok()) << rs[2].status().ToString();
  Order stored = Get(x);
  EXPECT_EQ(stored.status, S::kPendingPayment);  // the half-written move left nothing
  EXPECT_EQ(stored.version, 1);
  EXPECT_EQ(Outbox().size(), 3u);  // X, A and B created; no event for the failed move
  EXPECT_EQ(OrderCount(), 3u);
  EXPECT_EQ(writer_->OrderCountsByStatus(), DbCounts());
  // The parked batch, the poisoned attempt, and the re-run without the failed command.
  EXPECT_EQ(poison.transactions.load() - transactions_before, 3);
}

// A full disk in the middle of a batch: SQLite abandons the whole transaction. Nothing of the
// batch may be written — not the commands before the failure, not those after it — and stock
// must come back too.
TEST(OrderWriterDiskFullTest, AFullDiskFailsTheWholeBatchAndWritesNothing) {
  ScopedTempDir dir;
  int64_t pages = 0;
  {
    auto s = store::OpenSqliteStore({.path = dir.File("orders.db")});
    ASSERT_TRUE(s.ok());
    SeedStock(**s);
  }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dir.File("orders.db").c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, nullptr);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    pages = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  auto s = store::OpenSqliteStore({.path = dir.File("orders.db"), .max_database_pages = pages + 8});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto& store = **s;
  ManualClock clock(kStart);
  IdGenerator ids(clock, Random::Secure());
  GatedStore gated(store);
  auto w = OrderWriter::Start(gated, clock, ids);
  ASSERT_TRUE(w.ok());
  auto& writer = **w;

  // Park the writer so the three commands below share one batch.
  std::promise<void> entered;
  std::promise<void> release;
  gated.Arm(&entered, release.get_future().share());
  ASSERT_TRUE(writer.Submit(Move("ord_none", S::kPaid), [](Result<CommandOutcome>) {}).ok());
  entered.get_future().wait();
  auto submit = [&](Command c) {
    auto p = std::make_shared<std::promise<Result<CommandOutcome>>>();
    auto f = p->get_future();
    EXPECT_TRUE(
        writer.Submit(std::move(c), [p](Result<CommandOutcome> r) { p->set_value(std::move(r)); })
            .ok());
    return f;
  };
  Command big = Create("douyin", "BIG");
  std::get<CreateOrder>(big.action).order.shipping_address.detail = std::string(200'000, 'x');
  auto a = submit(Create("douyin", "A"));
  auto b = submit(std::move(big));  // cannot fit: the disk is "full"
  auto c = submit(Create("douyin", "C"));
  release.set_value();
  for (auto* f : {&a, &b, &c}) {
    auto r = f->get();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), ErrorKind::kIOError) << r.status().ToString();
  }
  auto page = store.ListOrders({});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());  // neither A (before the failure) nor C (after it)
  auto outbox = store.ReadOutbox(0, 100);
  ASSERT_TRUE(outbox.ok());
  EXPECT_TRUE(outbox->empty());
  auto stock = store.GetStock("SKU-1");
  ASSERT_TRUE(stock.ok() && stock->has_value());
  EXPECT_EQ((*stock)->reserved, 0);
  // The writer still works for what fits.
  auto d = submit(Create("douyin", "D"));
  auto rd = d.get();
  ASSERT_TRUE(rd.ok()) << rd.status().ToString();
  writer.Stop();
  auto after = store.GetStock("SKU-1");
  EXPECT_EQ((*after)->reserved, 2);  // D's two units only: A's reservation was rolled back
}

}  // namespace
}  // namespace oc::orders
