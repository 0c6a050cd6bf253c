// Hostile and broken input against the real orderd, table-driven. For every case: the right
// status and problem+json `code`, the server still answers /healthz, and nothing was half-written
// (the order count and a seed order's version are unchanged; after the run the database holds
// exactly the seed order, its line and its one outbox event).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "integration/itest_util.h"
#include "integration/orderd_harness.h"

namespace oc::itest {
namespace {

namespace bj = boost::json;

enum class Who { kAdmin, kNone, kBadKey, kDouyin };

struct Case {
  std::string name;
  std::string method;
  std::string target;  // "{id}" is replaced by the seed order's id
  std::string body;
  std::vector<int> statuses;  // any of these
  std::string code;           // "" = any non-empty code
  Who who = Who::kAdmin;
  Headers headers = {};
};

std::string ValidOrderJson(const std::string& coid = "BAD-X") {
  return bj::serialize(MakeOrder("douyin", coid));
}

// A valid order body with one member replaced (or added) by raw JSON text.
std::string OrderWith(const std::string& key, const std::string& raw_value) {
  bj::object o = MakeOrder("douyin", "BAD-WITH-" + key);
  o.erase(key);
  std::string s = bj::serialize(o);
  s.pop_back();  // '}'
  return s + ",\"" + key + "\":" + raw_value + "}";
}

std::string OrderWithout(const std::string& key) {
  bj::object o = MakeOrder("douyin", "BAD-WITHOUT-" + key);
  o.erase(key);
  return bj::serialize(o);
}

// A valid order whose single line is given as raw JSON text.
std::string OrderWithLine(const std::string& raw_line) {
  return OrderWith("lines", "[" + raw_line + "]");
}

std::string Nested(int depth, const std::string& inner = "1") {
  return std::string(static_cast<size_t>(depth), '[') + inner +
         std::string(static_cast<size_t>(depth), ']');
}

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    admin_key_ = CreateKey(server_.data_dir(), "admin", "root");
    douyin_key_ = CreateKey(server_.data_dir(), "channel", "dy", "douyin");
    ASSERT_FALSE(HasFailure());
    admin_ = server_.Client(admin_key_.key);
    HttpResponse r = admin_->Post("/v1/orders", MakeOrder("douyin", "SEED-1"));
    ASSERT_EQ(r.status, 201) << r.Describe();
    seed_id_ = Str(Obj(r), "id");
    ASSERT_FALSE(seed_id_.empty());
  }

  std::unique_ptr<HttpClient> ClientFor(Who who) {
    switch (who) {
      case Who::kAdmin:
        return server_.Client(admin_key_.key);
      case Who::kNone:
        return server_.Client("");
      case Who::kBadKey:
        return server_.Client("ock_this_key_does_not_exist");
      case Who::kDouyin:
        return server_.Client(douyin_key_.key);
    }
    return nullptr;
  }

  void ExpectNothingChanged(const std::string& what) {
    HttpClient probe(server_.port(), std::chrono::seconds(10));
    HttpResult h = probe.Send("GET", "/healthz");
    ASSERT_TRUE(h.ok()) << what << ": orderd no longer answers /healthz: " << h.error_message
                        << "\n"
                        << server_.process().LogTail();
    EXPECT_EQ(h.response->status, 200) << what;
    auto all = ListAll(*admin_);
    EXPECT_EQ(all.size(), 1u) << what << ": the order count changed";
    HttpResponse g = admin_->Get("/v1/orders/" + seed_id_);
    EXPECT_EQ(g.status, 200) << what << ": " << g.Describe();
    EXPECT_EQ(Int(Obj(g), "version"), 1) << what << ": the seed order changed";
    EXPECT_EQ(Str(Obj(g), "status"), "pending_payment") << what;
  }

  void Run(const std::vector<Case>& cases) {
    for (const Case& c : cases) {
      SCOPED_TRACE("case '" + c.name + "'");
      std::string target = c.target;
      auto pos = target.find("{id}");
      if (pos != std::string::npos) target.replace(pos, 4, seed_id_);
      auto client = ClientFor(c.who);
      HttpResult res = client->Send(c.method, target, c.body, c.headers);
      ASSERT_TRUE(res.ok()) << c.method << " " << target << ": no response (" << res.error_message
                            << ")\n"
                            << server_.process().LogTail();
      const HttpResponse& r = *res.response;
      bool status_ok = false;
      for (int s : c.statuses) status_ok |= r.status == s;
      EXPECT_TRUE(status_ok) << c.method << " " << target << " -> " << r.Describe();
      EXPECT_TRUE(r.IsProblem()) << "not problem+json: " << r.Describe();
      if (c.code.empty()) {
        EXPECT_FALSE(r.Code().empty()) << r.Describe();
        EXPECT_EQ(CheckProblem(r, r.status, r.Code()), "");
      } else {
        EXPECT_EQ(CheckProblem(r, r.status, c.code), "");
      }
      if (c.statuses.size() == 1 && c.statuses[0] == 405) {
        EXPECT_FALSE(r.Header("allow").empty()) << "405 without an Allow header: " << r.Describe();
      }
      ExpectNothingChanged(c.name);
    }
  }

  // After a stop: only the seed order, its line and its one event are in the database.
  // The seed order and `accepted` more one-line orders, each with its one event: nothing a
  // refused request sent was written.
  void ExpectDatabaseHoldsOnlyTheSeed(int64_t accepted = 0) {
    auto st = server_.Stop();
    ASSERT_TRUE(st.has_value()) << "orderd did not exit on SIGTERM";
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << "wait status " << *st;
    SqliteReader db(server_.db_path());
    ASSERT_TRUE(db.ok());
    EXPECT_EQ(db.Scalar("SELECT COUNT(*) FROM orders"), 1 + accepted);
    EXPECT_EQ(db.Scalar("SELECT COUNT(*) FROM order_lines"), 1 + accepted);
    EXPECT_EQ(db.Scalar("SELECT COUNT(*) FROM outbox"), 1 + accepted);
    EXPECT_EQ(
        db.Scalar("SELECT COUNT(*) FROM outbox WHERE type = 'order.created' AND order_id = '" +
                  seed_id_ + "'"),
        1);
    EXPECT_EQ(db.Scalar("SELECT version FROM orders WHERE id = '" + seed_id_ + "'"), 1);
  }

  TestServer server_;
  ApiKey admin_key_, douyin_key_;
  std::unique_ptr<HttpClient> admin_;
  std::string seed_id_;
};

TEST_F(BadInputTest, MalformedAndWronglyTypedCreateBodies) {
  const std::string valid = ValidOrderJson();
  // clang-format off
  std::vector<Case> cases = {
      {"truncated JSON", "POST", "/v1/orders", valid.substr(0, valid.size() / 2), {400}, "invalid_request"},
      {"not JSON", "POST", "/v1/orders", "hello world", {400}, "invalid_request"},
      {"empty body", "POST", "/v1/orders", "", {400}, "invalid_request"},
      {"JSON null", "POST", "/v1/orders", "null", {400}, "invalid_request"},
      {"top-level array", "POST", "/v1/orders", "[" + valid + "]", {400}, "invalid_request"},
      {"top-level string", "POST", "/v1/orders", "\"order\"", {400}, "invalid_request"},
      {"trailing garbage", "POST", "/v1/orders", valid + " {}", {400}, "invalid_request"},
      {"trailing comma", "POST", "/v1/orders", valid.substr(0, valid.size() - 1) + ",}", {400}, "invalid_request"},
      {"comment", "POST", "/v1/orders", "/* hi */" + valid, {400}, "invalid_request"},
      {"single quotes", "POST", "/v1/orders", "{'channel': 'douyin'}", {400}, "invalid_request"},
      {"NaN", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":NaN,"unit_price":1})"), {400}, "invalid_request"},
      {"duplicate top-level key", "POST", "/v1/orders",
       "{\"channel\":\"douyin\"," + valid.substr(1), {400}, "invalid_request"},
      {"duplicate nested key", "POST", "/v1/orders",
       OrderWithLine(R"({"sku":"A","qty":1,"qty":2,"unit_price":1})"), {400}, "invalid_request"},
      {"channel is a number", "POST", "/v1/orders", OrderWith("channel", "5"), {400}, "invalid_request"},
      {"channel is null", "POST", "/v1/orders", OrderWith("channel", "null"), {400}, "invalid_request"},
      {"channel_order_id is an object", "POST", "/v1/orders", OrderWith("channel_order_id", "{}"), {400}, "invalid_request"},
      {"currency is an array", "POST", "/v1/orders", OrderWith("currency", "[\"CNY\"]"), {400}, "invalid_request"},
      {"lines is a string", "POST", "/v1/orders", OrderWith("lines", "\"x\""), {400}, "invalid_request"},
      {"lines is an object", "POST", "/v1/orders", OrderWith("lines", "{}"), {400}, "invalid_request"},
      {"line is a number", "POST", "/v1/orders", OrderWith("lines", "[1]"), {400}, "invalid_request"},
      {"customer is an array", "POST", "/v1/orders", OrderWith("customer", "[]"), {400}, "invalid_request"},
      {"phone is a number", "POST", "/v1/orders", OrderWith("customer", R"({"phone":13812345678})"), {400}, "invalid_request"},
      {"address is a string", "POST", "/v1/orders", OrderWith("shipping_address", "\"Hangzhou\""), {400}, "invalid_request"},
      {"placed_at not a time", "POST", "/v1/orders", OrderWith("placed_at", "\"yesterday\""), {400}, "invalid_request"},
      {"qty is a string", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":"1","unit_price":1})"), {400}, "invalid_request"},
      {"qty is a bool", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":true,"unit_price":1})"), {400}, "invalid_request"},
      {"qty is a float", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":1.5,"unit_price":1})"), {400}, "invalid_request"},
      {"qty is 1.0", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":1.0,"unit_price":1})"), {400}, "invalid_request"},
      {"unit_price as float", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":1,"unit_price":1299.5})"), {400}, "invalid_request"},
      {"unit_price in exponent form", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":1,"unit_price":1e3})"), {400}, "invalid_request"},
      {"unit_price 2^53+1", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":1,"unit_price":9007199254740993})"), {400}, "invalid_request"},
      {"unit_price 2^63", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":1,"unit_price":9223372036854775808})"), {400}, "invalid_request"},
      {"unit_price 2^64", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":1,"unit_price":18446744073709551616})"), {400}, "invalid_request"},
      {"unit_price -2^53-1", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":1,"unit_price":-9007199254740993})"), {400, 422}, "invalid_request"},
      {"unit_price is a string", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":1,"unit_price":"129900"})"), {400}, "invalid_request"},
      {"sku is a number", "POST", "/v1/orders", OrderWithLine(R"({"sku":7,"qty":1,"unit_price":1})"), {400}, "invalid_request"},
  };
  // clang-format on
  Run(cases);
  ExpectDatabaseHoldsOnlyTheSeed();
}

TEST_F(BadInputTest, MissingAndMassAssignedFields) {
  // clang-format off
  std::vector<Case> cases = {
      {"missing channel", "POST", "/v1/orders", OrderWithout("channel"), {400}, "invalid_request"},
      {"missing channel_order_id", "POST", "/v1/orders", OrderWithout("channel_order_id"), {400}, "invalid_request"},
      {"missing currency", "POST", "/v1/orders", OrderWithout("currency"), {400}, "invalid_request"},
      {"missing lines", "POST", "/v1/orders", OrderWithout("lines"), {400}, "invalid_request"},
      {"empty object", "POST", "/v1/orders", "{}", {400}, "invalid_request"},
      {"line without sku", "POST", "/v1/orders", OrderWithLine(R"({"qty":1,"unit_price":1})"), {400}, "invalid_request"},
      {"line without qty", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","unit_price":1})"), {400}, "invalid_request"},
      {"line without unit_price", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":1})"), {400}, "invalid_request"},
      {"mass-assign status", "POST", "/v1/orders", OrderWith("status", "\"completed\""), {400}, "invalid_request"},
      {"mass-assign version", "POST", "/v1/orders", OrderWith("version", "99"), {400}, "invalid_request"},
      {"mass-assign total", "POST", "/v1/orders", OrderWith("total", "1"), {400}, "invalid_request"},
      {"mass-assign id", "POST", "/v1/orders", OrderWith("id", "\"ord_mine\""), {400}, "invalid_request"},
      {"mass-assign assigned_agent", "POST", "/v1/orders", OrderWith("assigned_agent", "\"key_x\""), {400}, "invalid_request"},
      {"mass-assign created_at", "POST", "/v1/orders", OrderWith("created_at", "\"2020-01-01T00:00:00Z\""), {400}, "invalid_request"},
      {"mass-assign tags", "POST", "/v1/orders", OrderWith("tags", "[\"vip\"]"), {400}, "invalid_request"},
      {"mass-assign risk_flags", "POST", "/v1/orders", OrderWith("risk_flags", "[]"), {400}, "invalid_request"},
      {"unknown nested customer field", "POST", "/v1/orders", OrderWith("customer", R"({"name":"A","role":"admin"})"), {400}, "invalid_request"},
      {"unknown line field", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":1,"unit_price":1,"discount":100})"), {400}, "invalid_request"},
  };
  // clang-format on
  Run(cases);
  ExpectDatabaseHoldsOnlyTheSeed();
}

TEST_F(BadInputTest, BusinessInvalidCreatesAre422) {
  // clang-format off
  std::vector<Case> cases = {
      {"qty zero", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":0,"unit_price":1})"), {422}, "invalid_request"},
      {"qty negative", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":-3,"unit_price":1})"), {422}, "invalid_request"},
      {"second line qty zero", "POST", "/v1/orders",
       OrderWith("lines", R"([{"sku":"A","qty":1,"unit_price":1},{"sku":"B","qty":0,"unit_price":1}])"), {422}, "invalid_request"},
      {"unit_price negative", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":1,"unit_price":-1})"), {400, 422}, "invalid_request"},
      {"total beyond 2^53", "POST", "/v1/orders", OrderWithLine(R"({"sku":"A","qty":1000000,"unit_price":9007199254740})"), {400, 422}, "invalid_request"},
      {"unknown currency", "POST", "/v1/orders", OrderWith("currency", "\"XYZ\""), {422}, "invalid_request"},
      {"empty currency", "POST", "/v1/orders", OrderWith("currency", "\"\""), {422, 400}, "invalid_request"},
      {"empty lines", "POST", "/v1/orders", OrderWith("lines", "[]"), {422}, "invalid_request"},
      {"empty channel", "POST", "/v1/orders", OrderWith("channel", "\"\""), {400, 422}, "invalid_request"},
      {"empty channel_order_id", "POST", "/v1/orders", OrderWith("channel_order_id", "\"\""), {400, 422}, "invalid_request"},
      {"empty sku", "POST", "/v1/orders", OrderWithLine(R"({"sku":"","qty":1,"unit_price":1})"), {400, 422}, "invalid_request"},
  };
  // clang-format on
  Run(cases);
  ExpectDatabaseHoldsOnlyTheSeed();
}

TEST_F(BadInputTest, OversizedDeepAndNonUtf8Bodies) {
  bj::object big = MakeOrder("douyin", "BAD-BIG");
  big["shipping_address"].as_object()["detail"] = std::string((1 << 20) + 1024, 'a');
  std::string big_body = bj::serialize(big);
  std::string huge_body(4 << 20, ' ');  // 4 MiB of whitespace then a valid order
  huge_body += ValidOrderJson("BAD-HUGE");
  std::string valid = ValidOrderJson("BAD-UTF8");
  auto with_bytes = [&](const std::string& bytes) {
    return OrderWith("channel_order_id", "\"BAD" + bytes + "\"");
  };
  // clang-format off
  std::vector<Case> cases = {
      {"body over 1 MiB", "POST", "/v1/orders", big_body, {413}, "payload_too_large"},
      {"body of 4 MiB", "POST", "/v1/orders", huge_body, {413}, "payload_too_large"},
      {"transition body over 1 MiB", "POST", "/v1/orders/{id}/transitions",
       TransitionBody("paid", 1, std::string((1 << 20) + 10, 'r')), {413}, "payload_too_large"},
      {"1000 nested arrays", "POST", "/v1/orders", Nested(1000), {400}, "invalid_request"},
      {"1000 nested arrays in a field", "POST", "/v1/orders", OrderWith("lines", Nested(1000, "{}")), {400}, "invalid_request"},
      {"100000 nested arrays", "POST", "/v1/orders", Nested(100000), {400}, "invalid_request"},
      {"100000 nested objects", "POST", "/v1/orders",
       [] {
         std::string s;
         for (int i = 0; i < 100000; ++i) s += "{\"a\":";
         s += "1";
         s += std::string(100000, '}');
         return s;
       }(),
       {400}, "invalid_request"},
      {"invalid UTF-8 byte 0xff", "POST", "/v1/orders", with_bytes("\xff\xfe"), {400}, "invalid_request"},
      {"overlong UTF-8 '/'", "POST", "/v1/orders", with_bytes("\xc0\xaf"), {400}, "invalid_request"},
      {"truncated UTF-8 sequence", "POST", "/v1/orders", with_bytes("\xe6\x9d"), {400}, "invalid_request"},
      {"UTF-8 encoded surrogate", "POST", "/v1/orders", with_bytes("\xed\xa0\x80"), {400}, "invalid_request"},
      {"invalid UTF-8 in a key", "POST", "/v1/orders", "{\"ch\xffnnel\":\"douyin\"}", {400}, "invalid_request"},
      {"NUL byte in body", "POST", "/v1/orders", std::string("{\"channel\":\"dou\0yin\"}", 21), {400}, "invalid_request"},
  };
  // clang-format on
  Run(cases);
  ExpectDatabaseHoldsOnlyTheSeed();
}

TEST_F(BadInputTest, ContentTypeRoutesMethodsAndAuth) {
  const std::string valid = ValidOrderJson("BAD-CT");
  // clang-format off
  std::vector<Case> cases = {
      {"text/plain body", "POST", "/v1/orders", valid, {415, 400}, "", Who::kAdmin,
       {{"Content-Type", "text/plain"}}},
      {"form body", "POST", "/v1/orders", valid, {415, 400}, "", Who::kAdmin,
       {{"Content-Type", "application/x-www-form-urlencoded"}}},
      {"no content type", "POST", "/v1/orders", valid, {415, 400}, "", Who::kAdmin,
       {{"Content-Type", ""}}},
      {"unknown route", "GET", "/v1/nope", "", {404}, "not_found"},
      {"unknown route under an order", "GET", "/v1/orders/{id}/nope", "", {404}, "not_found"},
      {"unknown top-level route", "GET", "/definitely-not-here", "", {404}, "not_found"},
      {"unknown route, POST", "POST", "/v1/order", valid, {404}, "not_found"},
      {"DELETE on orders", "DELETE", "/v1/orders", "", {405}, "method_not_allowed"},
      {"PUT on an order", "PUT", "/v1/orders/{id}", valid, {405}, "method_not_allowed"},
      {"PATCH on an order", "PATCH", "/v1/orders/{id}", "{\"status\":\"completed\"}", {405}, "method_not_allowed"},
      {"DELETE on an order", "DELETE", "/v1/orders/{id}", "", {405}, "method_not_allowed"},
      {"GET on transitions", "GET", "/v1/orders/{id}/transitions", "", {405}, "method_not_allowed"},
      {"POST on healthz", "POST", "/healthz", "{}", {405}, "method_not_allowed"},
      {"no key, create", "POST", "/v1/orders", valid, {401}, "unauthorized", Who::kNone},
      {"no key, list", "GET", "/v1/orders", "", {401}, "unauthorized", Who::kNone},
      {"no key, get", "GET", "/v1/orders/{id}", "", {401}, "unauthorized", Who::kNone},
      {"no key, transition", "POST", "/v1/orders/{id}/transitions", TransitionBody("paid", 1), {401}, "unauthorized", Who::kNone},
      {"no key, malformed body", "POST", "/v1/orders", "{{{", {401}, "unauthorized", Who::kNone},
      {"unknown key, create", "POST", "/v1/orders", valid, {401}, "unauthorized", Who::kBadKey},
      {"unknown key, transition", "POST", "/v1/orders/{id}/transitions", TransitionBody("paid", 1), {401}, "unauthorized", Who::kBadKey},
      {"Basic auth", "POST", "/v1/orders", valid, {401}, "unauthorized", Who::kNone,
       {{"Authorization", "Basic YWRtaW46YWRtaW4="}}},
      {"empty bearer", "GET", "/v1/orders", "", {401}, "unauthorized", Who::kNone,
       {{"Authorization", "Bearer "}}},
      {"bearer without scheme", "GET", "/v1/orders", "", {401}, "unauthorized", Who::kNone,
       {{"Authorization", "ock_not_a_bearer"}}},
      {"channel key, foreign channel", "POST", "/v1/orders",
       bj::serialize(MakeOrder("taobao", "BAD-FOREIGN")), {403}, "forbidden", Who::kDouyin},
  };
  // clang-format on
  Run(cases);
  ExpectDatabaseHoldsOnlyTheSeed();
}

TEST_F(BadInputTest, BadTransitionAssignAndQueryInput) {
  // clang-format off
  std::vector<Case> cases = {
      {"transition: malformed", "POST", "/v1/orders/{id}/transitions", "{\"to\":", {400}, "invalid_request"},
      {"transition: missing to", "POST", "/v1/orders/{id}/transitions", R"({"expected_version":1})", {400}, "invalid_request"},
      {"transition: to is a number", "POST", "/v1/orders/{id}/transitions", R"({"to":2,"expected_version":1})", {400}, "invalid_request"},
      {"transition: unknown status", "POST", "/v1/orders/{id}/transitions", R"({"to":"teleported","expected_version":1})", {400, 422}, "invalid_request"},
      {"transition: version is a string", "POST", "/v1/orders/{id}/transitions", R"({"to":"paid","expected_version":"1"})", {400}, "invalid_request"},
      {"transition: version is a float", "POST", "/v1/orders/{id}/transitions", R"({"to":"paid","expected_version":1.0})", {400}, "invalid_request"},
      {"transition: version beyond 2^53", "POST", "/v1/orders/{id}/transitions", R"({"to":"paid","expected_version":9007199254740993})", {400}, "invalid_request"},
      {"transition: mass-assign version", "POST", "/v1/orders/{id}/transitions", R"({"to":"paid","expected_version":1,"version":40})", {400}, "invalid_request"},
      {"transition: mass-assign status", "POST", "/v1/orders/{id}/transitions", R"({"to":"paid","expected_version":1,"status":"completed"})", {400}, "invalid_request"},
      {"transition: duplicate to", "POST", "/v1/orders/{id}/transitions", R"({"to":"cancelled","to":"paid","expected_version":1})", {400}, "invalid_request"},
      {"transition: reason is a number", "POST", "/v1/orders/{id}/transitions", R"({"to":"paid","expected_version":1,"reason":5})", {400}, "invalid_request"},
      {"transition: array body", "POST", "/v1/orders/{id}/transitions", R"(["paid"])", {400}, "invalid_request"},
      {"transition: unknown order", "POST", "/v1/orders/ord_missing/transitions", TransitionBody("paid", 1), {404}, "not_found"},
      {"assign: missing agent", "POST", "/v1/orders/{id}/assign", "{}", {400}, "invalid_request"},
      {"assign: agent is a number", "POST", "/v1/orders/{id}/assign", R"({"agent":5})", {400}, "invalid_request"},
      {"assign: unknown field", "POST", "/v1/orders/{id}/assign", R"({"agent":"key_x","status":"paid"})", {400}, "invalid_request"},
      {"assign: unknown order", "POST", "/v1/orders/ord_missing/assign", R"({"agent":"key_x"})", {404, 422}, ""},
      {"list: limit not a number", "GET", "/v1/orders?limit=abc", "", {400}, "invalid_request"},
      {"list: limit zero", "GET", "/v1/orders?limit=0", "", {400}, "invalid_request"},
      {"list: limit negative", "GET", "/v1/orders?limit=-5", "", {400}, "invalid_request"},
      {"list: limit float", "GET", "/v1/orders?limit=2.5", "", {400}, "invalid_request"},
      {"list: garbage cursor", "GET", "/v1/orders?cursor=%00%ff-not-a-cursor", "", {400}, "invalid_request"},
      {"list: unknown status", "GET", "/v1/orders?status=teleported", "", {400}, "invalid_request"},
      {"list: since not a time", "GET", "/v1/orders?since=yesterday", "", {400}, "invalid_request"},
      {"transition: version is null", "POST", "/v1/orders/{id}/transitions", R"({"to":"paid","expected_version":null})", {400}, "invalid_request"},
      {"assign: version is null", "POST", "/v1/orders/{id}/assign", R"({"agent":"key_x","expected_version":null})", {400}, "invalid_request"},
      {"list: limit cut at a NUL", "GET", "/v1/orders?limit=5%00abc", "", {400}, "invalid_request"},
      {"list: limit with a sign", "GET", "/v1/orders?limit=%2B3", "", {400}, "invalid_request"},
      {"list: limit with a space", "GET", "/v1/orders?limit=%205", "", {400}, "invalid_request"},
      {"list: limit given twice", "GET", "/v1/orders?limit=1&limit=3", "", {400}, "invalid_request"},
      {"list: status given twice", "GET", "/v1/orders?status=pending_payment&status=paid", "", {400}, "invalid_request"},
      {"audit: actor given twice", "GET", "/v1/audit?actor=a&actor=b", "", {400}, "invalid_request"},
      {"audit: garbage cursor", "GET", "/v1/audit?cursor=c5", "", {400}, "invalid_request"},
      {"oversold: limit cut at a NUL", "GET", "/v1/inventory/oversold?limit=5%00", "", {400}, "invalid_request"},
      {"inventory: malformed escape", "PUT", "/v1/inventory/A%zzB", R"({"on_hand":1})", {400}, "invalid_request"},
      {"inventory: lone percent", "PUT", "/v1/inventory/A%", R"({"on_hand":1})", {400}, "invalid_request"},
      {"inventory: escaped NUL", "PUT", "/v1/inventory/A%00B", R"({"on_hand":1})", {400}, "invalid_request"},
      {"order: malformed escape in id", "GET", "/v1/orders/ord_%zz", "", {400}, "invalid_request"},
  };
  // clang-format on
  Run(cases);
  ExpectDatabaseHoldsOnlyTheSeed();
}

// A SKU in the path is percent-decoded, so the stock set for "A%20B" is the stock order lines
// naming "A B" take (before, the encoded text was kept as the SKU and no order could use it).
TEST_F(BadInputTest, PathSegmentsArePercentDecoded) {
  for (const std::string& sku :
       {std::string("A B"), std::string("空气净化器"), std::string("X/Y")}) {
    SCOPED_TRACE(sku);
    std::string encoded;
    for (unsigned char c : sku) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      encoded += std::isalnum(c) ? std::string(1, static_cast<char>(c)) : std::string(buf);
    }
    HttpResponse put = admin_->Put("/v1/inventory/" + encoded, R"({"on_hand":2})");
    ASSERT_EQ(put.status, 200) << put.Describe();
    EXPECT_EQ(Str(Obj(put), "sku"), sku);
    bj::object order = MakeOrder("douyin", "DECODED-" + encoded);
    order["lines"] =
        bj::array{bj::object{{"sku", sku}, {"name", "n"}, {"qty", 2}, {"unit_price", 100}}};
    HttpResponse created = admin_->Post("/v1/orders", order);
    EXPECT_EQ(created.status, 201) << created.Describe();
    HttpResponse stock = admin_->Get("/v1/inventory/" + encoded);
    ASSERT_EQ(stock.status, 200) << stock.Describe();
    EXPECT_EQ(Int(Obj(stock), "reserved"), 2);
  }
}

// Broken HTTP framing on raw sockets: the server may answer 400 or drop the connection, but it
// must stay up and unchanged.
TEST_F(BadInputTest, BrokenHttpFramingDoesNotHurtTheServer) {
  const std::string auth = "Authorization: Bearer " + admin_key_.key + "\r\n";
  std::vector<std::pair<std::string, std::string>> raws = {
      {"garbage request line", "THIS IS NOT HTTP\r\n\r\n"},
      {"binary junk", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)},
      {"huge header",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(200000, 'x') + "\r\n\r\n"},
      {"content-length shorter than body", "POST /v1/orders HTTP/1.1\r\nHost: x\r\n" + auth +
                                               "Content-Type: application/json\r\n"
                                               "Content-Length: 10\r\n\r\n" +
                                               ValidOrderJson("RAW-1")},
      {"negative content-length",
       "POST /v1/orders HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: -1\r\n\r\n{}"},
      {"huge declared content-length", "POST /v1/orders HTTP/1.1\r\nHost: x\r\n" + auth +
                                           "Content-Type: application/json\r\n"
                                           "Content-Length: 99999999999\r\n\r\n{}"},
      {"bad chunk size", "POST /v1/orders HTTP/1.1\r\nHost: x\r\n" + auth +
                             "Content-Type: application/json\r\n"
                             "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"},
      {"chunked over 1 MiB",
       [&] {
         std::string s = "POST /v1/orders HTTP/1.1\r\nHost: x\r\n" + auth +
                         "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
         std::string chunk(64 * 1024, ' ');
         for (int i = 0; i < 20; ++i) s += "10000\r\n" + chunk + "\r\n";
         return s + "0\r\n\r\n";
       }()},
  };
  HttpClient raw(server_.port(), std::chrono::seconds(10));
  for (const auto& [name, bytes] : raws) {
    SCOPED_TRACE(name);
    HttpResult r = raw.SendRaw(bytes);
    if (r.ok()) {
      EXPECT_GE(r.response->status, 400) << r.response->Describe();
      EXPECT_LT(r.response->status, 500) << r.response->Describe();
      if (name == "chunked over 1 MiB") {
        EXPECT_EQ(r.response->status, 413) << r.response->Describe();
      }
      if (name == "huge header") {
        EXPECT_EQ(r.response->status, 431) << r.response->Describe();
        EXPECT_NE(r.response->body.find("headers_too_large"), std::string::npos);
      }
    } else {
      EXPECT_NE(r.error, TransportError::kTimeout) << "the server hung on " << name;
      EXPECT_NE(r.error, TransportError::kPartial) << "half a response on " << name;
    }
    ExpectNothingChanged(name);
  }
  ExpectDatabaseHoldsOnlyTheSeed();
}

// Slow or stalled clients (half-sent headers, half-sent bodies, idle connections) must not keep
// the server from answering everyone else promptly.
TEST_F(BadInputTest, StalledConnectionsDoNotBlockOthers) {
  constexpr int kStalled = 200;
  std::vector<int> fds;
  const std::string auth = "Authorization: Bearer " + admin_key_.key + "\r\n";
  for (int i = 0; i < kStalled; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_.port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
        << "connection " << i << ": " << std::strerror(errno);
    std::string partial;
    switch (i % 3) {
      case 0:
        partial = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
        break;  // headers never end
      case 1:
        partial = "POST /v1/orders HTTP/1.1\r\nHost: x\r\n" + auth +
                  "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"chan";
        break;  // body never completes
      default:
        break;  // connected, silent
    }
    if (!partial.empty()) {
      ASSERT_EQ(::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL),
                static_cast<ssize_t>(partial.size()));
    }
  }
  auto started = std::chrono::steady_clock::now();
  HttpClient probe(server_.port(), std::chrono::seconds(10));
  HttpResult h = probe.Send("GET", "/healthz");
  ASSERT_TRUE(h.ok()) << h.error_message;
  EXPECT_EQ(h.response->status, 200);
  probe.set_bearer(admin_key_.key);
  HttpResult created =
      probe.Send("POST", "/v1/orders", bj::serialize(MakeOrder("douyin", "WHILE-STALLED")));
  ASSERT_TRUE(created.ok()) << created.error_message;
  EXPECT_EQ(created.response->status, 201) << created.response->Describe();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5))
      << "stalled connections slowed everyone else down";
  for (int fd : fds) ::close(fd);
  // The half-sent create never happened.
  EXPECT_TRUE(WaitFor([&] { return ListAll(*admin_).size() == 2u; }, std::chrono::seconds(5)));
  auto all = ListAll(*admin_);
  EXPECT_EQ(all.size(), 2u);
  for (const auto& o : all) EXPECT_NE(Str(o, "channel_order_id"), "");
}

// HEAD answers with the headers of the GET and no body: a body would be read by a keep-alive
// client (or a pooling proxy) as the start of the next response on the connection.
TEST_F(BadInputTest, HeadSendsNoBodySoPipelinedResponsesStayFramed) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req =
      "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::string got;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t head_end = got.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << got;
  EXPECT_NE(got.substr(0, head_end).find("Content-Length: 15"), std::string::npos) << got;
  // Right after the HEAD's headers comes the GET's status line, not a body.
  EXPECT_EQ(got.compare(head_end + 4, 12, "HTTP/1.1 200"), 0) << got;
  EXPECT_EQ(got.substr(got.size() - 15), R"({"status":"ok"})");
}

TEST_F(BadInputTest, BearerSchemeIsCaseInsensitiveAndHugeCursorsAreRefused) {
  auto c = server_.Client();
  HttpResponse lower =
      c->Get("/v1/orders?limit=1", {{"Authorization", "bearer " + admin_key_.key}});
  EXPECT_EQ(lower.status, 200) << lower.Describe();
  HttpResponse huge = c->Get("/v1/orders?cursor=c9999999999999999999",
                             {{"Authorization", "Bearer " + admin_key_.key}});
  EXPECT_TRUE(CheckProblem(huge, 400, "invalid_request").empty()) << huge.Describe();
}

// A field that must come once, sent twice, is refused before anything runs: with two keys or
// two idempotency keys, which one counts would be a guess (a proxy in front may guess the
// other way). Before, the first one silently won. An empty Idempotency-Key is refused too; it
// used to mean "no key", so a client's retry of it could create a second order.
TEST_F(BadInputTest, RepeatedSingletonHeadersAndAnEmptyIdempotencyKeyAre400) {
  const std::string admin = "Bearer " + admin_key_.key;
  const std::string douyin = "Bearer " + douyin_key_.key;
  // clang-format off
  std::vector<Case> cases = {
      {"two Authorization, the same key", "GET", "/v1/orders?limit=1", "", {400}, "invalid_request", Who::kNone,
       {{"Authorization", admin}, {"Authorization", admin}}},
      {"two Authorization, admin then channel", "POST", "/v1/orders", ValidOrderJson("BAD-2AUTH"), {400}, "invalid_request",
       Who::kNone, {{"Authorization", admin}, {"Authorization", douyin}}},
      {"two Idempotency-Key", "POST", "/v1/orders", ValidOrderJson("BAD-2IDEM"), {400}, "invalid_request", Who::kAdmin,
       {{"Idempotency-Key", "k-1"}, {"idempotency-key", "k-2"}}},
      {"empty Idempotency-Key", "POST", "/v1/orders", ValidOrderJson("BAD-0IDEM"), {400}, "invalid_request", Who::kAdmin,
       {{"Idempotency-Key", ""}}},
      {"two Content-Type", "POST", "/v1/orders", ValidOrderJson("BAD-2CT"), {400}, "invalid_request", Who::kAdmin,
       {{"Content-Type", "application/json"}, {"Content-Type", "text/plain"}}},
      {"two X-Step-Up-Token", "POST", "/v1/orders/{id}/reveal", R"({"fields":["customer.phone"],"reason":"x"})", {400},
       "invalid_request", Who::kAdmin, {{"X-Step-Up-Token", "a"}, {"X-Step-Up-Token", "b"}}},
  };
  // clang-format on
  Run(cases);
  // One of each is fine: the same create goes through with one key and one Idempotency-Key.
  HttpResponse ok =
      admin_->Post("/v1/orders", ValidOrderJson("BAD-2IDEM"), {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(ok.status, 201) << ok.Describe();
  ExpectDatabaseHoldsOnlyTheSeed(1);
}

// JSON between systems is UTF-8 (RFC 8259), and a charset label means nothing to JSON (its
// section 11): a body labelled with another charset is accepted while it is ASCII, which every
// such charset reads the same, and refused by name (415) when it holds other bytes, which would
// be read as UTF-8 and taken for other text. Before, every label was ignored.
TEST_F(BadInputTest, NonAsciiBodiesLabelledWithACharsetOtherThanUtf8Are415) {
  const std::string chinese = ValidOrderJson("BAD-GBK");  // UTF-8: 空气净化器, 李四, ...
  ASSERT_TRUE(std::any_of(chinese.begin(), chinese.end(),
                          [](char c) { return static_cast<unsigned char>(c) >= 0x80; }));
  // clang-format off
  std::vector<Case> cases = {
      {"charset=gbk", "POST", "/v1/orders", chinese, {415}, "unsupported_media_type", Who::kAdmin,
       {{"Content-Type", "application/json; charset=gbk"}}},
      {"charset=\"ISO-8859-1\"", "POST", "/v1/orders", chinese, {415}, "unsupported_media_type",
       Who::kAdmin, {{"Content-Type", "application/json;charset=\"ISO-8859-1\""}}},
      {"charset after another parameter", "POST", "/v1/orders", chinese, {415}, "unsupported_media_type",
       Who::kAdmin, {{"Content-Type", "application/json; profile=x; charset=utf-16"}}},
      {"UTF-16 body of ASCII text", "PUT", "/v1/inventory/SKU-U16", std::string("{\0\"\0}\0", 6), {415},
       "unsupported_media_type", Who::kAdmin, {{"Content-Type", "application/json; charset=utf-16le"}}},
  };
  // clang-format on
  Run(cases);
  int n = 0;
  for (const char* ct : {"application/json; charset=utf-8", "Application/JSON;Charset=\"UTF-8\"",
                         "application/json ; charset = utf8", "application/json; profile=x"}) {
    HttpResponse r = admin_->Post("/v1/orders", ValidOrderJson("CS-OK-" + std::to_string(n++)),
                                  {{"Content-Type", ct}});
    EXPECT_EQ(r.status, 201) << ct << ": " << r.Describe();
  }
  // An ASCII body under any label: the same bytes in every one of them.
  for (const char* ct :
       {"application/json; charset=ISO-8859-1", "application/json; charset=us-ascii"}) {
    HttpResponse r = admin_->Put("/v1/inventory/SKU-ASCII-" + std::to_string(n++),
                                 R"({"on_hand": 3})", {{"Content-Type", ct}});
    EXPECT_EQ(r.status, 200) << ct << ": " << r.Describe();
  }
  ExpectDatabaseHoldsOnlyTheSeed(4);
}

TEST_F(BadInputTest, GuessingKeysIsThrottledWith429AndRetryAfter) {
  auto guesser = server_.Client("ock_guess_0");
  for (int i = 0; i < 20; ++i) {
    guesser->set_bearer("ock_guess_" + std::to_string(i));
    EXPECT_EQ(CheckProblem(guesser->Get("/v1/orders"), 401, "unauthorized"), "") << i;
  }
  guesser->set_bearer(admin_key_.key);  // a good key from the same address: still locked out
  HttpResponse r = guesser->Get("/v1/orders");
  EXPECT_EQ(CheckProblem(r, 429, "too_many_auth_failures"), "");
  EXPECT_FALSE(r.Header("retry-after").empty());
  EXPECT_EQ(server_.Client("")->Get("/healthz").status, 200);  // unauthenticated routes still work
}

}  // namespace
}  // namespace oc::itest
