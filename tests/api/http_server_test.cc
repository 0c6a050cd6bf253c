// HttpServer in-process, against raw loopback sockets: pipelined requests answered in order,
// answers from other threads reaching their connection, the three deadlines (a request that
// stalls, an idle keep-alive connection, a client that does not read), and a drain that lets
// in-flight requests finish while it closes idle connections. Timeouts are shortened through
// the options; the checks are on what happens, with generous upper bounds only as guards.
#include "api/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace oc::api {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kGuard{10'000};  // upper bound on waits: a hang fails, nothing else

// Answers by path: /now at once, /later from another thread, /run through Responder::Run,
// /big with a body far larger than socket buffers, /park keeps the request until Unpark().
class TestHandler final : public RequestHandler {
 public:
  TestHandler() : answerer_([this] { AnswerLater(); }) {}
  ~TestHandler() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    answerer_.join();
  }

  void Handle(Request request, std::string, Responder respond) override {
    std::string target(request.target());
    if (target == "/now") {
      respond.Send(Text(request, "now"));
    } else if (target == "/later") {
      std::lock_guard lock(mu_);
      later_.emplace_back(std::move(respond), request.version(), request.keep_alive());
      cv_.notify_all();
    } else if (target == "/run") {
      Response res = Text(request, "run");
      respond.Run([respond, res = std::move(res)]() mutable { respond.Send(std::move(res)); });
    } else if (target == "/auth") {
      respond.Send(
          Text(request, std::string(request[http::field::authorization]) + "|" + request.body()));
    } else if (target == "/big") {
      Response res = Text(request, "");
      res.body().assign(64 << 20, 'x');
      respond.Send(std::move(res));
    } else if (target == "/park") {
      std::lock_guard lock(mu_);
      parked_.emplace_back(std::move(respond), request.version(), request.keep_alive());
      cv_.notify_all();
    } else {
      respond.Send(
          MakeProblem(Status::NotFound("no such path"), request.version(), request.keep_alive()));
    }
  }
  void OnRejected(unsigned status) override {
    std::lock_guard lock(mu_);
    rejected_.push_back(status);
  }

  // Waits for `n` parked requests, then answers them all.
  void Unpark(size_t n) {
    std::unique_lock lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, kGuard, [&] { return parked_.size() >= n; }));
    for (auto& [respond, version, keep_alive] : parked_) {
      Response res(200, version, keep_alive);
      res.body() = "parked";
      respond.Send(std::move(res));
    }
    parked_.clear();
  }
  bool WaitParked(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kGuard, [&] { return parked_.size() >= n; });
  }
  std::vector<unsigned> rejected() {
    std::lock_guard lock(mu_);
    return rejected_;
  }

 private:
  struct Waiting {
    Waiting(Responder r, unsigned v, bool k) : respond(std::move(r)), version(v), keep_alive(k) {}
    Responder respond;
    unsigned version;
    bool keep_alive;
  };
  static Response Text(const Request& request, std::string body) {
    Response res(200, request.version(), request.keep_alive());
    res.set(http::field::content_type, "text/plain");
    res.body() = std::move(body);
    return res;
  }
  void AnswerLater() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !later_.empty(); });
      if (stop_) return;
      Waiting w = std::move(later_.front());
      later_.pop_front();
      lock.unlock();
      Response res(200, w.version, w.keep_alive);
      res.body() = "later";
      w.respond.Send(std::move(res));  // from this thread, not the connection's
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Waiting> later_;
  std::vector<Waiting> parked_;
  std::vector<unsigned> rejected_;
  bool stop_ = false;
  std::thread answerer_;
};

// A blocking loopback client with a receive deadline.
class RawClient {
 public:
  explicit RawClient(uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  bool Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // One response (by Content-Length), or "" if the connection ended or the guard ran out.
  std::string ReadResponse() {
    auto deadline = Clock::now() + kGuard;
    while (true) {
      size_t head_end = buffer_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t cl = buffer_.find("Content-Length: ");
        size_t length = cl < head_end ? std::stoul(buffer_.substr(cl + 16)) : 0;
        if (buffer_.size() >= head_end + 4 + length) {
          std::string response = buffer_.substr(0, head_end + 4 + length);
          buffer_.erase(0, response.size());
          return response;
        }
      }
      if (!ReadSome(deadline)) return "";
    }
  }

  // True once the server has closed the connection (EOF or reset), false if the guard ran out
  // first. Whatever arrives before is discarded.
  bool WaitClosed() {
    auto deadline = Clock::now() + kGuard;
    while (ReadSome(deadline)) buffer_.clear();
    return Clock::now() < deadline;
  }

 private:
  bool ReadSome(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

std::string Get(const std::string& path, bool close = false) {
  return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + (close ? "Connection: close\r\n" : "") +
         "\r\n";
}

std::string BodyOf(const std::string& response) {
  size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options = {}) {
    options.threads = 2;
    options.requests_in_flight = &in_flight_;
    auto s = HttpServer::Start(options, handler_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
  }
  void TearDown() override {
    if (server_) {
      server_->Drain(milliseconds(2000));
      server_->Stop();
    }
    EXPECT_EQ(in_flight_.Read(), 0);  // every request left the count, however it ended
  }
  uint16_t port() const { return server_->port(); }
  // Waits (within the guard) until the requests in flight are `n`.
  bool WaitInFlight(int64_t n) {
    auto deadline = Clock::now() + kGuard;
    while (in_flight_.Read() != n) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
  }

  TestHandler handler_;
  ShardedCounter in_flight_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrderFromWhicheverThread) {
  Start();
  RawClient c(port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send(Get("/now") + Get("/later") + Get("/run") + Get("/nope") + Get("/now")));
  std::vector<std::string> bodies;
  for (int i = 0; i < 5; ++i) bodies.push_back(BodyOf(c.ReadResponse()));
  EXPECT_EQ(bodies[0], "now");
  EXPECT_EQ(bodies[1], "later");
  EXPECT_EQ(bodies[2], "run");
  EXPECT_NE(bodies[3].find("\"not_found\""), std::string::npos) << bodies[3];
  EXPECT_EQ(bodies[4], "now");
}

TEST_F(HttpServerTest, AnswersFromAnotherThreadReachTheirOwnConnection) {
  Start();
  constexpr int kClients = 64;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<RawClient>(port()));
    ASSERT_TRUE(clients.back()->connected());
  }
  for (int round = 0; round < 5; ++round) {
    for (auto& c : clients) ASSERT_TRUE(c->Send(Get(round % 2 ? "/later" : "/run")));
    for (auto& c : clients) EXPECT_EQ(BodyOf(c->ReadResponse()), round % 2 ? "later" : "run");
  }
}

TEST_F(HttpServerTest, ARequestThatStallsIsCutOffAfterTheReadTimeout) {
  HttpServerOptions options;
  options.request_read_timeout = milliseconds(300);
  Start(options);
  RawClient stalled(port());
  ASSERT_TRUE(stalled.connected());
  auto start = Clock::now();
  ASSERT_TRUE(stalled.Send("GET /now HTTP/1.1\r\nHost: x\r\n"));  // the header never ends
  EXPECT_TRUE(stalled.WaitClosed());
  EXPECT_GE(Clock::now() - start, milliseconds(300));  // not before its deadline
  // The others are served meanwhile and after.
  RawClient other(port());
  ASSERT_TRUE(other.Send(Get("/now")));
  EXPECT_EQ(BodyOf(other.ReadResponse()), "now");
}

TEST_F(HttpServerTest, AnIdleKeepAliveConnectionIsClosedAfterItsTimeout) {
  HttpServerOptions options;
  options.keep_alive_idle_timeout = milliseconds(300);
  Start(options);
  RawClient c(port());
  // Taken before the request: the idle time starts when the server has written the answer,
  // which the client sees a moment later (on a loaded host, more than a clock tick later).
  auto before_idle = Clock::now();
  ASSERT_TRUE(c.Send(Get("/now")));
  ASSERT_EQ(BodyOf(c.ReadResponse()), "now");
  EXPECT_TRUE(c.WaitClosed());
  EXPECT_GE(Clock::now() - before_idle, milliseconds(300));  // not before its deadline
}

TEST_F(HttpServerTest, AClientThatDoesNotReadItsAnswerIsCutOff) {
  HttpServerOptions options;
  options.response_write_timeout = milliseconds(300);
  Start(options);
  RawClient slow(port(), /*rcvbuf=*/4096);
  auto start = Clock::now();
  ASSERT_TRUE(slow.Send(Get("/big")));  // 64 MiB that this client does not read yet
  // The request is counted in flight once read, and leaves the count when the server gives up
  // on its answer.
  EXPECT_TRUE(WaitInFlight(1));
  EXPECT_TRUE(WaitInFlight(0));
  EXPECT_GE(Clock::now() - start, milliseconds(300));  // not before its deadline
  EXPECT_TRUE(slow.WaitClosed());                      // what was sent before the cut, then the end
  RawClient other(port());
  ASSERT_TRUE(other.Send(Get("/now")));
  EXPECT_EQ(BodyOf(other.ReadResponse()), "now");
}

TEST_F(HttpServerTest, ADrainFinishesRequestsInFlightAndClosesIdleConnections) {
  Start();
  RawClient idle(port());
  ASSERT_TRUE(idle.Send(Get("/now")));
  ASSERT_EQ(BodyOf(idle.ReadResponse()), "now");
  RawClient busy(port());
  ASSERT_TRUE(busy.Send(Get("/park")));
  ASSERT_TRUE(handler_.WaitParked(1));
  std::thread drain([this] { server_->Drain(kGuard); });
  EXPECT_TRUE(idle.WaitClosed());  // closed by the drain while the parked one still waits
  handler_.Unpark(1);
  std::string answer = busy.ReadResponse();
  EXPECT_EQ(BodyOf(answer), "parked");
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  drain.join();
  EXPECT_TRUE(busy.WaitClosed());
  RawClient late(port());  // no longer accepted
  EXPECT_TRUE(!late.connected() || late.WaitClosed());
}

TEST_F(HttpServerTest, BrokenRequestsAreRefusedWithProblemJsonAndTheConnectionClosed) {
  Start();
  RawClient c(port());
  ASSERT_TRUE(c.Send("NOT HTTP AT ALL\r\n\r\n"));
  std::string answer = c.ReadResponse();
  EXPECT_EQ(answer.rfind("HTTP/1.1 400 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("application/problem+json"), std::string::npos) << answer;
  EXPECT_TRUE(c.WaitClosed());
  // A request cut short by the client's half-close is refused too, and the answer still
  // reaches it.
  RawClient half(port());
  ASSERT_TRUE(half.Send("GET /now HTTP/1.1\r\nHost"));
  half.ShutdownWrite();
  answer = half.ReadResponse();
  EXPECT_EQ(answer.rfind("HTTP/1.1 400 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("ended early"), std::string::npos) << answer;
  EXPECT_EQ(handler_.rejected(), (std::vector<unsigned>{400, 400}));
}

TEST_F(HttpServerTest, AChunkedBodysTrailerCannotAddHeaderFields) {
  Start();
  RawClient c(port());
  ASSERT_TRUE(
      c.Send("POST /auth HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
             "Trailer: Authorization\r\n\r\n"
             "5\r\nhello\r\n0\r\nAuthorization: Bearer sneaky\r\n\r\n"));
  EXPECT_EQ(BodyOf(c.ReadResponse()), "|hello");  // the body arrived; the trailer was dropped
  ASSERT_TRUE(
      c.Send("POST /auth HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer real\r\n"
             "Content-Length: 2\r\n\r\nhi"));
  EXPECT_EQ(BodyOf(c.ReadResponse()), "Bearer real|hi");
}

}  // namespace
}  // namespace oc::api
