// Checkout holds and oversell compensation against the real orderd over HTTP (issue 3): the
// hold lifecycle, holds racing conversions and releases over 64 connections with exact
// conservation, expiry while running and across a restart, and the oversold work list.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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

std::string HoldBody(const std::string& sku, int64_t qty, int64_t ttl_seconds = 900) {
  return bj::serialize(bj::object{{"lines", bj::array{bj::object{{"sku", sku}, {"qty", qty}}}},
                                  {"ttl_seconds", ttl_seconds}});
}

std::string OrderBody(const std::string& coid, const std::string& sku, int64_t qty,
                      const std::string& reservation_id = "", bool accept_oversell = false) {
  bj::object o = MakeOrder("douyin", coid, qty, 10000);
  o["lines"].as_array()[0].as_object()["sku"] = sku;
  if (!reservation_id.empty()) o["reservation_id"] = reservation_id;
  if (accept_oversell) o["accept_oversell"] = true;
  return bj::serialize(o);
}

class ReservationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    admin_ = CreateKey(server_.data_dir(), "admin", "root");
    douyin_ = CreateKey(server_.data_dir(), "channel", "dy", "douyin");
    ASSERT_FALSE(admin_.key.empty());
    ASSERT_FALSE(douyin_.key.empty());
    admin_client_ = server_.Client(admin_.key);
    channel_ = server_.Client(douyin_.key);
  }

  void SetStock(const std::string& sku, int64_t on_hand, const std::string& category = "") {
    bj::object body{{"on_hand", on_hand}};
    if (!category.empty()) body["category"] = category;
    HttpResponse r = admin_client_->Put("/v1/inventory/" + sku, bj::serialize(body));
    ASSERT_EQ(r.status, 200) << r.Describe();
  }
  bj::object Stock(const std::string& sku) {
    HttpResponse r = admin_client_->Get("/v1/inventory/" + sku);
    EXPECT_EQ(r.status, 200) << r.Describe();
    return Obj(r);
  }

  TestServer server_;
  ApiKey admin_;
  ApiKey douyin_;
  std::unique_ptr<HttpClient> admin_client_;
  std::unique_ptr<HttpClient> channel_;
};

TEST_F(ReservationsTest, HoldLifecycle) {
  SetStock("HOLD-SKU", 10);
  HttpResponse held = channel_->Post("/v1/reservations", HoldBody("HOLD-SKU", 4));
  ASSERT_EQ(held.status, 201) << held.Describe();
  bj::object hold = Obj(held);
  std::string id = Str(hold, "id");
  EXPECT_EQ(id.rfind("res_", 0), 0u) << id;
  EXPECT_EQ(Str(hold, "status"), "active");
  EXPECT_FALSE(Str(hold, "expires_at").empty());
  EXPECT_TRUE(hold.at("order_id").is_null());
  EXPECT_EQ(Int(Stock("HOLD-SKU"), "reserved"), 4);
  EXPECT_EQ(Int(Stock("HOLD-SKU"), "available"), 6);

  HttpResponse short_hold = channel_->Post("/v1/reservations", HoldBody("HOLD-SKU", 7));
  EXPECT_EQ(CheckProblem(short_hold, 409, "out_of_stock"), "");

  HttpResponse got = channel_->Get("/v1/reservations/" + id);
  ASSERT_EQ(got.status, 200) << got.Describe();
  EXPECT_EQ(Str(Obj(got), "status"), "active");

  // The order converts the hold: stock is not reserved a second time.
  HttpResponse order = channel_->Post("/v1/orders", OrderBody("DY-HOLD-1", "HOLD-SKU", 4, id));
  ASSERT_EQ(order.status, 201) << order.Describe();
  std::string order_id = Str(Obj(order), "id");
  EXPECT_EQ(Int(Stock("HOLD-SKU"), "reserved"), 4);
  bj::object converted = Obj(channel_->Get("/v1/reservations/" + id));
  EXPECT_EQ(Str(converted, "status"), "converted");
  EXPECT_EQ(Str(converted, "order_id"), order_id);

  // Double conversion and releasing a converted hold are refused.
  EXPECT_EQ(CheckProblem(channel_->Post("/v1/orders", OrderBody("DY-HOLD-2", "HOLD-SKU", 4, id)),
                         409, "reservation_converted"),
            "");
  EXPECT_EQ(CheckProblem(channel_->Request("DELETE", "/v1/reservations/" + id, ""), 409,
                         "reservation_converted"),
            "");

  // Release is idempotent.
  std::string other = Str(Obj(channel_->Post("/v1/reservations", HoldBody("HOLD-SKU", 5))), "id");
  EXPECT_EQ(Int(Stock("HOLD-SKU"), "reserved"), 9);
  for (int i = 0; i < 2; ++i) {
    HttpResponse rel = channel_->Request("DELETE", "/v1/reservations/" + other, "");
    ASSERT_EQ(rel.status, 200) << rel.Describe();
    EXPECT_EQ(Str(Obj(rel), "status"), "released");
    EXPECT_EQ(Int(Stock("HOLD-SKU"), "reserved"), 4);
  }
  EXPECT_EQ(CheckProblem(channel_->Post("/v1/orders", OrderBody("DY-HOLD-3", "HOLD-SKU", 5, other)),
                         409, "reservation_released"),
            "");
  EXPECT_EQ(CheckProblem(
                channel_->Post("/v1/orders", OrderBody("DY-HOLD-4", "HOLD-SKU", 1, "res_UNKNOWN")),
                422, "reservation_not_found"),
            "");

  // Scope: another channel cannot see or release douyin's holds; warehouse may not use them.
  ApiKey taobao = CreateKey(server_.data_dir(), "channel", "tb", "taobao");
  auto tb = server_.Client(taobao.key);
  EXPECT_EQ(CheckProblem(tb->Get("/v1/reservations/" + other), 404, "not_found"), "");
  EXPECT_EQ(CheckProblem(tb->Request("DELETE", "/v1/reservations/" + other, ""), 404, "not_found"),
            "");
  ApiKey wh = CreateKey(server_.data_dir(), "warehouse", "wh");
  auto w = server_.Client(wh.key);
  EXPECT_EQ(CheckProblem(w->Post("/v1/reservations", HoldBody("HOLD-SKU", 1)), 403, "forbidden"),
            "");
}

TEST_F(ReservationsTest, BadHoldRequestsGetClearErrors) {
  SetStock("HOLD-SKU", 10);
  struct Case {
    std::string body;
    int status;
    std::string code;
  };
  std::vector<Case> cases = {
      {"{", 400, "invalid_request"},
      {"[]", 400, "invalid_request"},
      {R"({})", 400, "invalid_request"},
      {R"({"lines": []})", 422, "invalid_request"},
      {R"({"lines": {}})", 400, "invalid_request"},
      {R"({"lines": [{"sku": "HOLD-SKU", "qty": 0}]})", 422, "invalid_request"},
      {R"({"lines": [{"sku": "HOLD-SKU", "qty": 1.5}]})", 400, "invalid_request"},
      {R"({"lines": [{"sku": "", "qty": 1}]})", 422, "invalid_request"},
      {R"({"lines": [{"sku": "HOLD-SKU", "qty": 1, "price": 3}]})", 400, "invalid_request"},
      {R"({"lines": [{"sku": "HOLD-SKU", "qty": 1}], "ttl_seconds": 0})", 422, "invalid_request"},
      {R"({"lines": [{"sku": "HOLD-SKU", "qty": 1}], "ttl_seconds": 604801})", 422,
       "invalid_request"},
      {R"({"lines": [{"sku": "HOLD-SKU", "qty": 1}], "ttl_seconds": "60"})", 400,
       "invalid_request"},
      {R"({"lines": [{"sku": "HOLD-SKU", "qty": 1}], "status": "converted"})", 400,
       "invalid_request"},
  };
  for (const Case& c : cases) {
    HttpResponse r = channel_->Post("/v1/reservations", c.body);
    EXPECT_EQ(CheckProblem(r, c.status, c.code), "") << c.body;
  }
  EXPECT_EQ(Int(Stock("HOLD-SKU"), "reserved"), 0);  // nothing was held by any of them
  EXPECT_EQ(
      CheckProblem(channel_->Request("DELETE", "/v1/reservations/res_NOPE", ""), 404, "not_found"),
      "");
  EXPECT_EQ(
      CheckProblem(channel_->Request("DELETE", "/v1/reservations/../etc", ""), 404, "not_found"),
      "");
  HttpResponse not_bool =
      channel_->Post("/v1/orders", std::string(R"({"channel":"douyin","channel_order_id":"X",
      "currency":"CNY","lines":[{"sku":"HOLD-SKU","qty":1,"unit_price":1}],"accept_oversell":"yes"})"));
  EXPECT_EQ(CheckProblem(not_bool, 400, "invalid_request"), "");
  HttpResponse put_oversold = admin_client_->Put("/v1/inventory/oversold", R"({"on_hand":1})");
  EXPECT_EQ(CheckProblem(put_oversold, 405, "method_not_allowed"), "");
}

// Buyers hold one unit each, then convert, release or abandon the hold, all at once over 64
// connections. Afterwards every unit is accounted for exactly: reserved stock equals the active
// holds plus the orders, and no conversion was ever refused for stock.
TEST_F(ReservationsTest, HoldsRacingConversionsAndReleasesConserveStock) {
  constexpr int kBuyers = 3000;
  constexpr int64_t kUnits = 500;
  SetStock("RACE-SKU", kUnits);
  std::atomic<int> next{0}, held{0}, short_of_stock{0}, converted{0}, released{0}, abandoned{0};
  std::mutex mu;
  std::vector<std::string> unexpected;
  auto note = [&](std::string what) {
    std::lock_guard lock(mu);
    unexpected.push_back(std::move(what));
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kConnections; ++t) {
    threads.emplace_back([&] {
      auto c = server_.Client(douyin_.key);
      while (true) {
        int i = next.fetch_add(1);
        if (i >= kBuyers) return;
        HttpResponse h = c->Post("/v1/reservations", HoldBody("RACE-SKU", 1));
        if (h.status == 409 && CheckProblem(h, 409, "out_of_stock").empty()) {
          ++short_of_stock;
          continue;
        }
        if (h.status != 201) {
          note("hold: " + h.Describe());
          continue;
        }
        ++held;
        std::string id = Str(Obj(h), "id");
        switch (i % 3) {
          case 0: {
            HttpResponse o =
                c->Post("/v1/orders", OrderBody("RACE-" + std::to_string(i), "RACE-SKU", 1, id));
            if (o.status == 201) {
              ++converted;
            } else {
              note("convert: " + o.Describe());
            }
            break;
          }
          case 1: {
            HttpResponse d = c->Request("DELETE", "/v1/reservations/" + id, "");
            if (d.status == 200) {
              ++released;
            } else {
              note("release: " + d.Describe());
            }
            break;
          }
          default:
            ++abandoned;  // left to expire (15 minutes: not during this test)
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& u : unexpected) ADD_FAILURE() << u;
  EXPECT_EQ(held + short_of_stock, kBuyers);
  EXPECT_GT(short_of_stock.load(), 0);  // the race really ran out of stock
  bj::object s = Stock("RACE-SKU");
  EXPECT_EQ(Int(s, "reserved"), converted + abandoned);
  EXPECT_LE(Int(s, "reserved"), kUnits);
  EXPECT_EQ(Int(s, "oversold"), 0);
  server_.Stop();
  SqliteReader db(server_.db_path());
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM reservations WHERE state = 'active'"),
            abandoned.load());
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM reservations WHERE state = 'converted'"),
            converted.load());
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM reservations WHERE state = 'released'"),
            released.load());
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM orders WHERE reservation_id != ''"), converted.load());
  EXPECT_EQ(db.Scalar("SELECT reserved FROM inventory WHERE sku = 'RACE-SKU'"),
            converted + abandoned);
}

TEST_F(ReservationsTest, HoldsExpireWhileRunningAndWhileTheServerIsDown) {
  SetStock("TTL-SKU", 10);
  // While running: the writer notices the clock by itself.
  std::string running =
      Str(Obj(channel_->Post("/v1/reservations", HoldBody("TTL-SKU", 2, 1))), "id");
  ASSERT_FALSE(running.empty());
  EXPECT_TRUE(
      WaitFor([&] { return Int(Stock("TTL-SKU"), "reserved") == 0; }, std::chrono::seconds(15)));
  EXPECT_EQ(Str(Obj(channel_->Get("/v1/reservations/" + running)), "status"), "expired");

  // While down: a 1 s hold, the server stopped before it expires and started after.
  HttpResponse h = channel_->Post("/v1/reservations", HoldBody("TTL-SKU", 3, 1));
  ASSERT_EQ(h.status, 201) << h.Describe();
  std::string down = Str(Obj(h), "id");
  std::string kept =
      Str(Obj(channel_->Post("/v1/reservations", HoldBody("TTL-SKU", 4, 3600))), "id");
  ASSERT_TRUE(server_.Stop().has_value());
  {
    SqliteReader db(server_.db_path());
    ASSERT_EQ(db.Scalar("SELECT reserved FROM inventory WHERE sku = 'TTL-SKU'"), 7);
    // Not a guess at timing: wait until the wall clock is past the hold's recorded expiry.
    int64_t expires_at = db.Scalar("SELECT expires_at FROM reservations WHERE id = '" + down + "'");
    ASSERT_GT(expires_at, 0);
    while (std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count() <= expires_at) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ASSERT_TRUE(server_.Start());
  admin_client_ = server_.Client(admin_.key);  // the restarted server has a new port
  channel_ = server_.Client(douyin_.key);
  // Released during start-up, before the server accepted its first request.
  EXPECT_EQ(Int(Stock("TTL-SKU"), "reserved"), 4);
  EXPECT_EQ(Str(Obj(channel_->Get("/v1/reservations/" + down)), "status"), "expired");
  EXPECT_EQ(Str(Obj(channel_->Get("/v1/reservations/" + kept)), "status"), "active");
  EXPECT_EQ(CheckProblem(channel_->Post("/v1/orders", OrderBody("DY-LATE", "TTL-SKU", 3, down)),
                         409, "reservation_expired"),
            "");
}

TEST_F(ReservationsTest, OversoldChannelOrdersAreAcceptedFlaggedAndListedWithRemedies) {
  SetStock("PURIFIER-OS", 2, "air");
  SetStock("PURIFIER-ALT", 40, "air");
  SetStock("KETTLE-OS", 99, "kitchen");
  ASSERT_EQ(channel_->Post("/v1/orders", OrderBody("DY-OS-0", "PURIFIER-OS", 2)).status, 201);
  // Without the flag: refused. With it: accepted, flagged, evented, listed.
  EXPECT_EQ(CheckProblem(channel_->Post("/v1/orders", OrderBody("DY-OS-1", "PURIFIER-OS", 3)), 409,
                         "out_of_stock"),
            "");
  HttpResponse accepted =
      channel_->Post("/v1/orders", OrderBody("DY-OS-1", "PURIFIER-OS", 3, "", true));
  ASSERT_EQ(accepted.status, 201) << accepted.Describe();
  std::string id = Str(Obj(accepted), "id");
  bj::object as_admin = Obj(admin_client_->Get("/v1/orders/" + id));
  ASSERT_TRUE(as_admin.contains("risk_flags")) << bj::serialize(as_admin);
  EXPECT_EQ(bj::serialize(as_admin.at("risk_flags")), R"(["oversold"])");
  bj::object s = Stock("PURIFIER-OS");
  EXPECT_EQ(Int(s, "reserved"), 5);
  EXPECT_EQ(Int(s, "oversold"), 3);
  EXPECT_EQ(Int(s, "available"), 0);

  ApiKey ops = CreateKey(server_.data_dir(), "operations", "ops");
  auto o = server_.Client(ops.key);
  HttpResponse list = o->Get("/v1/inventory/oversold");
  ASSERT_EQ(list.status, 200) << list.Describe();
  bj::object page = Obj(list);
  const bj::array& items = page.at("items").as_array();
  ASSERT_EQ(items.size(), 1u) << list.body;
  const bj::object& item = items[0].as_object();
  // Operations sees no single order: the case without the order's identity. Admin sees it.
  for (const char* field : {"order_id", "channel_order_id", "status"}) {
    EXPECT_FALSE(item.contains(field)) << field << " in " << bj::serialize(item);
  }
  EXPECT_EQ(Str(item, "channel"), "douyin");
  HttpResponse admin_list = admin_client_->Get("/v1/inventory/oversold");
  ASSERT_EQ(admin_list.status, 200) << admin_list.Describe();
  bj::object admin_page = Obj(admin_list);
  const bj::object& admin_item = admin_page.at("items").as_array().at(0).as_object();
  EXPECT_EQ(Str(admin_item, "order_id"), id);
  EXPECT_EQ(Str(admin_item, "channel_order_id"), "DY-OS-1");
  EXPECT_EQ(Str(admin_item, "status"), "pending_payment");
  EXPECT_EQ(bj::serialize(admin_item.at("remedies")), bj::serialize(item.at("remedies")));
  EXPECT_EQ(Int(item.at("lines").as_array()[0].as_object(), "still_short"), 3);
  std::map<std::string, bj::object> remedies;
  for (const auto& r : item.at("remedies").as_array()) {
    remedies[Str(r.as_object(), "kind")] = r.as_object();
  }
  ASSERT_EQ(remedies.size(), 3u) << bj::serialize(item);
  EXPECT_EQ(Int(remedies["restock"], "qty"), 3);
  EXPECT_EQ(Int(remedies["restock"], "queue_position"), 1);
  EXPECT_EQ(Str(remedies["substitute"], "substitute_sku"), "PURIFIER-ALT");  // not the kettle
  EXPECT_EQ(Int(remedies["coupon"], "amount"), 3000);                        // 10% of 3 x 100.00
  EXPECT_EQ(Str(remedies["coupon"], "currency"), "CNY");

  // The event is in the outbox, in the same transaction as the order.
  {
    SqliteReader db(server_.db_path());
    EXPECT_EQ(db.Scalar("SELECT count(*) FROM outbox WHERE type = 'inventory.oversold' AND "
                        "order_id = '" +
                        id + "'"),
              1);
  }
  // Warehouse and channels do not get the work list.
  EXPECT_EQ(CheckProblem(channel_->Get("/v1/inventory/oversold"), 403, "forbidden"), "");
  // A restock covers it: the case leaves the list.
  SetStock("PURIFIER-OS", 10, "air");
  EXPECT_EQ(Int(Stock("PURIFIER-OS"), "oversold"), 0);
  HttpResponse after = o->Get("/v1/inventory/oversold");
  ASSERT_EQ(after.status, 200);
  EXPECT_TRUE(Obj(after).at("items").as_array().empty()) << after.body;
}

}  // namespace
}  // namespace oc::itest
