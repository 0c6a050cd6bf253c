// Role views on webhook subscriptions (issue 5, events per subscription scope) against the real
// orderd over HTTP, with real receivers on 127.0.0.1: each viewed subscriber gets, with every
// event, the order exactly as an API key of that role sees it (same fields, same masking), no
// plaintext personal data it is not granted, a channel view only its channel's orders, and a
// subscriber without a view no order at all. Also: what POST /v1/subscriptions refuses, what
// GET shows, and that a view survives a restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "integration/itest_util.h"
#include "integration/orderd_harness.h"
#include "integration/webhook_receiver.h"

namespace oc::itest {
namespace {

namespace bj = boost::json;
using std::chrono::seconds;

constexpr const char* kSecret = "integration-test-secret-0123456789";

// Every event object in the receiver's 2xx-answered requests, in arrival order.
std::vector<bj::object> Events(const std::vector<ReceivedRequest>& requests) {
  std::vector<bj::object> out;
  for (const auto& r : requests) {
    if (r.status < 200 || r.status >= 300) continue;
    bj::value v = bj::parse(r.body);
    for (const auto& e : v.at("events").as_array()) out.push_back(e.as_object());
  }
  return out;
}

std::set<std::string> EventIds(const std::vector<bj::object>& events) {
  std::set<std::string> ids;
  for (const auto& e : events) ids.insert(Str(e, "id"));
  return ids;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class WebhookViewsTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }

  void Start() {
    ASSERT_TRUE(server_.Start({"--allow-private-webhooks", "--webhook-retry-base-ms=20"}));
    if (admin_.key.empty()) {
      admin_ = CreateKey(server_.data_dir(), "admin", "root");
      douyin_ = CreateKey(server_.data_dir(), "channel", "dy", "douyin");
      taobao_ = CreateKey(server_.data_dir(), "channel", "tb", "taobao");
      warehouse_ = CreateKey(server_.data_dir(), "warehouse", "wms");
      finance_ = CreateKey(server_.data_dir(), "finance", "erp");
      ASSERT_FALSE(HasFailure());
    }
    admin_client_ = server_.Client(admin_.key);
  }

  HttpResponse PostSubscription(const std::string& url, const std::optional<bj::object>& view) {
    bj::object body{{"url", url},
                    {"events", bj::array{"order.created", "order.status_changed"}},
                    {"secret", kSecret},
                    {"max_per_minute", 60000},
                    {"batch_max", 50}};
    if (view) body["view"] = *view;
    return admin_client_->Post("/v1/subscriptions", bj::serialize(body));
  }

  std::string Subscribe(const std::string& url, const std::optional<bj::object>& view) {
    HttpResponse r = PostSubscription(url, view);
    EXPECT_EQ(r.status, 201) << r.Describe();
    return Str(Obj(r), "id");
  }

  // An order with every kind of personal data and an invoice, created and then paid by its
  // channel's key (two events: versions 1 and 2).
  std::string CreateAndPay(const ApiKey& key, const std::string& channel, const std::string& coid) {
    auto c = server_.Client(key.key);
    bj::object o = MakeOrder(channel, coid);
    o["invoice"] = bj::object{{"title", kPiiInvoiceTitle}, {"tax_id", kPiiTaxId}};
    HttpResponse r = c->Post("/v1/orders", o);
    EXPECT_EQ(r.status, 201) << r.Describe();
    std::string id = Str(Obj(r), "id");
    HttpResponse paid = c->Post("/v1/orders/" + id + "/transitions", TransitionBody("paid", 1));
    EXPECT_EQ(paid.status, 200) << paid.Describe();
    return id;
  }

  TestServer server_;
  ApiKey admin_, douyin_, taobao_, warehouse_, finance_;
  std::unique_ptr<HttpClient> admin_client_;
};

TEST_F(WebhookViewsTest, EachViewDeliversExactlyItsRolesApiViewAndNoPlaintextItMayNotSee) {
  WebhookReceiver admin_rx, warehouse_rx, finance_rx, douyin_rx, plain_rx;
  struct Viewer {
    std::string name;
    WebhookReceiver* rx;
    std::optional<bj::object> view;
    const ApiKey* key;  // the API key whose GET /v1/orders/{id} the view must equal
    std::string sub;
  };
  std::vector<Viewer> viewers = {
      {"admin", &admin_rx, bj::object{{"role", "admin"}}, &admin_, ""},
      {"warehouse", &warehouse_rx, bj::object{{"role", "warehouse"}}, &warehouse_, ""},
      {"finance", &finance_rx, bj::object{{"role", "finance"}}, &finance_, ""},
      {"channel", &douyin_rx, bj::object{{"role", "channel"}, {"channel", "douyin"}}, &douyin_, ""},
      {"none", &plain_rx, std::nullopt, nullptr, ""},
  };
  for (auto& v : viewers) {
    v.sub = Subscribe(v.rx->Url(), v.view);
    ASSERT_FALSE(v.sub.empty()) << v.name;
  }

  std::vector<std::string> douyin_orders, taobao_orders;
  for (int i = 0; i < 2; ++i) {
    douyin_orders.push_back(CreateAndPay(douyin_, "douyin", "VIEW-DY-" + std::to_string(i)));
    taobao_orders.push_back(CreateAndPay(taobao_, "taobao", "VIEW-TB-" + std::to_string(i)));
  }
  ASSERT_FALSE(HasFailure());
  std::set<std::string> all_orders(douyin_orders.begin(), douyin_orders.end());
  all_orders.insert(taobao_orders.begin(), taobao_orders.end());

  // Every subscriber has taken everything it will get once its cursor is at the end of the
  // outbox: for the channel view that proves the other channel's events were passed over, not
  // merely late.
  for (auto& v : viewers) {
    size_t expected = v.name == "channel" ? 4 : 8;
    ASSERT_TRUE(
        v.rx->WaitFor([&](const auto& rs) { return Events(rs).size() >= expected; }, seconds(30)))
        << v.name << ": " << Events(v.rx->Requests()).size() << " events";
    bj::object sub;
    EXPECT_TRUE(WaitFor(
        [&] {
          HttpResponse got = admin_client_->Get("/v1/subscriptions/" + v.sub);
          sub = Obj(got);
          return got.status == 200 && Int(sub, "stats.queue_depth") == 0;
        },
        seconds(10)))
        << v.name << ": " << bj::serialize(sub);
  }

  for (auto& v : viewers) {
    SCOPED_TRACE(v.name);
    auto requests = v.rx->Requests();
    auto events = Events(requests);
    EXPECT_EQ(EventIds(events).size(), v.name == "channel" ? 4u : 8u);
    for (const auto& r : requests) {
      EXPECT_TRUE(
          VerifyOrderCenterSignature(r.headers.at("x-ordercenter-signature"), kSecret, r.body));
      // Never in any body: these no role sees in plaintext outside the audited reveal.
      EXPECT_FALSE(Contains(r.body, kPiiPhone));
      EXPECT_FALSE(Contains(r.body, kPiiName));
      EXPECT_FALSE(Contains(r.body, kPiiIdNumber));
      // Only the warehouse ships to the full address; only finance issues invoices.
      EXPECT_EQ(Contains(r.body, kPiiDetail), v.name == "warehouse");
      EXPECT_EQ(Contains(r.body, kPiiInvoiceTitle), v.name == "finance");
      EXPECT_EQ(Contains(r.body, kPiiTaxId), v.name == "finance");
    }
    if (!v.view) {
      for (const auto& e : events) EXPECT_FALSE(e.contains("order")) << bj::serialize(e);
      std::set<std::string> seen;
      for (const auto& e : events) seen.insert(Str(e, "order_id"));
      EXPECT_EQ(seen, all_orders);
      continue;
    }
    // The role's API view of every order, now that nothing changes any more (version 2, paid).
    auto client = server_.Client(v.key->key);
    std::map<std::string, std::map<std::string, std::string>> api;
    for (const auto& id : all_orders) {
      HttpResponse got = client->Get("/v1/orders/" + id);
      if (v.name == "channel" &&
          std::find(taobao_orders.begin(), taobao_orders.end(), id) != taobao_orders.end()) {
        EXPECT_EQ(got.status, 404) << got.Describe();  // another channel's order
        continue;
      }
      ASSERT_EQ(got.status, 200) << got.Describe();
      api[id] = FlattenView(Obj(got));
    }
    std::map<std::string, std::map<std::string, std::string>> last;  // order -> last delivered
    std::set<std::string> seen;
    for (const auto& e : events) {
      std::string id = Str(e, "order_id");
      seen.insert(id);
      ASSERT_TRUE(e.contains("order") && e.at("order").is_object()) << bj::serialize(e);
      ASSERT_TRUE(api.contains(id)) << "an order outside the view: " << bj::serialize(e);
      auto delivered = FlattenView(e.at("order").as_object());
      // The same fields as the API gives this role, whatever state the order was in when the
      // body was built (rendering happens at delivery time, so order.created may already show
      // it paid); where the role sees the version, it is at least the event's.
      EXPECT_EQ(KeysOf(delivered), KeysOf(api[id])) << bj::serialize(e);
      EXPECT_EQ(delivered["id"], id);
      if (delivered.contains("version")) {
        EXPECT_GE(std::stoll(delivered["version"]), Int(e, "order_version"));
      }
      last[id] = delivered;
    }
    EXPECT_EQ(seen.size(), api.size());
    // Each order's last event (paid) was rendered after that change: the very same view,
    // masked values included, as GET /v1/orders/{id} with a key of that role.
    for (const auto& [id, view] : last) EXPECT_EQ(view, api[id]) << id;
    if (v.name == "channel") {
      for (const auto& e : events) EXPECT_EQ(Str(e, "channel"), "douyin") << bj::serialize(e);
      EXPECT_EQ(seen, std::set<std::string>(douyin_orders.begin(), douyin_orders.end()));
    }
  }

  // The view exists only in the outgoing bodies: the outbox at rest holds no order object.
  server_.Stop();
  SqliteReader db(server_.db_path());
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM outbox"), 8);
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM outbox WHERE payload LIKE '%\"order\":%' OR payload "
                      "LIKE '%customer%' OR payload LIKE '%****%'"),
            0);
}

TEST_F(WebhookViewsTest, SubscriptionsShowTheirViewAndBadViewsAreRefused) {
  WebhookReceiver rx;
  // Refused as business-invalid: views that make no sense for a machine, and channel misuse.
  for (const bj::object& view :
       {bj::object{{"role", "customer_service"}}, bj::object{{"role", "operations"}},
        bj::object{{"role", "root"}}, bj::object{{"role", "channel"}},
        bj::object{{"role", "channel"}, {"channel", ""}},
        bj::object{{"role", "finance"}, {"channel", "douyin"}}}) {
    HttpResponse r = PostSubscription(rx.Url(), view);
    EXPECT_EQ(CheckProblem(r, 422, "invalid_request"), "") << bj::serialize(view);
  }
  // Malformed: 400, naming the field.
  HttpResponse extra =
      PostSubscription(rx.Url(), bj::object{{"role", "admin"}, {"fields", bj::array{"phone"}}});
  EXPECT_EQ(CheckProblem(extra, 400, "invalid_request"), "");
  EXPECT_TRUE(Contains(extra.body, "view.fields")) << extra.Describe();
  HttpResponse no_role = PostSubscription(rx.Url(), bj::object{});
  EXPECT_EQ(CheckProblem(no_role, 400, "invalid_request"), "");
  EXPECT_TRUE(Contains(no_role.body, "view.role")) << no_role.Describe();
  HttpResponse not_object = admin_client_->Post(
      "/v1/subscriptions", bj::serialize(bj::object{{"url", rx.Url()},
                                                    {"events", bj::array{"order.created"}},
                                                    {"secret", kSecret},
                                                    {"view", "admin"}}));
  EXPECT_EQ(CheckProblem(not_object, 400, "invalid_request"), "");
  // Nothing refused was created.
  HttpResponse list = admin_client_->Get("/v1/subscriptions");
  ASSERT_EQ(list.status, 200) << list.Describe();
  EXPECT_EQ(Obj(list).at("items").as_array().size(), 0u);

  std::string plain = Subscribe(rx.Url(), std::nullopt);
  std::string finance = Subscribe(rx.Url(), bj::object{{"role", "finance"}});
  std::string douyin = Subscribe(rx.Url(), bj::object{{"role", "channel"}, {"channel", "douyin"}});
  ASSERT_FALSE(HasFailure());
  auto check = [&] {
    std::map<std::string, bj::object> by_id;
    HttpResponse all = admin_client_->Get("/v1/subscriptions");
    ASSERT_EQ(all.status, 200) << all.Describe();
    bj::object page = Obj(all);  // named: a range-for over a temporary's member dangles
    for (const auto& s : page.at("items").as_array()) {
      by_id[Str(s.as_object(), "id")] = s.as_object();
    }
    ASSERT_EQ(by_id.size(), 3u);
    EXPECT_FALSE(by_id[plain].contains("view"));
    EXPECT_EQ(bj::serialize(by_id[finance].at("view")), R"({"role":"finance"})");
    EXPECT_EQ(bj::serialize(by_id[douyin].at("view")), R"({"role":"channel","channel":"douyin"})");
    bj::object one = Obj(admin_client_->Get("/v1/subscriptions/" + douyin));
    EXPECT_EQ(bj::serialize(one.at("view")), R"({"role":"channel","channel":"douyin"})");
  };
  check();
  // Paged like every list: two pages of two and one, no id twice; bad paging is refused.
  HttpResponse first = admin_client_->Get("/v1/subscriptions?limit=2");
  ASSERT_EQ(first.status, 200) << first.Describe();
  bj::object first_page = Obj(first);
  ASSERT_EQ(first_page.at("items").as_array().size(), 2u);
  ASSERT_TRUE(first_page.at("next_cursor").is_string()) << first.body;
  HttpResponse second = admin_client_->Get("/v1/subscriptions?limit=2&cursor=" +
                                           std::string(first_page.at("next_cursor").as_string()));
  ASSERT_EQ(second.status, 200) << second.Describe();
  bj::object second_page = Obj(second);
  ASSERT_EQ(second_page.at("items").as_array().size(), 1u);
  EXPECT_TRUE(second_page.at("next_cursor").is_null());
  std::set<std::string> paged;
  for (const bj::object* p : {&first_page, &second_page}) {
    for (const auto& s : p->at("items").as_array()) paged.insert(Str(s.as_object(), "id"));
  }
  EXPECT_EQ(paged, (std::set<std::string>{plain, finance, douyin}));
  for (const char* bad : {"?limit=-1", "?limit=abc", "?cursor=zz", "?page=2"}) {
    EXPECT_EQ(CheckProblem(admin_client_->Get(std::string("/v1/subscriptions") + bad), 400,
                           "invalid_request"),
              "")
        << bad;
  }
  // Persisted: the same after a restart, and deliveries still carry the view.
  ASSERT_TRUE(server_.Stop().has_value());
  Start();
  check();
  CreateAndPay(douyin_, "douyin", "AFTER-RESTART");
  ASSERT_TRUE(rx.WaitFor(
      [&](const auto& rs) {
        size_t finance_events = 0;
        for (const auto& r : rs) {
          if (r.headers.at("x-ordercenter-subscription") != finance) continue;
          for (const auto& e : Events({r})) {
            finance_events += 1;
            if (!e.contains("order") || e.at("order").as_object().contains("customer"))
              return false;
          }
        }
        return finance_events >= 2;
      },
      seconds(30)));
}

}  // namespace
}  // namespace oc::itest
