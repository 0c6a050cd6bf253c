// Self-test of WebhookReceiver, the fake partner the outbox integration tests deliver to: what it
// records, keep-alive, the per-minute limit and Retry-After, gzip bodies, the signature helpers,
// the status callback, SetBehavior mid-run, bounded waits, concurrency, and a prompt Stop() with
// connections still open. Needs no orderd; the client is the harness's HttpClient.
#include "integration/webhook_receiver.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "integration/orderd_harness.h"

namespace oc::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

constexpr milliseconds kClientTimeout = seconds(10);
constexpr milliseconds kWaitTimeout = seconds(5);
constexpr const char* kSecret = "whsec_test";
constexpr const char* kBatch =
    R"({"events":[{"id":"evt_1","type":"order.status_changed","order_id":"ord_1",)"
    R"("order_version":2,"status":"paid","occurred_at":"2026-11-11T00:00:01Z"}]})";

std::string GzipCompress(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(
      deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
      Z_OK);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

int64_t ElapsedMs(SteadyClock::time_point since) {
  return std::chrono::duration_cast<milliseconds>(SteadyClock::now() - since).count();
}

TEST(WebhookReceiverTest, UrlNamesLoopbackAndPort) {
  WebhookReceiver receiver;
  ASSERT_NE(receiver.port(), 0);
  const std::string base = "http://127.0.0.1:" + std::to_string(receiver.port());
  EXPECT_EQ(receiver.Url(), base + "/hook");
  EXPECT_EQ(receiver.Url("/partner/events"), base + "/partner/events");
}

TEST(WebhookReceiverTest, RecordsMethodTargetHeadersAndBody) {
  WebhookReceiver receiver;
  HttpClient client(receiver.port(), kClientTimeout);
  const int64_t before_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  HttpResponse response = client.Post(
      "/hook?x=1", std::string(kBatch),
      {{"X-OrderCenter-Signature", "t=1,v1=00"}, {"X-Repeated", "a"}, {"X-Repeated", "b"}});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"ok":true})");
  EXPECT_EQ(response.ContentType(), "application/json");
  EXPECT_EQ(response.Header("accept-encoding"), "");
  EXPECT_EQ(response.Header("retry-after"), "");

  ASSERT_EQ(receiver.RequestCount(), 1u);
  const ReceivedRequest got = receiver.Requests().at(0);
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.target, "/hook?x=1");
  EXPECT_EQ(got.headers.at("x-ordercenter-signature"), "t=1,v1=00");
  EXPECT_EQ(got.headers.at("x-repeated"), "a, b");
  EXPECT_EQ(got.headers.at("content-type"), "application/json");
  EXPECT_EQ(got.headers.count("X-OrderCenter-Signature"), 0u);
  EXPECT_EQ(got.body, kBatch);
  EXPECT_EQ(got.raw_body, kBatch);
  EXPECT_FALSE(got.gzipped);
  EXPECT_EQ(got.status, 200);
  EXPECT_GE(got.received_at_unix_us, before_us);
}

TEST(WebhookReceiverTest, KeepAliveServesHundredRequestsOnOneConnection) {
  WebhookReceiver receiver;
  HttpClient client(receiver.port(), kClientTimeout);
  client.set_retry_stale(false);
  for (int i = 0; i < 100; ++i) {
    HttpResult result = client.Send("POST", "/hook", "{\"n\":" + std::to_string(i) + "}");
    ASSERT_TRUE(result.ok()) << "request " << i << ": " << result.error_message;
    ASSERT_EQ(result.response->status, 200);
  }
  EXPECT_EQ(client.connections_opened(), 1);
  const auto requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 100u);
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].body, "{\"n\":" + std::to_string(i) + "}");
  }
}

TEST(WebhookReceiverTest, PerMinuteLimitAnswers408BeyondNWithRetryAfter) {
  ReceiverBehavior behavior;
  behavior.max_per_minute = 5;
  behavior.retry_after = "30";
  WebhookReceiver receiver(behavior);
  HttpClient client(receiver.port(), kClientTimeout);
  for (int i = 0; i < 8; ++i) {
    HttpResponse response = client.Post("/hook", std::string(kBatch));
    if (i < 5) {
      EXPECT_EQ(response.status, 200) << "request " << i;
      EXPECT_EQ(response.Header("retry-after"), "") << "request " << i;
    } else {
      EXPECT_EQ(response.status, 408) << "request " << i;
      EXPECT_EQ(response.Header("retry-after"), "30") << "request " << i;
      EXPECT_EQ(response.body, R"({"ok":false})");
    }
  }
  const auto requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 8u);
  EXPECT_EQ(requests[4].status, 200);
  EXPECT_EQ(requests[5].status, 408);
}

TEST(WebhookReceiverTest, LimitCountsOnlyAcceptedRequestsAndNeedsNoRetryAfter) {
  ReceiverBehavior behavior;
  behavior.max_per_minute = 3;
  behavior.limit_status = 429;
  behavior.status = [](const ReceivedRequest&, size_t index) { return index < 2 ? 500 : 200; };
  WebhookReceiver receiver(behavior);
  HttpClient client(receiver.port(), kClientTimeout);
  std::vector<int> statuses;
  for (int i = 0; i < 7; ++i) statuses.push_back(client.Post("/hook", std::string("{}")).status);
  // Two failures do not use up the limit: three 200s follow, then the limit answers.
  EXPECT_EQ(statuses, (std::vector<int>{500, 500, 200, 200, 200, 429, 429}));
  HttpResponse limited = client.Post("/hook", std::string("{}"));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.Header("retry-after"), "");  // retry_after not set
}

TEST(WebhookReceiverTest, RetryAfterOn429And503AnswersOnly) {
  ReceiverBehavior behavior;
  behavior.retry_after = "Wed, 21 Oct 2026 07:28:00 GMT";
  behavior.status = [](const ReceivedRequest& request, size_t) {
    return std::stoi(request.target.substr(1));
  };
  WebhookReceiver receiver(behavior);
  HttpClient client(receiver.port(), kClientTimeout);
  for (int status : {429, 503, 500, 400, 200}) {
    HttpResponse response = client.Post("/" + std::to_string(status), std::string("{}"));
    EXPECT_EQ(response.status, status);
    const bool expect_retry_after = status == 429 || status == 503;
    EXPECT_EQ(response.Header("retry-after"),
              expect_retry_after ? "Wed, 21 Oct 2026 07:28:00 GMT" : "")
        << status;
    EXPECT_EQ(response.body, status == 200 ? R"({"ok":true})" : R"({"ok":false})");
  }
}

TEST(WebhookReceiverTest, StatusFunctionSeesEachRequestAndItsIndex) {
  ReceiverBehavior behavior;
  behavior.status = [](const ReceivedRequest& request, size_t index) {
    if (request.body.find("teapot") != std::string::npos) return 418;
    return index % 2 == 0 ? 200 : 502;
  };
  WebhookReceiver receiver(behavior);
  HttpClient client(receiver.port(), kClientTimeout);
  EXPECT_EQ(client.Post("/hook", std::string("{}")).status, 200);
  EXPECT_EQ(client.Post("/hook", std::string("{}")).status, 502);
  EXPECT_EQ(client.Post("/hook", std::string("{\"teapot\":1}")).status, 418);
  EXPECT_EQ(client.Post("/hook", std::string("{}")).status, 502);
  std::vector<int> recorded;
  for (const auto& r : receiver.Requests()) recorded.push_back(r.status);
  EXPECT_EQ(recorded, (std::vector<int>{200, 502, 418, 502}));
}

TEST(WebhookReceiverTest, BadStatusCallbacksAnswer500AndNoContentHasNoBody) {
  ReceiverBehavior behavior;
  behavior.status = [](const ReceivedRequest& request, size_t) -> int {
    if (request.target == "/throw") throw std::runtime_error("callback bug");
    if (request.target == "/nonsense") return 42;
    return 204;
  };
  WebhookReceiver receiver(behavior);
  HttpClient client(receiver.port(), kClientTimeout);
  EXPECT_EQ(client.Post("/throw", std::string("{}")).status, 500);
  EXPECT_EQ(client.Post("/nonsense", std::string("{}")).status, 500);
  HttpResponse no_content = client.Post("/hook", std::string("{}"));
  EXPECT_EQ(no_content.status, 204);
  EXPECT_EQ(no_content.body, "");
  // The connection is still usable after a bodiless answer.
  EXPECT_EQ(client.Post("/hook", std::string("{}")).status, 204);
  EXPECT_EQ(client.connections_opened(), 1);
}

TEST(WebhookReceiverTest, GzipBodyIsDecodedAndGzipAdvertised) {
  ReceiverBehavior behavior;
  behavior.advertise_gzip = true;
  WebhookReceiver receiver(behavior);
  HttpClient client(receiver.port(), kClientTimeout);
  std::string batch;
  for (int i = 0; i < 200; ++i) batch += kBatch;  // repetitive, so it compresses
  const std::string compressed = GzipCompress(batch);
  ASSERT_LT(compressed.size(), batch.size());
  HttpResponse response = client.Post("/hook", compressed, {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.Header("accept-encoding"), "gzip");
  const ReceivedRequest got = receiver.Requests().at(0);
  EXPECT_TRUE(got.gzipped);
  EXPECT_EQ(got.body, batch);
  EXPECT_EQ(got.raw_body, compressed);
}

TEST(WebhookReceiverTest, MalformedGzipIsRecordedEmptyAndAnswered400) {
  WebhookReceiver receiver;
  HttpClient client(receiver.port(), kClientTimeout);
  const std::string compressed = GzipCompress(kBatch);
  const std::string truncated = compressed.substr(0, compressed.size() / 2);
  for (const std::string& bad : {std::string("not gzip at all"), truncated}) {
    HttpResponse response = client.Post("/hook", bad, {{"Content-Encoding", "gzip"}});
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(response.body, R"({"ok":false})");
  }
  EXPECT_EQ(client.Post("/hook", std::string(kBatch)).status, 200);
  const auto requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 3u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(requests[i].gzipped);
    EXPECT_EQ(requests[i].body, "");
    EXPECT_FALSE(requests[i].raw_body.empty());
    EXPECT_EQ(requests[i].status, 400);
  }
}

TEST(WebhookReceiverTest, BytesThatAreNotHttpDoNotHurtTheReceiver) {
  WebhookReceiver receiver;
  HttpClient client(receiver.port(), kClientTimeout);
  HttpResult garbage = client.SendRaw(std::string("\x16\x03\x01 not http at all\r\n\r\n"));
  EXPECT_FALSE(garbage.ok());
  HttpResult huge_length =
      client.SendRaw("POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n");
  EXPECT_FALSE(huge_length.ok());
  // HTTP/1.0 without keep-alive: answered, then the receiver closes.
  HttpResult http10 = client.SendRaw("GET /old HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(http10.ok()) << http10.error_message;
  EXPECT_EQ(http10.response->status, 200);
  EXPECT_EQ(client.Post("/hook", std::string(kBatch)).status, 200);
  EXPECT_EQ(receiver.RequestCount(), 2u);
}

TEST(WebhookReceiverTest, SignatureRoundTripsAndMatchesKnownVector) {
  // printf '%s' '1700000000.{"events":[]}' | openssl dgst -sha256 -hmac whsec_test
  const std::string known =
      "t=1700000000,v1=4f6f9b7a41398ad124e52a1320534f978e522923f3f2b2724e31d7a9dbf78a7f";
  EXPECT_EQ(SignOrderCenterBody(kSecret, 1700000000, R"({"events":[]})"), known);
  int64_t t = 0;
  EXPECT_TRUE(VerifyOrderCenterSignature(known, kSecret, R"({"events":[]})", &t));
  EXPECT_EQ(t, 1700000000);

  const std::string header = SignOrderCenterBody(kSecret, 1800000000, kBatch);
  EXPECT_TRUE(VerifyOrderCenterSignature(header, kSecret, kBatch));
  std::string upper_hex = header;
  for (size_t i = upper_hex.find("v1=") + 3; i < upper_hex.size(); ++i) {
    upper_hex[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper_hex[i])));
  }
  EXPECT_TRUE(VerifyOrderCenterSignature(upper_hex, kSecret, kBatch));
}

TEST(WebhookReceiverTest, ForgedOrMalformedSignaturesAreRejected) {
  const std::string good = SignOrderCenterBody(kSecret, 1700000000, kBatch);
  const std::string hex = good.substr(good.find("v1=") + 3);
  EXPECT_FALSE(VerifyOrderCenterSignature(good, "wrong-secret", kBatch));
  EXPECT_FALSE(VerifyOrderCenterSignature(good, kSecret, std::string(kBatch) + " "));
  // Same MAC, different timestamp: the timestamp is signed too.
  EXPECT_FALSE(VerifyOrderCenterSignature("t=1700000001,v1=" + hex, kSecret, kBatch));
  std::string flipped = hex;
  flipped[10] = flipped[10] == '0' ? '1' : '0';
  EXPECT_FALSE(VerifyOrderCenterSignature("t=1700000000,v1=" + flipped, kSecret, kBatch));
  EXPECT_FALSE(
      VerifyOrderCenterSignature("t=1700000000,v1=" + std::string(64, '0'), kSecret, kBatch));
  int64_t t = -1;
  const std::vector<std::string> malformed_headers = {"",
                                                      "garbage",
                                                      "v1=" + hex,
                                                      "t=1700000000",
                                                      "t=1700000000,v1=",
                                                      "t=,v1=" + hex,
                                                      "t=abc,v1=" + hex,
                                                      "t=-5,v1=" + hex,
                                                      "t=1700000000, v1=" + hex,
                                                      "t=1700000000,v1=" + hex + "00",
                                                      "t=1700000000,v1=" + hex.substr(2),
                                                      "t=1700000000,v1=" + hex.substr(0, 62) + "zz",
                                                      "v1=" + hex + ",t=1700000000",
                                                      "t=99999999999999999999,v1=" + hex};
  for (const std::string& malformed : malformed_headers) {
    EXPECT_FALSE(VerifyOrderCenterSignature(malformed, kSecret, kBatch, &t)) << malformed;
  }
  EXPECT_EQ(t, -1);  // never set by a header that does not parse
}

TEST(WebhookReceiverTest, SignedDeliveryVerifiesFromRecordedHeader) {
  WebhookReceiver receiver;
  HttpClient client(receiver.port(), kClientTimeout);
  const std::string signature = SignOrderCenterBody(kSecret, 1700000123, kBatch);
  const std::string compressed = GzipCompress(kBatch);
  EXPECT_EQ(client
                .Post("/hook", compressed,
                      {{"Content-Encoding", "gzip"}, {"X-OrderCenter-Signature", signature}})
                .status,
            200);
  const ReceivedRequest got = receiver.Requests().at(0);
  int64_t t = 0;
  EXPECT_TRUE(
      VerifyOrderCenterSignature(got.headers.at("x-ordercenter-signature"), kSecret, got.body, &t));
  EXPECT_EQ(t, 1700000123);
}

TEST(WebhookReceiverTest, SetBehaviorChangesAnswersMidRun) {
  WebhookReceiver receiver;
  HttpClient client(receiver.port(), kClientTimeout);
  EXPECT_EQ(client.Post("/hook", std::string("{}")).status, 200);

  ReceiverBehavior unavailable;
  unavailable.status = [](const ReceivedRequest&, size_t) { return 503; };
  unavailable.retry_after = "7";
  receiver.SetBehavior(unavailable);
  HttpResponse response = client.Post("/hook", std::string("{}"));
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.Header("retry-after"), "7");

  ReceiverBehavior limited;
  limited.max_per_minute = 2;  // the first 200 above counts toward it
  receiver.SetBehavior(limited);
  EXPECT_EQ(client.Post("/hook", std::string("{}")).status, 200);
  EXPECT_EQ(client.Post("/hook", std::string("{}")).status, 408);

  receiver.SetBehavior(ReceiverBehavior{});
  EXPECT_EQ(client.Post("/hook", std::string("{}")).status, 200);
  EXPECT_EQ(client.connections_opened(), 1);
  std::vector<int> recorded;
  for (const auto& r : receiver.Requests()) recorded.push_back(r.status);
  EXPECT_EQ(recorded, (std::vector<int>{200, 503, 200, 408, 200}));
}

TEST(WebhookReceiverTest, DelayHoldsTheAnswerAndASlowPartnerTimesTheSenderOut) {
  ReceiverBehavior behavior;
  behavior.delay = milliseconds(300);
  WebhookReceiver receiver(behavior);
  HttpClient patient(receiver.port(), kClientTimeout);
  const auto start = SteadyClock::now();
  EXPECT_EQ(patient.Post("/hook", std::string("{}")).status, 200);
  EXPECT_GE(ElapsedMs(start), 300);

  HttpClient impatient(receiver.port(), milliseconds(50));
  HttpResult result = impatient.Send("POST", "/hook", "{}");
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.error, TransportError::kTimeout) << result.error_message;
  // The request was still received (the sender cannot know it was).
  EXPECT_TRUE(receiver.WaitForRequests(2, kWaitTimeout));
}

TEST(WebhookReceiverTest, EightConcurrentConnectionsAreServedInParallel) {
  constexpr int kClients = 8;
  constexpr int kRequestsPerClient = 25;
  constexpr milliseconds kDelay{500};
  ReceiverBehavior behavior;
  behavior.delay = kDelay;
  WebhookReceiver receiver(behavior);
  std::vector<std::unique_ptr<HttpClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<HttpClient>(receiver.port(), kClientTimeout));
  }
  std::atomic<int> ok_count{0};
  std::latch go(kClients);
  const auto start = SteadyClock::now();
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kClients; ++i) {
      threads.emplace_back([&, i] {
        go.arrive_and_wait();
        HttpResult r = clients[i]->Send("POST", "/hook", "{\"client\":" + std::to_string(i) + "}");
        if (r.ok() && r.response->status == 200) ++ok_count;
      });
    }
  }
  // Served one after another this would take kClients * kDelay = 4 s.
  EXPECT_LT(ElapsedMs(start), 2500);
  EXPECT_EQ(ok_count.load(), kClients);

  receiver.SetBehavior(ReceiverBehavior{});
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kClients; ++i) {
      threads.emplace_back([&, i] {
        for (int n = 0; n < kRequestsPerClient; ++n) {
          HttpResult r = clients[i]->Send("POST", "/hook", "{}");
          if (r.ok() && r.response->status == 200) ++ok_count;
        }
      });
    }
  }
  EXPECT_EQ(ok_count.load(), kClients * (1 + kRequestsPerClient));
  EXPECT_EQ(receiver.RequestCount(), static_cast<size_t>(kClients * (1 + kRequestsPerClient)));
  for (const auto& client : clients) EXPECT_EQ(client->connections_opened(), 1);
}

TEST(WebhookReceiverTest, WaitForRequestsTimesOutWithFalse) {
  WebhookReceiver receiver;
  const auto start = SteadyClock::now();
  EXPECT_FALSE(receiver.WaitForRequests(1, milliseconds(200)));
  const int64_t waited_ms = ElapsedMs(start);
  EXPECT_GE(waited_ms, 200);
  EXPECT_LT(waited_ms, 2000);
  EXPECT_TRUE(receiver.WaitForRequests(0, milliseconds(0)));
}

TEST(WebhookReceiverTest, WaitForWakesWhenAMatchingRequestArrives) {
  WebhookReceiver receiver;
  std::jthread sender([&] {
    HttpClient client(receiver.port(), kClientTimeout);
    for (const char* target : {"/a", "/b", "/wanted"}) client.Send("POST", target, "{}");
  });
  EXPECT_TRUE(receiver.WaitFor(
      [](const std::vector<ReceivedRequest>& requests) {
        return !requests.empty() && requests.back().target == "/wanted";
      },
      kWaitTimeout));
  EXPECT_FALSE(receiver.WaitFor(
      [](const std::vector<ReceivedRequest>& requests) { return requests.size() > 3; },
      milliseconds(50)));
}

TEST(WebhookReceiverTest, StopClosesIdleAndDelayedConnectionsPromptly) {
  WebhookReceiver receiver;
  std::vector<std::unique_ptr<HttpClient>> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(std::make_unique<HttpClient>(receiver.port(), kClientTimeout));
    ASSERT_EQ(idle.back()->Post("/hook", std::string("{}")).status, 200);
  }
  ReceiverBehavior slow;
  slow.delay = seconds(30);
  receiver.SetBehavior(slow);
  HttpResult delayed;
  std::jthread waiting_sender([&] {
    HttpClient client(receiver.port(), seconds(60));
    client.set_retry_stale(false);
    delayed = client.Send("POST", "/hook", "{}");
  });
  ASSERT_TRUE(receiver.WaitForRequests(9, kWaitTimeout));

  const auto start = SteadyClock::now();
  receiver.Stop();
  EXPECT_LT(ElapsedMs(start), 2000);
  waiting_sender.join();
  EXPECT_FALSE(delayed.ok());
  EXPECT_LT(ElapsedMs(start), 5000);  // the sender saw the close, not its own 60 s timeout

  receiver.Stop();  // idempotent
  EXPECT_EQ(receiver.RequestCount(), 9u);
  HttpClient late(receiver.port(), seconds(2));
  HttpResult refused = late.Send("POST", "/hook", "{}");
  EXPECT_FALSE(refused.ok());
}

TEST(WebhookReceiverTest, DestructorWithOpenConnectionsReturns) {
  const auto start = SteadyClock::now();
  std::unique_ptr<HttpClient> client;
  {
    WebhookReceiver receiver;
    client = std::make_unique<HttpClient>(receiver.port(), kClientTimeout);
    ASSERT_EQ(client->Post("/hook", std::string("{}")).status, 200);
  }
  EXPECT_LT(ElapsedMs(start), 2000);
}

TEST(WebhookReceiverTest, GunzipAcceptsMembersAndRejectsBadInput) {
  std::string out;
  EXPECT_TRUE(Gunzip(GzipCompress("hello"), &out));
  EXPECT_EQ(out, "hello");
  EXPECT_TRUE(Gunzip(GzipCompress(""), &out));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(Gunzip(GzipCompress("hello, ") + GzipCompress("world"), &out));
  EXPECT_EQ(out, "hello, world");

  const std::string good = GzipCompress(kBatch);
  for (const std::string& bad :
       {std::string(), std::string("plain"), good.substr(0, good.size() - 1), good.substr(0, 10),
        good + "trailing", std::string(kBatch)}) {
    out = "stale";
    EXPECT_FALSE(Gunzip(bad, &out)) << bad.size();
    EXPECT_EQ(out, "");
  }
}

}  // namespace
}  // namespace oc::itest
