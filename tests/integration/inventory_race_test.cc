// Flash-sale races against the real orderd over HTTP (issue 3): no oversell, ever — with one hot
// SKU, with multi-line orders over three hot SKUs, with cancels racing creates, and across a
// kill -9 in the middle of the rush.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "integration/itest_util.h"
#include "integration/orderd_harness.h"

namespace oc::itest {
namespace {

namespace bj = boost::json;

constexpr int kConnections = 64;

bj::object Buy(const std::string& coid, const std::vector<std::pair<std::string, int64_t>>& lines) {
  bj::object o = MakeOrder("douyin", coid);
  bj::array a;
  for (const auto& [sku, qty] : lines) {
    a.push_back(bj::object{{"sku", sku}, {"name", sku}, {"qty", qty}, {"unit_price", 100}});
  }
  o["lines"] = std::move(a);
  return o;
}

void SetStock(HttpClient& admin, const std::string& sku, int64_t on_hand, int64_t buffer = 0) {
  HttpResponse r =
      admin.Put("/v1/inventory/" + sku,
                bj::serialize(bj::object{{"on_hand", on_hand}, {"safety_buffer", buffer}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
}

bj::object Stock(HttpClient& admin, const std::string& sku) {
  HttpResponse r = admin.Get("/v1/inventory/" + sku);
  EXPECT_EQ(r.status, 200) << r.Describe();
  return Obj(r);
}

struct RushResult {
  std::atomic<int> created{0};
  std::atomic<int> out_of_stock{0};
  std::atomic<int> other{0};
  std::mutex mu;
  std::vector<std::string> created_ids;
  std::vector<std::string> unexpected;
};

// `buyers` requests spread over kConnections keep-alive connections, each buying `lines`.
void Rush(TestServer& server, const std::string& key, const std::string& prefix, int buyers,
          const std::vector<std::pair<std::string, int64_t>>& lines, RushResult* out,
          const std::function<void(HttpClient&, const std::string&)>& after_create = {}) {
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kConnections; ++t) {
    threads.emplace_back([&] {
      auto c = server.Client(key);
      while (true) {
        int i = next.fetch_add(1);
        if (i >= buyers) return;
        HttpResult r =
            c->Send("POST", "/v1/orders", bj::serialize(Buy(prefix + std::to_string(i), lines)));
        if (!r.ok()) {
          std::lock_guard lock(out->mu);
          out->unexpected.push_back("transport: " + r.error_message);
          continue;
        }
        const HttpResponse& resp = *r.response;
        if (resp.status == 201) {
          ++out->created;
          std::string id = Str(Obj(resp), "id");
          {
            std::lock_guard lock(out->mu);
            out->created_ids.push_back(id);
          }
          if (after_create) after_create(*c, id);
        } else if (resp.status == 409 && CheckProblem(resp, 409, "out_of_stock").empty()) {
          ++out->out_of_stock;
        } else {
          ++out->other;
          std::lock_guard lock(out->mu);
          out->unexpected.push_back(resp.Describe());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
}

class InventoryRaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    admin_ = CreateKey(server_.data_dir(), "admin", "root");
    ASSERT_FALSE(admin_.key.empty());
    admin_client_ = server_.Client(admin_.key);
  }
  TestServer server_;
  ApiKey admin_;
  std::unique_ptr<HttpClient> admin_client_;
};

TEST_F(InventoryRaceTest, TenThousandBuyersOfOneHundredUnitsGetExactlyOneHundredOrders) {
  SetStock(*admin_client_, "PURIFIER", 100);
  RushResult r;
  Rush(server_, admin_.key, "FS-", 10000, {{"PURIFIER", 1}}, &r);
  for (const auto& u : r.unexpected) ADD_FAILURE() << u;
  EXPECT_EQ(r.created.load(), 100);
  EXPECT_EQ(r.out_of_stock.load(), 9900);
  bj::object s = Stock(*admin_client_, "PURIFIER");
  EXPECT_EQ(Int(s, "reserved") + Int(s, "sold"), 100);
  EXPECT_EQ(Int(s, "available"), 0);
}

TEST_F(InventoryRaceTest, MultiLineOrdersOverThreeHotSkusReserveAllOrNothing) {
  SetStock(*admin_client_, "HOT-A", 100);
  SetStock(*admin_client_, "HOT-B", 60);
  SetStock(*admin_client_, "HOT-C", 90, 10);  // 80 sellable
  RushResult r;
  Rush(server_, admin_.key, "ML-", 3000, {{"HOT-A", 1}, {"HOT-B", 1}, {"HOT-C", 1}}, &r);
  for (const auto& u : r.unexpected) ADD_FAILURE() << u;
  EXPECT_EQ(r.created.load(), 60);  // HOT-B runs out first; nobody holds a partial order
  for (const char* sku : {"HOT-A", "HOT-B", "HOT-C"}) {
    EXPECT_EQ(Int(Stock(*admin_client_, sku), "reserved"), 60) << sku;
  }
}

TEST_F(InventoryRaceTest, CancelsRacingCreatesReturnStockAndNeverOversell) {
  SetStock(*admin_client_, "RACE", 50);
  std::atomic<int> cancelled{0};
  RushResult r;
  // Every third successful buyer cancels at once, handing the unit back to the rush.
  Rush(server_, admin_.key, "CX-", 4000, {{"RACE", 1}}, &r,
       [&](HttpClient& c, const std::string& id) {
         if (id.back() % 3 != 0) return;
         HttpResponse t = c.Post("/v1/orders/" + id + "/transitions",
                                 std::string(R"({"to": "cancelled", "expected_version": 1})"));
         if (t.status == 200) ++cancelled;
       });
  for (const auto& u : r.unexpected) ADD_FAILURE() << u;
  EXPECT_GT(cancelled.load(), 0);
  EXPECT_EQ(r.created.load() - cancelled.load(), 50);  // every unit ends up held exactly once
  bj::object s = Stock(*admin_client_, "RACE");
  EXPECT_EQ(Int(s, "reserved"), 50);
  EXPECT_EQ(Int(s, "available"), 0);
}

TEST_F(InventoryRaceTest, TransitionsMoveStockAndStockCannotDropBelowCommitments) {
  SetStock(*admin_client_, "FLOW", 10, 2);
  auto create = [&](const std::string& coid, int64_t qty) {
    HttpResponse r = admin_client_->Post("/v1/orders", Buy(coid, {{"FLOW", qty}}));
    EXPECT_EQ(r.status, 201) << r.Describe();
    return Str(Obj(r), "id");
  };
  auto move = [&](const std::string& id, const char* to) {
    HttpResponse r = admin_client_->Post("/v1/orders/" + id + "/transitions",
                                         std::string(R"({"to": ")") + to + "\"}");
    EXPECT_EQ(r.status, 200) << to << ": " << r.Describe();
  };
  std::string shipped = create("F-1", 3);
  std::string cancelled = create("F-2", 2);
  std::string refunded = create("F-3", 1);
  HttpResponse too_many = admin_client_->Post("/v1/orders", Buy("F-4", {{"FLOW", 3}}));
  EXPECT_TRUE(CheckProblem(too_many, 409, "out_of_stock").empty()) << too_many.Describe();
  for (const char* to : {"paid", "packed", "shipped"}) move(shipped, to);
  move(cancelled, "cancelled");
  for (const char* to : {"paid", "refunding", "refunded"}) move(refunded, to);
  bj::object s = Stock(*admin_client_, "FLOW");
  EXPECT_EQ(Int(s, "sold"), 3);
  EXPECT_EQ(Int(s, "reserved"), 0);
  EXPECT_EQ(Int(s, "available"), 5);  // 10 - 3 sold - 2 buffer
  HttpResponse lower =
      admin_client_->Put("/v1/inventory/FLOW", R"({"on_hand": 4, "safety_buffer": 2})");
  EXPECT_TRUE(CheckProblem(lower, 409, "stock_committed").empty()) << lower.Describe();
  HttpResponse restock = admin_client_->Put("/v1/inventory/FLOW", R"({"on_hand": 50})");
  EXPECT_EQ(restock.status, 200) << restock.Describe();
  EXPECT_EQ(Int(Obj(restock), "available"), 47);
  EXPECT_EQ(admin_client_->Get("/v1/inventory/NEVER-STOCKED").status, 404);
  auto finance = CreateKey(server_.data_dir(), "finance", "f");
  EXPECT_EQ(server_.Client(finance.key)->Put("/v1/inventory/FLOW", R"({"on_hand": 1})").status,
            403);
}

TEST_F(InventoryRaceTest, KillDuringTheRushKeepsStockEqualToTheOrdersOnDisk) {
  SetStock(*admin_client_, "CRASH", 300);
  RushResult r;
  std::thread killer([&] {
    WaitFor([&] { return r.created.load() >= 120; }, std::chrono::seconds(30),
            std::chrono::milliseconds(1));
    server_.Kill();
  });
  Rush(server_, admin_.key, "K-", 2000, {{"CRASH", 1}}, &r);
  killer.join();
  ASSERT_TRUE(server_.Start());
  // Every acknowledged order survived, and stock agrees exactly with the orders on disk.
  auto c = server_.Client(admin_.key);
  for (const auto& id : r.created_ids) EXPECT_EQ(c->Get("/v1/orders/" + id).status, 200) << id;
  bj::object s = Stock(*c, "CRASH");
  ASSERT_TRUE(server_.Stop().has_value());
  SqliteReader db(server_.db_path());
  ASSERT_TRUE(db.ok());
  int64_t on_disk = db.Scalar(
      "SELECT count(*) FROM orders o JOIN order_lines l ON l.order_seq = o.seq "
      "WHERE l.sku = 'CRASH' AND o.status = 'pending_payment'");
  EXPECT_EQ(Int(s, "reserved"), on_disk);
  EXPECT_GE(on_disk, static_cast<int64_t>(r.created_ids.size()));
  EXPECT_LE(Int(s, "reserved") + Int(s, "sold"), 300);
  EXPECT_EQ(db.Scalar("SELECT reserved FROM inventory WHERE sku = 'CRASH'"), on_disk);
}

// Checkout holds are written in multi-row statements at the end of each batch and numbered by
// the writer: a kill -9 mid-rush must keep every acknowledged hold, stock equal to the holds on
// disk, and new holds after the restart numbered past the old ones.
TEST_F(InventoryRaceTest, KillDuringAHoldRushKeepsEveryAcknowledgedHoldAndItsStock) {
  SetStock(*admin_client_, "HOLDCRASH", 300);
  ApiKey channel = CreateKey(server_.data_dir(), "channel", "douyin-shop", "douyin");
  ASSERT_FALSE(channel.key.empty());
  std::atomic<int> acknowledged{0};
  std::atomic<int> next{0};
  std::mutex mu;
  std::vector<std::string> held;
  std::thread killer([&] {
    WaitFor([&] { return acknowledged.load() >= 120; }, std::chrono::seconds(30),
            std::chrono::milliseconds(1));
    server_.Kill();
  });
  std::vector<std::thread> buyers;
  for (int t = 0; t < kConnections; ++t) {
    buyers.emplace_back([&] {
      auto c = server_.Client(channel.key);
      while (next.fetch_add(1) < 2000) {
        HttpResult r =
            c->Send("POST", "/v1/reservations", R"({"lines": [{"sku": "HOLDCRASH", "qty": 1}]})");
        if (!r.ok() || r.response->status != 201) continue;  // refused, or cut off by the kill
        std::lock_guard lock(mu);
        held.push_back(Str(Obj(*r.response), "id"));
        ++acknowledged;
      }
    });
  }
  for (auto& b : buyers) b.join();
  killer.join();
  ASSERT_GE(held.size(), 120u);
  ASSERT_TRUE(server_.Start());
  auto c = server_.Client(channel.key);
  for (const auto& id : held) {
    HttpResponse got = c->Get("/v1/reservations/" + id);
    EXPECT_EQ(got.status, 200) << id << ": " << got.Describe();
    if (got.status == 200) {
      EXPECT_EQ(Str(Obj(got), "status"), "active") << id;
    }
  }
  // A hold placed after the restart is numbered past every one before it, and works.
  HttpResponse fresh =
      c->Post("/v1/reservations", std::string(R"({"lines": [{"sku": "HOLDCRASH", "qty": 1}]})"));
  ASSERT_EQ(fresh.status, 201) << fresh.Describe();
  std::string fresh_id = Str(Obj(fresh), "id");
  HttpResponse released = c->Request("DELETE", "/v1/reservations/" + held.front(), "");
  EXPECT_EQ(released.status, 200) << released.Describe();
  auto admin = server_.Client(admin_.key);
  bj::object s = Stock(*admin, "HOLDCRASH");
  ASSERT_TRUE(server_.Stop().has_value());
  SqliteReader db(server_.db_path());
  ASSERT_TRUE(db.ok());
  int64_t active = db.Scalar(
      "SELECT coalesce(sum(json_extract(lines, '$[0].qty')), 0) FROM reservations "
      "WHERE state = 'active'");
  EXPECT_EQ(Int(s, "reserved"), active);
  EXPECT_EQ(db.Scalar("SELECT reserved FROM inventory WHERE sku = 'HOLDCRASH'"), active);
  EXPECT_GE(active, static_cast<int64_t>(held.size()));  // acknowledged ones, minus one released,
                                                         // plus the fresh one, plus in flight
  EXPECT_LE(active, 300);
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM reservations WHERE id = '" + fresh_id +
                      "' AND no = (SELECT max(no) FROM reservations)"),
            1);
}

}  // namespace
}  // namespace oc::itest
