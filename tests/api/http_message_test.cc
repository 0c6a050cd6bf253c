// Request and Response: field lookup as HTTP defines it, and the exact bytes an answer becomes.
#include "api/http_message.h"

#include <gtest/gtest.h>

#include <string>

namespace oc::api {
namespace {

Request Parsed() {
  Request r;
  r.SetRequestLine(http::verb::post, "POST", "/v1/reservations?x=1", 11);
  r.AddField(http::field::host, "Host", "127.0.0.1");
  r.AddField(http::field::authorization, "authorization", "Bearer k1");
  r.AddField(http::field::unknown, "idempotency-key", "abc");
  r.AddField(http::field::authorization, "Authorization", "Bearer second");
  r.body() = R"({"lines":[]})";
  return r;
}

TEST(HttpMessageTest, RequestFieldsAreFoundByNameWhateverTheCase) {
  Request r = Parsed();
  EXPECT_EQ(r.method(), http::verb::post);
  EXPECT_EQ(r.method_string(), "POST");
  EXPECT_EQ(r.target(), "/v1/reservations?x=1");
  EXPECT_EQ(r.version(), 11u);
  EXPECT_TRUE(r.keep_alive());
  EXPECT_EQ(r[http::field::authorization], "Bearer k1");  // the first of two
  EXPECT_EQ(r["AUTHORIZATION"], "Bearer k1");
  EXPECT_EQ(r["Idempotency-Key"], "abc");
  EXPECT_EQ(r["idempotency-KEY"], "abc");
  EXPECT_EQ(r[http::field::content_type], "");
  EXPECT_EQ(r["X-Step-Up-Token"], "");
  EXPECT_EQ(r.body(), R"({"lines":[]})");
  // Moving keeps every view valid: they are offsets into the request's own text.
  Request moved = std::move(r);
  EXPECT_EQ(moved["idempotency-key"], "abc");
  EXPECT_EQ(moved.target(), "/v1/reservations?x=1");
}

TEST(HttpMessageTest, ManyFieldsOutgrowTheInlineRoomAndStayFindable) {
  Request r(http::verb::get, "/healthz");
  for (int i = 0; i < 40; ++i) {
    r.AddField(http::field::unknown, "X-F" + std::to_string(i), "v" + std::to_string(i));
  }
  EXPECT_EQ(r["x-f0"], "v0");
  EXPECT_EQ(r["X-F39"], "v39");
  EXPECT_EQ(r.method_string(), "GET");
}

TEST(HttpMessageTest, AResponseIsRenderedWithItsLengthAndConnection) {
  Response res(201, 11, true);
  res.set(http::field::content_type, "application/json");
  res.set("Idempotent-Replayed", "true");
  res.set(http::field::content_type, "application/problem+json");  // replaces, keeps its place
  res.body() = "{}";
  EXPECT_EQ(res["content-type"], "application/problem+json");
  std::string wire;
  res.SerializeTo(&wire, true);
  EXPECT_EQ(wire,
            "HTTP/1.1 201 Created\r\nContent-Type: application/problem+json\r\n"
            "Idempotent-Replayed: true\r\nContent-Length: 2\r\n\r\n{}");
  // HEAD: the same header, Content-Length included, and no body.
  std::string head;
  res.SerializeTo(&head, false);
  EXPECT_EQ(head, wire.substr(0, wire.size() - 2));
  res.keep_alive(false);
  std::string closing;
  res.SerializeTo(&closing, true);
  EXPECT_NE(closing.find("\r\nConnection: close\r\n\r\n{}"), std::string::npos) << closing;
}

TEST(HttpMessageTest, Http10KeepsTheConnectionOnlyWhenAsked) {
  Response kept(200, 10, true);
  std::string wire;
  kept.SerializeTo(&wire, true);
  EXPECT_EQ(wire, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
  Response closed(404, 10, false);
  wire.clear();
  closed.SerializeTo(&wire, true);
  EXPECT_EQ(wire, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

}  // namespace
}  // namespace oc::api
