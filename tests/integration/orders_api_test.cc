// Orders API against the real orderd: create/get/list, the status machine over HTTP, optimistic
// concurrency, assignment, idempotency, (channel, channel_order_id) uniqueness, role checks and
// field visibility (API.md). Every test runs its own orderd on a fresh temp dir.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "integration/itest_util.h"
#include "integration/orderd_harness.h"

namespace oc::itest {
namespace {

namespace bj = boost::json;

constexpr const char* kPhone = "13812345678";
constexpr const char* kIdNumber = "110101199003071234";

class OrdersApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    // Keys are created while orderd runs on the same dir (API.md: "works while orderd runs").
    admin_key_ = CreateKey(server_.data_dir(), "admin", "root");
    douyin_key_ = CreateKey(server_.data_dir(), "channel", "douyin-shop", "douyin");
    taobao_key_ = CreateKey(server_.data_dir(), "channel", "taobao-shop", "taobao");
    ASSERT_FALSE(HasFailure());
    admin_ = server_.Client(admin_key_.key);
    douyin_ = server_.Client(douyin_key_.key);
    taobao_ = server_.Client(taobao_key_.key);
  }

  void TearDown() override {
    if (server_.process().running()) {
      // The server must still be up after every test (nothing crashed it).
      EXPECT_FALSE(server_.process().HasExited()) << "orderd died during the test:\n"
                                                  << server_.process().LogTail();
    }
  }

  ApiKey Key(const std::string& role, const std::string& channel = "") {
    return CreateKey(server_.data_dir(), role, role + "-user", channel);
  }

  // Creates an order and returns its JSON; records a failure unless the status is `expect`.
  bj::object Create(HttpClient& c, const bj::object& body, int expect = 201,
                    const Headers& h = {}) {
    HttpResponse r = c.Post("/v1/orders", body, h);
    EXPECT_EQ(r.status, expect) << r.Describe();
    if (r.status == 200 || r.status == 201) {
      EXPECT_EQ(r.ContentType(), "application/json") << r.Describe();
    }
    return Obj(r);
  }

  HttpResponse Move(HttpClient& c, const std::string& id, const std::string& to,
                    int64_t expected_version, const Headers& h = {}) {
    return c.Request("POST", "/v1/orders/" + id + "/transitions",
                     TransitionBody(to, expected_version), h);
  }

  // Moves and checks 200 with the new status and version; returns the new version.
  int64_t MoveOk(HttpClient& c, const std::string& id, const std::string& to, int64_t version) {
    HttpResponse r = Move(c, id, to, version);
    EXPECT_EQ(r.status, 200) << "move " << id << " to " << to << ": " << r.Describe();
    bj::object o = Obj(r);
    EXPECT_EQ(Str(o, "status"), to) << r.Describe();
    if (!o.empty() && o.contains("version")) {
      EXPECT_EQ(Int(o, "version"), version + 1) << r.Describe();
    }
    return version + 1;
  }

  bj::object GetOrder(HttpClient& c, const std::string& id, int expect = 200) {
    HttpResponse r = c.Get("/v1/orders/" + id);
    EXPECT_EQ(r.status, expect) << "GET " << id << ": " << r.Describe();
    return Obj(r);
  }

  TestServer server_;
  ApiKey admin_key_, douyin_key_, taobao_key_;
  std::unique_ptr<HttpClient> admin_, douyin_, taobao_;
};

TEST_F(OrdersApiTest, CreateReturns201AndGetAgrees) {
  HttpResponse r = admin_->Post("/v1/orders", MakeOrder("douyin", "DY-1", 2, 129900));
  ASSERT_EQ(r.status, 201) << r.Describe();
  EXPECT_EQ(r.ContentType(), "application/json");
  bj::object o = Obj(r);
  std::string id = Str(o, "id");
  ASSERT_FALSE(id.empty()) << r.Describe();
  EXPECT_EQ(Str(o, "status"), "pending_payment");
  EXPECT_EQ(Int(o, "version"), 1);
  EXPECT_EQ(Str(o, "channel"), "douyin");
  EXPECT_EQ(Str(o, "channel_order_id"), "DY-1");
  EXPECT_EQ(Int(o, "total"), 2 * 129900);
  EXPECT_EQ(Str(o, "currency"), "CNY");
  EXPECT_EQ(Str(o, "payment_method"), "wechat_pay");
  ASSERT_TRUE(At(o, "lines") && At(o, "lines")->is_array()) << r.Describe();
  ASSERT_EQ(At(o, "lines")->get_array().size(), 1u);
  const bj::object& line = At(o, "lines")->get_array()[0].get_object();
  EXPECT_EQ(Str(line, "sku"), "AIR-PURIFIER-X1");
  EXPECT_EQ(Int(line, "qty"), 2);
  EXPECT_EQ(Int(line, "unit_price"), 129900);
  for (const char* t : {"created_at", "updated_at"}) {
    std::string ts = Str(o, t);
    EXPECT_TRUE(ts.size() >= 20 && ts.back() == 'Z' && ts[4] == '-' && ts[10] == 'T')
        << t << " is not an RFC 3339 UTC time: '" << ts << "'";
  }

  bj::object g = GetOrder(*admin_, id);
  EXPECT_EQ(Str(g, "id"), id);
  EXPECT_EQ(Str(g, "status"), "pending_payment");
  EXPECT_EQ(Int(g, "version"), 1);
  EXPECT_EQ(Int(g, "total"), 2 * 129900);
  EXPECT_EQ(Str(g, "channel_order_id"), "DY-1");

  HttpResponse missing = admin_->Get("/v1/orders/ord_does_not_exist");
  EXPECT_EQ(CheckProblem(missing, 404, "not_found"), "");
}

TEST_F(OrdersApiTest, AdminSeesMaskedPiiNeverPlaintext) {
  HttpResponse created = admin_->Post("/v1/orders", MakeOrder("douyin", "DY-PII"));
  ASSERT_EQ(created.status, 201) << created.Describe();
  std::string id = Str(Obj(created), "id");
  HttpResponse got = admin_->Get("/v1/orders/" + id);
  ASSERT_EQ(got.status, 200) << got.Describe();
  int pages = 0;
  auto listed = ListAll(*admin_, "", 50, &pages);
  ASSERT_EQ(listed.size(), 1u);

  std::vector<std::pair<std::string, bj::object>> views = {
      {"create", Obj(created)}, {"get", Obj(got)}, {"list", listed[0]}};
  for (const auto& [what, o] : views) {
    SCOPED_TRACE(what);
    EXPECT_EQ(Str(o, "customer.phone"), "138****5678") << bj::serialize(o);
    std::string idn = Str(o, "customer.id_number");
    if (At(o, "customer.id_number")) {
      EXPECT_EQ(idn.size(), 18u) << idn;
      EXPECT_EQ(idn.substr(0, 6), "110101") << idn;
      EXPECT_EQ(idn.substr(idn.size() >= 2 ? idn.size() - 2 : 0), "34") << idn;
      EXPECT_NE(idn, kIdNumber);
    }
    EXPECT_NE(Str(o, "customer.name"), "李四") << "admin saw the plaintext name";
    std::string s = bj::serialize(o);
    EXPECT_EQ(s.find(kPhone), std::string::npos) << what << " leaked the phone: " << s;
    EXPECT_EQ(s.find(kIdNumber), std::string::npos) << what << " leaked the id number: " << s;
  }
  for (const HttpResponse* r : {&created, &got}) {
    EXPECT_EQ(r->body.find(kPhone), std::string::npos) << r->body;
    EXPECT_EQ(r->body.find("李四"), std::string::npos) << r->body;
  }
}

// DESIGN.md invariant: no plaintext phone, name or ID number in the database file.
TEST_F(OrdersApiTest, DatabaseFilesHoldNoPlaintextPii) {
  for (int i = 0; i < 3; ++i) Create(*admin_, MakeOrder("douyin", "DY-DB-" + std::to_string(i)));
  auto st = server_.Stop();
  ASSERT_TRUE(st.has_value());
  for (const auto& entry : std::filesystem::directory_iterator(server_.data_dir())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string bytes = ss.str();
    EXPECT_EQ(bytes.find(kPhone), std::string::npos)
        << entry.path() << " holds the plaintext phone";
    EXPECT_EQ(bytes.find(kIdNumber), std::string::npos)
        << entry.path() << " holds the plaintext id number";
    EXPECT_EQ(bytes.find("李四"), std::string::npos) << entry.path() << " holds the plaintext name";
    EXPECT_EQ(bytes.find("文三路 1 号"), std::string::npos)
        << entry.path() << " holds the plaintext address detail";
  }
  std::string log = server_.process().LogTail(size_t{1} << 30);
  EXPECT_EQ(log.find(kPhone), std::string::npos) << "orderd's log holds the plaintext phone";
  EXPECT_EQ(log.find(kIdNumber), std::string::npos) << "orderd's log holds the id number";
}

TEST_F(OrdersApiTest, ListCursorPagingWalksEveryOrderOnce) {
  std::set<std::string> created, douyin_ids;
  for (int i = 0; i < 55; ++i) {
    std::string ch = i % 3 == 0 ? "taobao" : "douyin";
    bj::object o = Create(*admin_, MakeOrder(ch, "PAGE-" + std::to_string(i)));
    std::string id = Str(o, "id");
    ASSERT_FALSE(id.empty());
    created.insert(id);
    if (ch == "douyin") douyin_ids.insert(id);
  }
  ASSERT_EQ(created.size(), 55u) << "ids are not unique";

  for (int limit : {1, 5, 7, 50, 500}) {
    SCOPED_TRACE("limit=" + std::to_string(limit));
    int pages = 0;
    auto items = ListAll(*admin_, "", limit, &pages);
    std::set<std::string> seen;
    for (const auto& it : items) {
      EXPECT_TRUE(seen.insert(Str(it, "id")).second) << "duplicate " << Str(it, "id");
    }
    EXPECT_EQ(seen, created);
    int want = (55 + limit - 1) / limit;
    EXPECT_GE(pages, want);
    EXPECT_LE(pages, want + 1) << "unexpected page count";
  }

  // Default limit is 50.
  HttpResponse def = admin_->Get("/v1/orders");
  ASSERT_EQ(def.status, 200) << def.Describe();
  bj::object page = Obj(def);
  ASSERT_TRUE(At(page, "items") && At(page, "items")->is_array());
  EXPECT_EQ(At(page, "items")->get_array().size(), 50u);
  ASSERT_TRUE(At(page, "next_cursor"));
  EXPECT_TRUE(At(page, "next_cursor")->is_string()) << "55 orders, default limit 50: more pages";

  // Above the maximum: either refused as invalid or clamped to 500.
  HttpResponse big = admin_->Get("/v1/orders?limit=100000");
  if (big.status == 200) {
    bj::object b = Obj(big);
    ASSERT_TRUE(At(b, "items") && At(b, "items")->is_array());
    EXPECT_LE(At(b, "items")->get_array().size(), 500u);
  } else {
    EXPECT_EQ(CheckProblem(big, 400, "invalid_request"), "");
  }

  // Filters: channel and status.
  auto dy = ListAll(*admin_, "channel=douyin", 10);
  std::set<std::string> dy_seen;
  for (const auto& it : dy) {
    EXPECT_EQ(Str(it, "channel"), "douyin");
    dy_seen.insert(Str(it, "id"));
  }
  EXPECT_EQ(dy_seen, douyin_ids);

  std::set<std::string> paid;
  for (const auto& id : created) {
    if (paid.size() == 4) break;
    MoveOk(*admin_, id, "paid", 1);
    paid.insert(id);
  }
  auto paid_items = ListAll(*admin_, "status=paid", 3);
  std::set<std::string> paid_seen;
  for (const auto& it : paid_items) {
    EXPECT_EQ(Str(it, "status"), "paid");
    paid_seen.insert(Str(it, "id"));
  }
  EXPECT_EQ(paid_seen, paid);

  // since= filters by creation time.
  EXPECT_TRUE(ListAll(*admin_, "since=2999-01-01T00:00:00Z", 50).empty());
  EXPECT_EQ(ListAll(*admin_, "since=2000-01-01T00:00:00Z", 50).size(), 55u);
  // An offset written as it is: '+' in a query is a plus sign, not a space (RFC 3986). Before,
  // "+08:00" read as " 08:00" and the request was refused.
  EXPECT_EQ(ListAll(*admin_, "since=2000-01-01T08:00:00+08:00", 50).size(), 55u);
  EXPECT_TRUE(ListAll(*admin_, "since=2999-01-01T08:00:00+08:00", 50).empty());
  HttpResponse audit = admin_->Get("/v1/audit?since=2000-01-01T08:00:00+08:00&limit=1");
  EXPECT_EQ(audit.status, 200) << audit.Describe();
}

TEST_F(OrdersApiTest, HappyPathThroughTheWholeLifecycle) {
  bj::object o = Create(*admin_, MakeOrder("douyin", "DY-LIFE"));
  std::string id = Str(o, "id");
  ASSERT_FALSE(id.empty());
  int64_t v = 1;
  for (const char* to : {"paid", "packed", "shipped", "delivered", "completed"}) {
    v = MoveOk(*admin_, id, to, v);
    bj::object g = GetOrder(*admin_, id);
    EXPECT_EQ(Str(g, "status"), to);
    EXPECT_EQ(Int(g, "version"), v);
  }
  // completed is terminal.
  for (const char* to : {"refunding", "cancelled", "paid", "delivered"}) {
    EXPECT_EQ(CheckProblem(Move(*admin_, id, to, v), 409, "invalid_transition"), "") << to;
  }
  EXPECT_EQ(Int(GetOrder(*admin_, id), "version"), v);
}

TEST_F(OrdersApiTest, RefundPathsAndRejectionGoBackToOrigin) {
  std::string id = Str(Create(*admin_, MakeOrder("douyin", "DY-REFUND")), "id");
  ASSERT_FALSE(id.empty());
  int64_t v = MoveOk(*admin_, id, "paid", 1);
  v = MoveOk(*admin_, id, "refunding", v);
  // Rejection goes back to where it came from (paid), nowhere else.
  EXPECT_EQ(CheckProblem(Move(*admin_, id, "packed", v), 409, "invalid_transition"), "");
  EXPECT_EQ(CheckProblem(Move(*admin_, id, "shipped", v), 409, "invalid_transition"), "");
  v = MoveOk(*admin_, id, "paid", v);
  v = MoveOk(*admin_, id, "packed", v);
  v = MoveOk(*admin_, id, "shipped", v);
  v = MoveOk(*admin_, id, "refunding", v);
  EXPECT_EQ(CheckProblem(Move(*admin_, id, "paid", v), 409, "invalid_transition"), "");
  v = MoveOk(*admin_, id, "shipped", v);
  v = MoveOk(*admin_, id, "refunding", v);
  v = MoveOk(*admin_, id, "refunded", v);
  for (const char* to : {"shipped", "refunding", "paid", "completed"}) {
    EXPECT_EQ(CheckProblem(Move(*admin_, id, to, v), 409, "invalid_transition"), "") << to;
  }
  bj::object g = GetOrder(*admin_, id);
  EXPECT_EQ(Str(g, "status"), "refunded");
  EXPECT_EQ(Int(g, "version"), v);

  // Cancellation from pending_payment, paid and packed; cancelled is terminal.
  for (int from = 0; from < 3; ++from) {
    std::string cid =
        Str(Create(*admin_, MakeOrder("douyin", "DY-CANCEL-" + std::to_string(from))), "id");
    int64_t cv = 1;
    const char* path[] = {"paid", "packed"};
    for (int i = 0; i < from; ++i) cv = MoveOk(*admin_, cid, path[i], cv);
    cv = MoveOk(*admin_, cid, "cancelled", cv);
    EXPECT_EQ(CheckProblem(Move(*admin_, cid, "paid", cv), 409, "invalid_transition"), "");
  }
  // shipped cannot be cancelled.
  std::string sid = Str(Create(*admin_, MakeOrder("douyin", "DY-SHIPPED")), "id");
  int64_t sv = 1;
  for (const char* to : {"paid", "packed", "shipped"}) sv = MoveOk(*admin_, sid, to, sv);
  EXPECT_EQ(CheckProblem(Move(*admin_, sid, "cancelled", sv), 409, "invalid_transition"), "");
}

TEST_F(OrdersApiTest, InvalidTransitionIs409AndChangesNothing) {
  std::string id = Str(Create(*admin_, MakeOrder("douyin", "DY-BAD-MOVE")), "id");
  ASSERT_FALSE(id.empty());
  for (const char* to : {"shipped", "packed", "delivered", "completed", "refunded", "refunding",
                         "pending_payment"}) {
    EXPECT_EQ(CheckProblem(Move(*admin_, id, to, 1), 409, "invalid_transition"), "") << to;
  }
  bj::object g = GetOrder(*admin_, id);
  EXPECT_EQ(Str(g, "status"), "pending_payment");
  EXPECT_EQ(Int(g, "version"), 1);
  EXPECT_EQ(CheckProblem(Move(*admin_, "ord_nope", "paid", 1), 404, "not_found"), "");
}

TEST_F(OrdersApiTest, StaleExpectedVersionIs409VersionConflict) {
  std::string id = Str(Create(*admin_, MakeOrder("douyin", "DY-VERSION")), "id");
  ASSERT_FALSE(id.empty());
  MoveOk(*admin_, id, "paid", 1);
  EXPECT_EQ(CheckProblem(Move(*admin_, id, "packed", 1), 409, "version_conflict"), "");
  EXPECT_EQ(CheckProblem(Move(*admin_, id, "packed", 7), 409, "version_conflict"), "");
  EXPECT_EQ(CheckProblem(Move(*admin_, id, "cancelled", 1), 409, "version_conflict"), "");
  bj::object g = GetOrder(*admin_, id);
  EXPECT_EQ(Str(g, "status"), "paid");
  EXPECT_EQ(Int(g, "version"), 2);
  MoveOk(*admin_, id, "packed", 2);
}

TEST_F(OrdersApiTest, AssignGivesCustomerServiceTheOrder) {
  ApiKey cs = Key("customer_service");
  ApiKey cs_other = Key("customer_service");
  ASSERT_FALSE(HasFailure());
  auto cs_client = server_.Client(cs.key);
  auto cs_other_client = server_.Client(cs_other.key);

  std::string id = Str(Create(*admin_, MakeOrder("douyin", "DY-ASSIGN")), "id");
  ASSERT_FALSE(id.empty());
  // Not assigned yet: out of the agent's scope.
  HttpResponse before = cs_client->Get("/v1/orders/" + id);
  EXPECT_TRUE(before.status == 404 || before.status == 403) << before.Describe();
  EXPECT_TRUE(before.IsProblem()) << before.Describe();

  // Only admin assigns.
  bj::object body{{"agent", cs.id}};
  EXPECT_EQ(CheckProblem(douyin_->Post("/v1/orders/" + id + "/assign", body), 403, "forbidden"),
            "");
  EXPECT_EQ(CheckProblem(cs_client->Post("/v1/orders/" + id + "/assign", body), 403, "forbidden"),
            "");
  HttpResponse a = admin_->Post("/v1/orders/" + id + "/assign", body);
  ASSERT_EQ(a.status, 200) << a.Describe();
  EXPECT_EQ(Str(Obj(a), "assigned_agent"), cs.id) << a.Describe();
  bj::object g = GetOrder(*admin_, id);
  EXPECT_EQ(Str(g, "assigned_agent"), cs.id);
  int64_t v = Int(g, "version");
  ASSERT_GE(v, 1);

  // The agent now sees it (its view: masked phone, no name/amounts/address).
  bj::object seen = GetOrder(*cs_client, id);
  EXPECT_EQ(Str(seen, "id"), id);
  EXPECT_EQ(Str(seen, "customer.phone"), "138****5678") << bj::serialize(seen);
  for (const char* absent :
       {"total", "payment_method", "shipping_address", "customer.name", "customer.id_number"}) {
    EXPECT_EQ(At(seen, absent), nullptr)
        << "customer_service must not see " << absent << ": " << bj::serialize(seen);
  }
  // ...and lists only its own orders.
  std::string other = Str(Create(*admin_, MakeOrder("douyin", "DY-NOT-ASSIGNED")), "id");
  auto mine = ListAll(*cs_client);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(Str(mine[0], "id"), id);
  EXPECT_TRUE(ListAll(*cs_other_client).empty());
  HttpResponse foreign = cs_client->Get("/v1/orders/" + other);
  EXPECT_TRUE(foreign.status == 404 || foreign.status == 403) << foreign.Describe();

  // customer_service may move its order to refunding, nothing else.
  v = MoveOk(*admin_, id, "paid", v);
  EXPECT_EQ(CheckProblem(Move(*cs_client, id, "packed", v), 403, "forbidden"), "");
  HttpResponse not_mine = Move(*cs_other_client, id, "refunding", v);
  EXPECT_TRUE(not_mine.status == 404 || not_mine.status == 403) << not_mine.Describe();
  v = MoveOk(*cs_client, id, "refunding", v);
  EXPECT_EQ(CheckProblem(Move(*cs_client, id, "refunded", v), 403, "forbidden"), "");
  EXPECT_EQ(Int(GetOrder(*admin_, id), "version"), v);
}

TEST_F(OrdersApiTest, IdempotencyKeyReplaysAndRefusesReuse) {
  bj::object body = MakeOrder("douyin", "DY-IDEM");
  Headers key1 = {{"Idempotency-Key", "idem-create-1"}};
  HttpResponse first = admin_->Post("/v1/orders", body, key1);
  ASSERT_EQ(first.status, 201) << first.Describe();
  HttpResponse again = admin_->Post("/v1/orders", body, key1);
  EXPECT_EQ(again.status, first.status) << again.Describe();
  EXPECT_EQ(again.body, first.body) << "a replay must return the first response";

  bj::object other = MakeOrder("douyin", "DY-IDEM-OTHER");
  EXPECT_EQ(CheckProblem(admin_->Post("/v1/orders", other, key1), 422, "idempotency_key_reused"),
            "");
  // Nothing was created by the refused reuse.
  auto all = ListAll(*admin_);
  ASSERT_EQ(all.size(), 1u);
  std::string id = Str(all[0], "id");
  EXPECT_EQ(id, Str(Obj(first), "id"));

  // Transitions: a replay does not move the order twice.
  Headers key2 = {{"Idempotency-Key", "idem-move-1"}};
  HttpResponse m1 = Move(*admin_, id, "paid", 1, key2);
  ASSERT_EQ(m1.status, 200) << m1.Describe();
  HttpResponse m2 = Move(*admin_, id, "paid", 1, key2);
  EXPECT_EQ(m2.status, 200) << m2.Describe();
  EXPECT_EQ(m2.body, m1.body);
  EXPECT_EQ(Int(GetOrder(*admin_, id), "version"), 2);
  EXPECT_EQ(CheckProblem(Move(*admin_, id, "cancelled", 2, key2), 422, "idempotency_key_reused"),
            "");
  bj::object g = GetOrder(*admin_, id);
  EXPECT_EQ(Str(g, "status"), "paid");
  EXPECT_EQ(Int(g, "version"), 2);

  // Idempotency keys belong to the caller: another principal reusing the key never gets the
  // first caller's response.
  HttpResponse foreign = douyin_->Post("/v1/orders", MakeOrder("douyin", "DY-IDEM-DY"), key1);
  EXPECT_TRUE(foreign.status == 201 || foreign.status == 422) << foreign.Describe();
  EXPECT_NE(foreign.body, first.body) << "another principal got a replay of admin's response";

  // An error response under a fresh key is answered again the same way.
  Headers key3 = {{"Idempotency-Key", "idem-move-bad"}};
  HttpResponse e1 = Move(*admin_, id, "completed", 2, key3);
  EXPECT_EQ(CheckProblem(e1, 409, "invalid_transition"), "");
  HttpResponse e2 = Move(*admin_, id, "completed", 2, key3);
  EXPECT_EQ(e2.status, 409) << e2.Describe();
}

// api/openapi.yaml: keys of up to 255 bytes.
TEST_F(OrdersApiTest, AnIdempotencyKeyOfMoreThan255BytesIsRefusedWithNothingWritten) {
  Headers longest = {{"Idempotency-Key", std::string(255, 'k')}};
  HttpResponse ok = admin_->Post("/v1/orders", MakeOrder("douyin", "DY-KEY-255"), longest);
  EXPECT_EQ(ok.status, 201) << ok.Describe();
  Headers too_long = {{"Idempotency-Key", std::string(256, 'k')}};
  EXPECT_EQ(CheckProblem(admin_->Post("/v1/orders", MakeOrder("douyin", "DY-KEY-256"), too_long),
                         400, "invalid_request"),
            "");
  EXPECT_EQ(ListAll(*admin_).size(), 1u);
}

TEST_F(OrdersApiTest, RepeatChannelOrderIdReturnsExistingWith200) {
  bj::object body = MakeOrder("douyin", "DY-UNIQUE", 1, 1000);
  HttpResponse first = admin_->Post("/v1/orders", body);
  ASSERT_EQ(first.status, 201) << first.Describe();
  std::string id = Str(Obj(first), "id");

  HttpResponse again = admin_->Post("/v1/orders", body);
  EXPECT_EQ(again.status, 200) << again.Describe();
  EXPECT_EQ(Str(Obj(again), "id"), id);

  // A repeat through the channel's own key, with a changed body: still the existing order.
  HttpResponse changed = douyin_->Post("/v1/orders", MakeOrder("douyin", "DY-UNIQUE", 5, 2000));
  EXPECT_EQ(changed.status, 200) << changed.Describe();
  EXPECT_EQ(Str(Obj(changed), "id"), id);
  bj::object g = GetOrder(*admin_, id);
  EXPECT_EQ(Int(g, "total"), 1000) << "a repeat must not modify the existing order";
  EXPECT_EQ(Int(g, "version"), 1);

  // The same channel_order_id on another channel is another order.
  HttpResponse tb = admin_->Post("/v1/orders", MakeOrder("taobao", "DY-UNIQUE"));
  EXPECT_EQ(tb.status, 201) << tb.Describe();
  EXPECT_NE(Str(Obj(tb), "id"), id);
  EXPECT_EQ(ListAll(*admin_).size(), 2u);
}

TEST_F(OrdersApiTest, ChannelKeySeesAndWritesOnlyItsOwnChannel) {
  // Create on a foreign channel: 403, nothing written.
  EXPECT_EQ(
      CheckProblem(douyin_->Post("/v1/orders", MakeOrder("taobao", "TB-BY-DY")), 403, "forbidden"),
      "");
  std::string own = Str(Create(*douyin_, MakeOrder("douyin", "DY-OWN")), "id");
  std::string foreign = Str(Create(*taobao_, MakeOrder("taobao", "TB-OWN")), "id");
  ASSERT_FALSE(own.empty());
  ASSERT_FALSE(foreign.empty());
  EXPECT_EQ(ListAll(*admin_).size(), 2u);

  EXPECT_EQ(CheckProblem(douyin_->Get("/v1/orders/" + foreign), 404, "not_found"), "");
  EXPECT_EQ(CheckProblem(taobao_->Get("/v1/orders/" + own), 404, "not_found"), "");
  EXPECT_EQ(Str(GetOrder(*douyin_, own), "id"), own);

  auto listed = ListAll(*douyin_);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(Str(listed[0], "id"), own);
  HttpResponse filtered = douyin_->Get("/v1/orders?channel=taobao");
  if (filtered.status == 200) {
    bj::object p = Obj(filtered);
    ASSERT_TRUE(At(p, "items") && At(p, "items")->is_array());
    EXPECT_TRUE(At(p, "items")->get_array().empty()) << filtered.Describe();
  } else {
    EXPECT_TRUE(filtered.status == 403 || filtered.status == 404) << filtered.Describe();
  }

  // Moves: only on its own orders, only the moves its platform reports.
  EXPECT_EQ(CheckProblem(Move(*douyin_, foreign, "paid", 1), 404, "not_found"), "");
  EXPECT_EQ(Int(GetOrder(*admin_, foreign), "version"), 1);
  int64_t v = MoveOk(*douyin_, own, "paid", 1);
  EXPECT_EQ(CheckProblem(Move(*douyin_, own, "packed", v), 403, "forbidden"), "");
  // Assign is admin-only.
  EXPECT_EQ(CheckProblem(douyin_->Post("/v1/orders/" + own + "/assign",
                                       bj::object{{"agent", douyin_key_.id}}),
                         403, "forbidden"),
            "");
}

TEST_F(OrdersApiTest, RolesWithoutTheRightGet403) {
  ApiKey ops = Key("operations");
  ApiKey wh = Key("warehouse");
  ApiKey fin = Key("finance");
  ApiKey cs = Key("customer_service");
  ASSERT_FALSE(HasFailure());
  auto ops_c = server_.Client(ops.key);
  auto wh_c = server_.Client(wh.key);
  auto fin_c = server_.Client(fin.key);
  auto cs_c = server_.Client(cs.key);

  std::string id = Str(Create(*admin_, MakeOrder("douyin", "DY-ROLES")), "id");
  ASSERT_FALSE(id.empty());

  // operations: aggregates only.
  EXPECT_EQ(CheckProblem(ops_c->Get("/v1/orders/" + id), 403, "forbidden"), "");
  EXPECT_EQ(CheckProblem(ops_c->Get("/v1/orders"), 403, "forbidden"), "");
  // Only channel and admin create.
  for (HttpClient* c : {ops_c.get(), wh_c.get(), fin_c.get(), cs_c.get()}) {
    EXPECT_EQ(CheckProblem(c->Post("/v1/orders", MakeOrder("douyin", "DY-NOPE")), 403, "forbidden"),
              "");
  }
  // warehouse: packed and shipped only.
  EXPECT_EQ(CheckProblem(Move(*wh_c, id, "paid", 1), 403, "forbidden"), "");
  EXPECT_EQ(CheckProblem(Move(*fin_c, id, "paid", 1), 403, "forbidden"), "");
  EXPECT_EQ(CheckProblem(Move(*ops_c, id, "paid", 1), 403, "forbidden"), "");
  EXPECT_EQ(Int(GetOrder(*admin_, id), "version"), 1);
  int64_t v = MoveOk(*admin_, id, "paid", 1);
  v = MoveOk(*wh_c, id, "packed", v);
  v = MoveOk(*wh_c, id, "shipped", v);
  EXPECT_EQ(CheckProblem(Move(*wh_c, id, "delivered", v), 403, "forbidden"), "");
  EXPECT_EQ(CheckProblem(Move(*wh_c, id, "refunding", v), 403, "forbidden"), "");

  // Nobody but admin assigns.
  for (HttpClient* c : {ops_c.get(), wh_c.get(), fin_c.get(), cs_c.get()}) {
    EXPECT_EQ(CheckProblem(c->Post("/v1/orders/" + id + "/assign", bj::object{{"agent", cs.id}}),
                           403, "forbidden"),
              "");
  }
  EXPECT_EQ(ListAll(*admin_).size(), 1u);
  EXPECT_EQ(Int(GetOrder(*admin_, id), "version"), v);
}

TEST_F(OrdersApiTest, MissingOrUnknownKeyIs401) {
  auto anon = server_.Client("");
  EXPECT_EQ(CheckProblem(anon->Get("/v1/orders"), 401, "unauthorized"), "");
  EXPECT_EQ(
      CheckProblem(anon->Post("/v1/orders", MakeOrder("douyin", "DY-ANON")), 401, "unauthorized"),
      "");
  auto bad = server_.Client("not-a-real-key");
  EXPECT_EQ(CheckProblem(bad->Get("/v1/orders"), 401, "unauthorized"), "");
  EXPECT_EQ(ListAll(*admin_).size(), 0u);
}

TEST_F(OrdersApiTest, FieldVisibilityFollowsTheRoleMatrix) {
  ApiKey wh = Key("warehouse");
  ApiKey fin = Key("finance");
  ASSERT_FALSE(HasFailure());
  auto wh_c = server_.Client(wh.key);
  auto fin_c = server_.Client(fin.key);
  std::string id = Str(Create(*admin_, MakeOrder("douyin", "DY-VIEW", 3, 5000)), "id");
  ASSERT_FALSE(id.empty());

  bj::object w = GetOrder(*wh_c, id);
  EXPECT_EQ(Str(w, "status"), "pending_payment");
  EXPECT_EQ(Str(w, "customer.name"), "李*") << bj::serialize(w);
  EXPECT_EQ(Str(w, "shipping_address.detail"), "文三路 1 号") << bj::serialize(w);
  for (const char* absent : {"total", "payment_method", "customer.phone", "customer.id_number"}) {
    EXPECT_EQ(At(w, absent), nullptr)
        << "warehouse must not see " << absent << ": " << bj::serialize(w);
  }
  if (At(w, "lines") && At(w, "lines")->is_array()) {
    for (const auto& l : At(w, "lines")->get_array()) {
      EXPECT_EQ(l.get_object().if_contains("unit_price"), nullptr) << "warehouse sees no amounts";
    }
  } else {
    ADD_FAILURE() << "warehouse must see line items: " << bj::serialize(w);
  }

  bj::object f = GetOrder(*fin_c, id);
  EXPECT_EQ(Int(f, "total"), 15000) << bj::serialize(f);
  EXPECT_EQ(Str(f, "currency"), "CNY");
  for (const char* absent : {"shipping_address", "customer.name", "customer.phone"}) {
    EXPECT_EQ(At(f, absent), nullptr)
        << "finance must not see " << absent << ": " << bj::serialize(f);
  }
  for (const bj::object* o : {&w, &f}) {
    std::string s = bj::serialize(*o);
    EXPECT_EQ(s.find(kPhone), std::string::npos) << s;
  }
  // Same in lists.
  auto wl = ListAll(*wh_c);
  ASSERT_EQ(wl.size(), 1u);
  EXPECT_EQ(At(wl[0], "customer.phone"), nullptr);
  EXPECT_EQ(At(wl[0], "total"), nullptr);
  auto fl = ListAll(*fin_c);
  ASSERT_EQ(fl.size(), 1u);
  EXPECT_EQ(At(fl[0], "shipping_address"), nullptr);
}

TEST_F(OrdersApiTest, KeysCreatedOverHttpWorkAndOnlyAdminMayCreateThem) {
  bj::object body{{"role", "warehouse"}, {"name", "wh-http"}};
  HttpResponse r = admin_->Post("/v1/keys", body);
  ASSERT_TRUE(r.status == 201 || r.status == 200) << r.Describe();
  bj::object k = Obj(r);
  EXPECT_EQ(Str(k, "role"), "warehouse") << r.Describe();
  EXPECT_FALSE(Str(k, "id").empty()) << r.Describe();
  std::string secret = Str(k, "key");
  ASSERT_FALSE(secret.empty()) << r.Describe();
  auto wh = server_.Client(secret);
  HttpResponse list = wh->Get("/v1/orders");
  EXPECT_EQ(list.status, 200) << list.Describe();
  EXPECT_EQ(CheckProblem(wh->Post("/v1/orders", MakeOrder("douyin", "DY-WH")), 403, "forbidden"),
            "");
  EXPECT_EQ(
      CheckProblem(douyin_->Post("/v1/keys", bj::object{{"role", "admin"}}), 403, "forbidden"), "")
      << "a channel key must not mint an admin key";
  EXPECT_EQ(CheckProblem(wh->Post("/v1/keys", bj::object{{"role", "admin"}}), 403, "forbidden"),
            "");
  // The secret is shown once and stored hashed: it is nowhere in the database files.
  auto st = server_.Stop();
  ASSERT_TRUE(st.has_value());
  for (const auto& entry : std::filesystem::directory_iterator(server_.data_dir())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    for (const std::string* key : {&secret, &admin_key_.key, &douyin_key_.key}) {
      EXPECT_EQ(ss.str().find(*key), std::string::npos)
          << entry.path() << " holds an API key in plaintext";
    }
  }
}

TEST_F(OrdersApiTest, HealthReadinessAndMetrics) {
  auto anon = server_.Client("");
  HttpResponse h = anon->Get("/healthz");
  EXPECT_EQ(h.status, 200) << h.Describe();
  HttpResponse r = anon->Get("/readyz");
  EXPECT_EQ(r.status, 200) << r.Describe();

  std::string id = Str(Create(*admin_, MakeOrder("douyin", "DY-METRICS")), "id");
  MoveOk(*admin_, id, "paid", 1);
  Create(*admin_, MakeOrder("douyin", "DY-METRICS-2"));

  HttpResponse m = anon->Get("/metrics");
  ASSERT_EQ(m.status, 200) << m.Describe();
  EXPECT_EQ(m.ContentType(), "text/plain") << m.Header("content-type");
  EXPECT_NE(m.body.find("ordercenter_http_requests_total"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("ordercenter_orders"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("pending_payment"), std::string::npos)
      << "orders by status should name the statuses:\n"
      << m.body;
  EXPECT_NE(m.body.find("\"paid\""), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("ordercenter_audit_write_failures_total 0\n"), std::string::npos) << m.body;
  // Orders by status: one pending_payment, one paid.
  std::istringstream by_status(m.body);
  std::string l;
  int status_lines = 0;
  while (std::getline(by_status, l)) {
    if (l.rfind("ordercenter_orders{", 0) != 0) continue;
    for (const char* st : {"pending_payment", "paid"}) {
      if (l.find("=\"" + std::string(st) + "\"") != std::string::npos) {
        ++status_lines;
        EXPECT_EQ(l.substr(l.rfind(' ') + 1), "1") << l;
      }
    }
  }
  EXPECT_EQ(status_lines, 2) << "no ordercenter_orders{status=...} samples:\n" << m.body;
  // Every non-comment line is "name{labels} value" or "name value".
  std::istringstream lines(m.body);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    ++samples;
    auto sp = line.rfind(' ');
    EXPECT_NE(sp, std::string::npos) << "bad metrics line: " << line;
    if (sp == std::string::npos) continue;
    std::string value = line.substr(sp + 1);
    char* end = nullptr;
    std::strtod(value.c_str(), &end);
    EXPECT_TRUE(end && *end == '\0' && !value.empty()) << "bad sample value: " << line;
  }
  EXPECT_GT(samples, 0);
}

// The reviewer's case: a refused request must not become a different answer when retried.
TEST_F(OrdersApiTest, AnIdempotencyKeyAnsweredWithARefusalReplaysTheRefusal) {
  std::string id = Str(Create(*admin_, MakeOrder("douyin", "IDEM-REFUSAL")), "id");
  Headers key = {{"Idempotency-Key", "k-refusal"}};
  HttpResponse first =
      admin_->Post("/v1/orders/" + id + "/transitions", std::string(R"({"to": "packed"})"), key);
  EXPECT_TRUE(CheckProblem(first, 409, "invalid_transition").empty()) << first.Describe();
  HttpResponse paid =
      admin_->Post("/v1/orders/" + id + "/transitions", std::string(R"({"to": "paid"})"));
  ASSERT_EQ(paid.status, 200) << paid.Describe();
  HttpResponse retry =
      admin_->Post("/v1/orders/" + id + "/transitions", std::string(R"({"to": "packed"})"), key);
  EXPECT_TRUE(CheckProblem(retry, 409, "invalid_transition").empty()) << retry.Describe();
  EXPECT_EQ(retry.body, first.body);
  EXPECT_EQ(Str(Obj(admin_->Get("/v1/orders/" + id)), "status"), "paid");
}

}  // namespace
}  // namespace oc::itest
