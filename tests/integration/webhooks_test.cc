// Status sync to partners (issue 4) against the real orderd over HTTP, with real receivers on
// 127.0.0.1: signed batches in order per order, a 100-requests-a-minute partner that never sees
// a 408, dead letters after exactly 3 retries with replay keeping the order, kill -9 in the
// middle of delivery, and the checks that stop server-side request forgery.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/itest_util.h"
#include "integration/orderd_harness.h"
#include "integration/webhook_receiver.h"

namespace oc::itest {
namespace {

namespace bj = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kSecret = "integration-test-secret-0123456789";

struct Event {
  std::string id;
  std::string type;
  std::string order_id;
  int64_t version = 0;
  std::string status;
};

// Every event in the receiver's 2xx-answered requests, in arrival order.
std::vector<Event> Delivered(const std::vector<ReceivedRequest>& requests) {
  std::vector<Event> out;
  for (const auto& r : requests) {
    if (r.status < 200 || r.status >= 300) continue;
    bj::value v = bj::parse(r.body);
    for (const auto& e : v.at("events").as_array()) {
      const bj::object& o = e.as_object();
      out.push_back(
          Event{std::string(o.at("id").as_string()), std::string(o.at("type").as_string()),
                std::string(o.at("order_id").as_string()), o.at("order_version").as_int64(),
                std::string(o.at("status").as_string())});
    }
  }
  return out;
}

// Distinct event ids among `events`.
size_t DistinctIds(const std::vector<Event>& events) {
  std::set<std::string> ids;
  for (const auto& e : events) ids.insert(e.id);
  return ids.size();
}

// Per order, versions never go backwards (re-deliveries may repeat one).
std::string OrderViolation(const std::vector<Event>& events) {
  std::map<std::string, int64_t> last;
  for (const auto& e : events) {
    int64_t& v = last[e.order_id];
    if (e.version < v) {
      return e.order_id + ": version " + std::to_string(e.version) + " after " + std::to_string(v);
    }
    v = e.version;
  }
  return "";
}

// A throwaway CA and a certificate for 127.0.0.1 signed by it, made with the openssl CLI.
struct TestPki {
  std::string ca, cert, key;
};
bool MakeTestPki(const std::string& dir, TestPki* out) {
  std::string script = dir + "/pki.sh";
  std::ofstream(script)
      << "set -e\ncd '" << dir << "'\n"
      << "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
         "-keyout ca.key -out ca.pem -subj '/CN=OrderCenter test CA' "
         "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign 2>/dev/null\n"
      << "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
         "-keyout server.key -out server.csr -subj '/CN=127.0.0.1' 2>/dev/null\n"
      << "printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n' > ext.cnf\n"
      << "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
         "-extfile ext.cnf -out server.pem 2>/dev/null\n";
  if (std::system(("sh '" + script + "'").c_str()) != 0) return false;
  *out = TestPki{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key"};
  return true;
}

// An https partner: TLS with the test certificate, records the bodies and signatures it gets.
// A thread per connection (the relay keeps one per subscription).
class TlsReceiver {
 public:
  explicit TlsReceiver(const TestPki& pki) {
    ctx_.use_certificate_chain_file(pki.cert);
    ctx_.use_private_key_file(pki.key, boost::asio::ssl::context::pem);
    acceptor_.open(boost::asio::ip::tcp::v4());
    acceptor_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    accepting_ = std::thread([this] { Accept(); });
  }
  ~TlsReceiver() {
    stop_ = true;
    boost::asio::io_context io;  // wake the blocking accept()
    boost::asio::ip::tcp::socket poke(io);
    boost::system::error_code ec;
    poke.connect({boost::asio::ip::make_address("127.0.0.1"), port()}, ec);
    accepting_.join();
    {
      // Synchronous reads have no deadline: end those in progress by shutting sockets down.
      std::lock_guard lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : serving_) t.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::pair<std::string, std::string>> Received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  int handshake_failures() const { return handshake_failures_.load(); }

 private:
  void Accept() {
    while (!stop_) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stop_) continue;
      {
        std::lock_guard lock(mu_);
        fds_.push_back(socket.native_handle());
      }
      serving_.emplace_back([this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
    }
  }

  void Serve(boost::asio::ip::tcp::socket socket) {
    namespace beast = boost::beast;
    namespace http = boost::beast::http;
    boost::system::error_code ec;
    int fd = socket.native_handle();
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), ctx_);
    // Destroyed before `stream`: the fd leaves the list while it is still this socket's.
    std::shared_ptr<void> forget(nullptr, [this, fd](void*) {
      std::lock_guard lock(mu_);
      std::erase(fds_, fd);
    });
    stream.handshake(boost::asio::ssl::stream_base::server, ec);
    if (ec) {
      ++handshake_failures_;
      return;
    }
    beast::flat_buffer buffer;
    while (!stop_) {
      http::request<http::string_body> req;
      http::read(stream, buffer, req, ec);
      if (ec) return;
      {
        std::lock_guard lock(mu_);
        received_.emplace_back(req.body(), std::string(req["X-OrderCenter-Signature"]));
      }
      http::response<http::string_body> res{http::status::ok, req.version()};
      res.keep_alive(true);
      res.body() = "{}";
      res.prepare_payload();
      http::write(stream, res, ec);
      if (ec) return;
    }
  }

  boost::asio::io_context io_;
  boost::asio::ssl::context ctx_{boost::asio::ssl::context::tls_server};
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  std::thread accepting_;
  std::vector<std::thread> serving_;  // accepting_ thread only, until it is joined
  std::atomic<bool> stop_{false};
  std::atomic<int> handshake_failures_{0};
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::pair<std::string, std::string>> received_;
};

class WebhooksTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> extra = {"--allow-private-webhooks",
                                                     "--webhook-retry-base-ms=20"}) {
    ASSERT_TRUE(server_.Start(extra));
    if (admin_.key.empty()) {
      admin_ = CreateKey(server_.data_dir(), "admin", "root");
      douyin_ = CreateKey(server_.data_dir(), "channel", "dy", "douyin");
    }
    admin_client_ = server_.Client(admin_.key);
    channel_ = server_.Client(douyin_.key);
  }

  std::string Subscribe(const std::string& url, int64_t per_minute, int64_t batch_max) {
    bj::object body{{"url", url},
                    {"events", bj::array{"order.created", "order.status_changed"}},
                    {"secret", kSecret},
                    {"max_per_minute", per_minute},
                    {"batch_max", batch_max}};
    HttpResponse r = admin_client_->Post("/v1/subscriptions", bj::serialize(body));
    EXPECT_EQ(r.status, 201) << r.Describe();
    return Str(Obj(r), "id");
  }

  std::string CreateOrder(HttpClient& c, const std::string& coid) {
    HttpResponse r = c.Post("/v1/orders", bj::serialize(MakeOrder("douyin", coid)));
    EXPECT_EQ(r.status, 201) << r.Describe();
    return Str(Obj(r), "id");
  }

  void Pay(HttpClient& c, const std::string& id) {
    HttpResponse r = c.Post("/v1/orders/" + id + "/transitions", TransitionBody("paid", 1));
    EXPECT_EQ(r.status, 200) << r.Describe();
  }

  TestServer server_;
  ApiKey admin_;
  ApiKey douyin_;
  std::unique_ptr<HttpClient> admin_client_;
  std::unique_ptr<HttpClient> channel_;
};

TEST_F(WebhooksTest, SignedBatchesArriveInOrderPerOrderAndATamperedBodyFailsVerification) {
  StartServer();
  WebhookReceiver receiver;
  std::string sub = Subscribe(receiver.Url(), 60000, 50);
  ASSERT_FALSE(sub.empty());
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(CreateOrder(*channel_, "SIGN-" + std::to_string(i)));
  for (const auto& id : ids) Pay(*channel_, id);
  ASSERT_TRUE(
      receiver.WaitFor([](const auto& rs) { return Delivered(rs).size() >= 40; }, seconds(30)));
  auto requests = receiver.Requests();
  for (const auto& r : requests) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/hook");
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    int64_t t = 0;
    ASSERT_TRUE(
        VerifyOrderCenterSignature(r.headers.at("x-ordercenter-signature"), kSecret, r.body, &t))
        << r.headers.at("x-ordercenter-signature");
    EXPECT_NEAR(static_cast<double>(t), static_cast<double>(std::time(nullptr)), 120.0);
    std::string tampered = r.body;
    tampered[tampered.size() / 2] ^= 1;
    EXPECT_FALSE(
        VerifyOrderCenterSignature(r.headers.at("x-ordercenter-signature"), kSecret, tampered));
    EXPECT_FALSE(VerifyOrderCenterSignature(r.headers.at("x-ordercenter-signature"),
                                            "another-secret-entirely-xx", r.body));
  }
  auto events = Delivered(requests);
  EXPECT_EQ(events.size(), 40u);
  EXPECT_EQ(DistinctIds(events), 40u);
  EXPECT_EQ(OrderViolation(events), "");
  std::map<std::string, std::vector<std::string>> per_order;
  for (const auto& e : events) per_order[e.order_id].push_back(e.type + ":" + e.status);
  for (const auto& id : ids) {
    EXPECT_EQ(per_order[id], (std::vector<std::string>{"order.created:pending_payment",
                                                       "order.status_changed:paid"}))
        << id;
  }
  // Health is visible (the worker books a delivery just after the partner answered: wait for it).
  bj::object view;
  EXPECT_TRUE(WaitFor(
      [&] {
        HttpResponse got = admin_client_->Get("/v1/subscriptions/" + sub);
        view = Obj(got);
        return got.status == 200 && Int(view, "stats.delivered") == 40 &&
               Int(view, "stats.queue_depth") == 0;
      },
      seconds(10)))
      << bj::serialize(view);
  EXPECT_FALSE(view.contains("secret"));
  // Stored sealed: a copy of the database cannot sign deliveries (and the signatures above
  // verified, so the sealed secret opens again).
  auto stored = SqliteReader(server_.db_path()).Rows("SELECT secret FROM subscriptions");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0][0].find(kSecret), std::string::npos);
  EXPECT_TRUE(stored[0][0].starts_with("oc1:")) << stored[0][0];
  EXPECT_EQ(Int(view, "stats.dead"), 0);
  HttpResponse metrics = admin_client_->Get("/metrics");
  EXPECT_NE(
      metrics.body.find("ordercenter_webhook_delivered_total{subscription=\"" + sub + "\"} 40"),
      std::string::npos);
}

// The seed's case study: a platform that allows 100 callbacks a minute and answers 408 above
// it. 5,000 changes arrive, all of them, in order per order, and the partner never says 408.
TEST_F(WebhooksTest, AHundredAMinutePartnerGetsFiveThousandChangesWithoutA408) {
  StartServer();
  ReceiverBehavior partner;
  partner.max_per_minute = 100;
  partner.limit_status = 408;
  WebhookReceiver receiver(partner);
  std::string sub = Subscribe(receiver.Url(), 100, 1000);
  std::atomic<int> next{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 16; ++t) {
    clients.emplace_back([&] {
      auto c = server_.Client(douyin_.key);
      while (true) {
        int i = next.fetch_add(1);
        if (i >= 2500) return;
        std::string id = CreateOrder(*c, "RATE-" + std::to_string(i));
        Pay(*c, id);
      }
    });
  }
  for (auto& t : clients) t.join();
  ASSERT_TRUE(
      receiver.WaitFor([](const auto& rs) { return Delivered(rs).size() >= 5000; }, seconds(90)))
      << "delivered " << Delivered(receiver.Requests()).size();
  auto requests = receiver.Requests();
  int refused = 0;
  for (const auto& r : requests) refused += r.status == 408 ? 1 : 0;
  EXPECT_EQ(refused, 0);
  EXPECT_LE(requests.size(), 100u);
  auto events = Delivered(requests);
  EXPECT_EQ(DistinctIds(events), 5000u);
  EXPECT_EQ(OrderViolation(events), "");
}

TEST_F(WebhooksTest, AFailingPartnerGetsExactlyThreeRetriesThenDeadLettersAndReplayKeepsOrder) {
  StartServer();
  std::atomic<bool> failing{true};
  std::string poisoned_order;
  std::mutex mu;
  ReceiverBehavior b;
  b.status = [&](const ReceivedRequest& r, size_t) {
    std::lock_guard lock(mu);
    bool mine = !poisoned_order.empty() && r.body.find(poisoned_order) != std::string::npos;
    return failing && mine ? 503 : 200;
  };
  WebhookReceiver receiver(b);
  std::string sub = Subscribe(receiver.Url(), 60000, 1);  // one event per request
  std::string a = CreateOrder(*channel_, "DLQ-A-probe");  // delivered: the path works
  ASSERT_TRUE(
      receiver.WaitFor([](const auto& rs) { return Delivered(rs).size() >= 1; }, seconds(20)));
  {
    std::lock_guard lock(mu);
    poisoned_order = a;  // from now on, A's events fail
  }
  Pay(*channel_, a);
  HttpResponse letters;
  ASSERT_TRUE(WaitFor(
      [&] {
        letters = admin_client_->Get("/v1/dead-letters?subscription_id=" + sub);
        return letters.status == 200 && !Obj(letters).at("items").as_array().empty();
      },
      seconds(30)));
  bj::object page = Obj(letters);
  const bj::object& dead = page.at("items").as_array()[0].as_object();
  EXPECT_EQ(Str(dead, "order_id"), a);
  EXPECT_EQ(Str(dead, "status"), "dead");
  EXPECT_EQ(Int(dead, "attempts"), 4);  // the first try and exactly 3 retries
  int tries = 0;
  for (const auto& r : receiver.Requests()) tries += r.status == 503 ? 1 : 0;
  EXPECT_EQ(tries, 4);
  // A's next change waits behind the dead one; other orders flow.
  HttpResponse ship =
      admin_client_->Post("/v1/orders/" + a + "/transitions", TransitionBody("packed", 2));
  ASSERT_EQ(ship.status, 200) << ship.Describe();
  std::string b_order = CreateOrder(*channel_, "DLQ-B");
  ASSERT_TRUE(receiver.WaitFor(
      [&](const auto& rs) {
        for (const auto& e : Delivered(rs)) {
          if (e.order_id == b_order) return true;
        }
        return false;
      },
      seconds(20)));
  // A's packed event (version 3) was never even attempted: it is parked behind the dead one.
  EXPECT_TRUE(WaitFor(
      [&] {
        HttpResponse v = admin_client_->Get("/v1/subscriptions/" + sub);
        return Int(Obj(v), "stats.dead") == 1 && Int(Obj(v), "stats.parked") == 1;
      },
      seconds(10)));
  for (const auto& r : receiver.Requests()) {
    bj::value v = bj::parse(r.body);
    for (const auto& e : v.at("events").as_array()) {
      EXPECT_FALSE(e.at("order_id").as_string() == a && e.at("order_version").as_int64() >= 3)
          << "A's later event was sent before its dead one was replayed";
    }
  }
  // The partner is fixed; replay delivers the dead event and then the parked one, in order.
  failing = false;
  HttpResponse replay =
      admin_client_->Post("/v1/dead-letters/" + Str(dead, "id") + "/replay", std::string());
  ASSERT_EQ(replay.status, 202) << replay.Describe();
  ASSERT_TRUE(receiver.WaitFor(
      [&](const auto& rs) {
        int n = 0;
        for (const auto& e : Delivered(rs)) n += e.order_id == a ? 1 : 0;
        return n >= 3;
      },
      seconds(20)));
  std::vector<int64_t> versions;
  for (const auto& e : Delivered(receiver.Requests())) {
    if (e.order_id == a) versions.push_back(e.version);
  }
  EXPECT_EQ(versions, (std::vector<int64_t>{1, 2, 3}));
  ASSERT_TRUE(WaitFor(
      [&] {
        HttpResponse l = admin_client_->Get("/v1/dead-letters?subscription_id=" + sub);
        return Str(Obj(l).at("items").as_array()[0].as_object(), "status") == "replayed";
      },
      seconds(10)));
  EXPECT_EQ(CheckProblem(admin_client_->Post("/v1/dead-letters/" + Str(dead, "id") + "/replay",
                                             std::string()),
                         409, "dead_letter_replayed"),
            "");
}

// The dead-letter list pages like every list (API.md: ?limit= default 50, ?cursor=,
// next_cursor): every letter once, newest first, and a last page whose next_cursor is null.
// Before, it had no cursor at all and cut the list at 500 without saying so.
TEST_F(WebhooksTest, DeadLettersArePagedByCursorNewestFirst) {
  StartServer();
  ReceiverBehavior b;
  b.status = [](const ReceivedRequest&, size_t) { return 503; };
  WebhookReceiver receiver(b);
  std::string sub = Subscribe(receiver.Url(), 60000, 1);
  constexpr size_t kOrders = 5;
  std::set<std::string> orders;
  for (size_t i = 0; i < kOrders; ++i)
    orders.insert(CreateOrder(*channel_, "DLQ-PAGE-" + std::to_string(i)));
  HttpResponse all;
  ASSERT_TRUE(WaitFor(
      [&] {
        all = admin_client_->Get("/v1/dead-letters?subscription_id=" + sub);
        return all.status == 200 && Obj(all).at("items").as_array().size() == kOrders;
      },
      seconds(30)))
      << all.Describe();
  bj::object whole = Obj(all);
  EXPECT_TRUE(whole.at("next_cursor").is_null());
  std::vector<std::string> newest_first;
  for (const auto& d : whole.at("items").as_array())
    newest_first.push_back(Str(d.as_object(), "id"));

  std::vector<std::string> paged;
  std::set<std::string> paged_orders;
  std::string target = "/v1/dead-letters?limit=2&subscription_id=" + sub;
  int pages = 0;
  for (; pages < 10; ++pages) {
    HttpResponse r = admin_client_->Get(target);
    ASSERT_EQ(r.status, 200) << r.Describe();
    bj::object page = Obj(r);
    ASSERT_LE(page.at("items").as_array().size(), 2u) << r.Describe();
    for (const auto& d : page.at("items").as_array()) {
      paged.push_back(Str(d.as_object(), "id"));
      paged_orders.insert(Str(d.as_object(), "order_id"));
    }
    if (page.at("next_cursor").is_null()) break;
    target = "/v1/dead-letters?limit=2&subscription_id=" + sub +
             "&cursor=" + std::string(page.at("next_cursor").as_string());
  }
  EXPECT_EQ(pages + 1, 3) << "5 letters, 2 a page";
  EXPECT_EQ(paged, newest_first);
  EXPECT_EQ(paged_orders, orders);

  for (const char* bad :
       {"/v1/dead-letters?cursor=c5", "/v1/dead-letters?cursor=d1.2.",
        "/v1/dead-letters?cursor=d1.x.dlq_A", "/v1/dead-letters?cursor=d-1.2.dlq_A",
        "/v1/dead-letters?cursor=d1.2.dlq%27--", "/v1/dead-letters?limit=0",
        "/v1/dead-letters?limit=1&limit=2", "/v1/dead-letters?page=2"}) {
    EXPECT_EQ(CheckProblem(admin_client_->Get(bad), 400, "invalid_request"), "") << bad;
  }
}

TEST_F(WebhooksTest, BodiesAreGzippedOnceThePartnerAcceptsItAndStillVerify) {
  StartServer();
  ReceiverBehavior b;
  b.advertise_gzip = true;
  WebhookReceiver receiver(b);
  // 600/min spaces requests 0.1 s apart, so the orders below pile up into full batches.
  Subscribe(receiver.Url(), 600, 50);
  // One event first: the partner's answer says it accepts gzip; then batches big enough to pack.
  std::string first = CreateOrder(*channel_, "GZ-0");
  ASSERT_TRUE(
      receiver.WaitFor([](const auto& rs) { return Delivered(rs).size() >= 1; }, seconds(20)));
  std::atomic<int> next{1};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      auto c = server_.Client(douyin_.key);
      for (int i = next.fetch_add(1); i <= 200; i = next.fetch_add(1)) {
        CreateOrder(*c, "GZ-" + std::to_string(i));
      }
    });
  }
  for (auto& t : clients) t.join();
  ASSERT_TRUE(receiver.WaitFor([](const auto& rs) { return DistinctIds(Delivered(rs)) >= 201; },
                               seconds(30)));
  int gzipped = 0;
  for (const auto& r : receiver.Requests()) {
    if (!r.gzipped) continue;
    ++gzipped;
    EXPECT_EQ(r.headers.at("content-encoding"), "gzip");
    EXPECT_LT(r.raw_body.size(), r.body.size());
    // Signed over the JSON, not over the compressed bytes.
    EXPECT_TRUE(
        VerifyOrderCenterSignature(r.headers.at("x-ordercenter-signature"), kSecret, r.body));
  }
  EXPECT_GT(gzipped, 0);
}

TEST_F(WebhooksTest, KillNineMidDeliveryLosesNothingAfterRestart) {
  StartServer();
  ReceiverBehavior slow;
  slow.delay = milliseconds(20);
  WebhookReceiver receiver(slow);
  Subscribe(receiver.Url(), 600000, 5);
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) ids.push_back(CreateOrder(*channel_, "KILL-" + std::to_string(i)));
  ASSERT_TRUE(receiver.WaitForRequests(5, seconds(20)));
  server_.Kill();
  size_t before_restart = DistinctIds(Delivered(receiver.Requests()));
  EXPECT_LT(before_restart, 300u) << "delivery finished before the kill; the test proves nothing";
  StartServer();
  ASSERT_TRUE(receiver.WaitFor([](const auto& rs) { return DistinctIds(Delivered(rs)) >= 300; },
                               seconds(60)))
      << DistinctIds(Delivered(receiver.Requests()));
  // Re-deliveries carry the same ids: 300 orders, 300 distinct event ids, however many requests.
  EXPECT_EQ(DistinctIds(Delivered(receiver.Requests())), 300u);
  std::set<std::string> delivered_orders;
  for (const auto& e : Delivered(receiver.Requests())) delivered_orders.insert(e.order_id);
  for (const auto& id : ids) EXPECT_TRUE(delivered_orders.contains(id)) << id;
  EXPECT_EQ(OrderViolation(Delivered(receiver.Requests())), "");
}

TEST_F(WebhooksTest, HttpsDeliveryVerifiesThePartnersCertificateAndHostName) {
  TestPki pki;
  ASSERT_TRUE(MakeTestPki(server_.data_dir() + "/..", &pki)) << "openssl CLI failed";
  StartServer(
      {"--allow-private-webhooks", "--webhook-retry-base-ms=20", "--webhook-ca-file=" + pki.ca});
  TlsReceiver partner(pki);
  std::string good =
      Subscribe("https://127.0.0.1:" + std::to_string(partner.port()) + "/hook", 60000, 50);
  // The certificate names 127.0.0.1, not "localhost": TLS must refuse this one.
  std::string wrong_name =
      Subscribe("https://localhost:" + std::to_string(partner.port()) + "/hook", 60000, 50);
  ASSERT_FALSE(good.empty());
  ASSERT_FALSE(wrong_name.empty());
  std::string id = CreateOrder(*channel_, "TLS-1");
  ASSERT_TRUE(WaitFor([&] { return !partner.Received().empty(); }, seconds(20)));
  auto got = partner.Received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].first.find(id), std::string::npos);
  EXPECT_TRUE(VerifyOrderCenterSignature(got[0].second, kSecret, got[0].first));
  HttpResponse letters;
  ASSERT_TRUE(WaitFor(
      [&] {
        letters = admin_client_->Get("/v1/dead-letters?subscription_id=" + wrong_name);
        return !Obj(letters).at("items").as_array().empty();
      },
      seconds(30)));
  bj::object page = Obj(letters);
  const bj::object& dead = page.at("items").as_array()[0].as_object();
  EXPECT_NE(Str(dead, "last_error").find("TLS"), std::string::npos) << Str(dead, "last_error");
  EXPECT_GE(partner.handshake_failures(), 4);
  EXPECT_EQ(partner.Received().size(), 1u);  // nothing went over the unverified connection
}

TEST_F(WebhooksTest, APartnerThatNeverAnswersTimesOutAndIsRetriedThenDeadLettered) {
  StartServer(
      {"--allow-private-webhooks", "--webhook-retry-base-ms=20", "--webhook-timeout-ms=300"});
  ReceiverBehavior hung;
  hung.delay = std::chrono::milliseconds(60'000);
  WebhookReceiver receiver(hung);
  std::string sub = Subscribe(receiver.Url(), 60000, 50);
  CreateOrder(*channel_, "HUNG-1");
  HttpResponse letters;
  ASSERT_TRUE(WaitFor(
      [&] {
        letters = admin_client_->Get("/v1/dead-letters?subscription_id=" + sub);
        return !Obj(letters).at("items").as_array().empty();
      },
      seconds(30)));
  bj::object page = Obj(letters);
  const bj::object& dead = page.at("items").as_array()[0].as_object();
  EXPECT_EQ(Int(dead, "attempts"), 4);
  EXPECT_NE(Str(dead, "last_error").find("timeout"), std::string::npos) << Str(dead, "last_error");
  EXPECT_EQ(receiver.RequestCount(), 4u);  // each attempt reached the partner once, no resends
  // Deleting the subscription does not wait for the hung partner.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(admin_client_->Request("DELETE", "/v1/subscriptions/" + sub, "").status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, seconds(5));
}

TEST_F(WebhooksTest, APartnerAnswering429IsSlowedAndItsRetryAfterHonoured) {
  StartServer();
  ReceiverBehavior b;
  b.retry_after = "1";
  b.status = [](const ReceivedRequest&, size_t index) { return index < 2 ? 429 : 200; };
  WebhookReceiver receiver(b);
  std::string sub = Subscribe(receiver.Url(), 60000, 50);
  CreateOrder(*channel_, "SLOW-1");
  ASSERT_TRUE(
      receiver.WaitFor([](const auto& rs) { return Delivered(rs).size() >= 1; }, seconds(20)));
  auto requests = receiver.Requests();
  ASSERT_GE(requests.size(), 3u);
  EXPECT_EQ(requests[0].status, 429);
  EXPECT_EQ(requests[1].status, 429);
  EXPECT_EQ(requests[2].status, 200);
  // Retry-After: 1 was waited out both times.
  EXPECT_GE(requests[1].received_at_unix_us - requests[0].received_at_unix_us, 1'000'000);
  EXPECT_GE(requests[2].received_at_unix_us - requests[1].received_at_unix_us, 1'000'000);
  // And the relay lowered its own rate for this partner: halved twice.
  HttpResponse view = admin_client_->Get("/v1/subscriptions/" + sub);
  EXPECT_EQ(Int(Obj(view), "stats.current_limit_per_minute"), 15000);
  EXPECT_EQ(Int(Obj(view), "stats.dead"), 0);
}

TEST_F(WebhooksTest, SubscriptionUrlsAreCheckedAgainstRequestForgery) {
  StartServer({});  // no --allow-private-webhooks
  auto sub = [&](const std::string& url) {
    bj::object body{{"url", url}, {"events", bj::array{"order.created"}}, {"secret", kSecret}};
    return admin_client_->Post("/v1/subscriptions", bj::serialize(body));
  };
  for (const char* url :
       {"http://127.0.0.1:9/hook", "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]:8080/"}) {
    EXPECT_EQ(CheckProblem(sub(url), 422, "webhook_target_not_allowed"), "") << url;
  }
  for (const char* url :
       {"ftp://example.com/", "file:///etc/passwd", "http://u:p@example.com/", "nonsense"}) {
    EXPECT_EQ(CheckProblem(sub(url), 422, "invalid_webhook_url"), "") << url;
  }
  ApiKey ops = CreateKey(server_.data_dir(), "operations", "ops");
  EXPECT_EQ(CheckProblem(server_.Client(ops.key)->Post(
                             "/v1/subscriptions", bj::serialize(bj::object{{"url", "http://x/"}})),
                         403, "forbidden"),
            "");
  bj::object bad_events{
      {"url", "http://127.0.0.1:9/"}, {"events", bj::array{"order.deleted"}}, {"secret", kSecret}};
  EXPECT_EQ(CheckProblem(admin_client_->Post("/v1/subscriptions", bj::serialize(bad_events)), 422,
                         "webhook_target_not_allowed"),
            "");  // the URL is checked first
  EXPECT_EQ(CheckProblem(admin_client_->Get("/v1/subscriptions/sub_NOPE"), 404, "not_found"), "");
  EXPECT_EQ(CheckProblem(admin_client_->Post("/v1/dead-letters/dlq_NOPE/replay", std::string()),
                         404, "not_found"),
            "");
}

}  // namespace
}  // namespace oc::itest
