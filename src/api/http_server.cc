#include "api/http_server.h"

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace oc::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

constexpr std::chrono::milliseconds kAcceptBackoff{50};

std::string_view TitleOf(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return "Invalid request";
    case ErrorKind::kUnprocessable:
      return "Unprocessable request";
    case ErrorKind::kUnauthenticated:
      return "Unauthorized";
    case ErrorKind::kPermissionDenied:
      return "Forbidden";
    case ErrorKind::kNotFound:
      return "Not found";
    case ErrorKind::kMethodNotAllowed:
      return "Method not allowed";
    case ErrorKind::kConflict:
      return "Conflict";
    case ErrorKind::kTooLarge:
      return "Payload too large";
    case ErrorKind::kHeadersTooLarge:
      return "Request header fields too large";
    case ErrorKind::kUnsupportedMedia:
      return "Unsupported media type";
    case ErrorKind::kRateLimited:
      return "Too many requests";
    case ErrorKind::kUnavailable:
      return "Service unavailable";
    case ErrorKind::kIOError:
      return "Storage error";
    case ErrorKind::kInternal:
      return "Internal error";
  }
  return "Error";
}

// Beast's HTTP/1.1 parser, reading into a Request: the fields go into the request's one text
// buffer and the body into its string. Limits are basic_parser's (header_limit, body_limit).
class RequestParser final : public http::basic_parser<true> {
 public:
  Request release() { return std::move(request_); }
  const Request& get() const { return request_; }

 private:
  void on_request_impl(http::verb method, beast::string_view method_string,
                       beast::string_view target, int version, beast::error_code&) override {
    request_.SetRequestLine(method, method_string, target, static_cast<unsigned>(version));
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code& ec) override {
    ec = http::error::bad_version;  // a request parser never sees a status line
  }
  void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code&) override {
    // Trailer fields (after a chunked body) are dropped: the header is what a request is
    // judged by, and a trailer must not supply an Authorization the header lacked.
    if (!header_done_) request_.AddField(name, name_string, value);
  }
  void on_header_impl(beast::error_code&) override {
    header_done_ = true;
    request_.set_keep_alive(keep_alive());
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         beast::error_code&) override {
    // basic_parser has checked the length against body_limit already.
    if (content_length) request_.body().reserve(static_cast<size_t>(*content_length));
  }
  size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    request_.body().append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    request_.body().append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  Request request_;
  bool header_done_ = false;
};

using Socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;
using Acceptor = asio::basic_socket_acceptor<tcp, asio::io_context::executor_type>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>,
                                         asio::io_context::executor_type>;
using SteadyTime = std::chrono::steady_clock::time_point;

// How often each worker looks for connections past their deadline, at most: timeouts are
// seconds long, so a deadline is kept to within this, and no timer is armed or cancelled per
// request. Shorter timeouts (tests) are swept a few times per timeout.
constexpr std::chrono::milliseconds kDeadlineSweepIntervalMax{500};
constexpr std::chrono::milliseconds kDeadlineSweepIntervalMin{5};
constexpr size_t kReadChunkBytes = 16 * 1024;
// Room for the largest header the parser accepts plus one read; the body is moved into the
// request as it is parsed, so the buffer never holds more.
constexpr size_t kReadBufferBytesMax = kRequestHeaderBytesMax + kReadChunkBytes;
constexpr SteadyTime kNoDeadline = SteadyTime::max();

// "Now plus one clock tick", for setting a deadline: read from CLOCK_MONOTONIC_COARSE, which is
// steady_clock's clock (CLOCK_MONOTONIC) as of the last tick. Two of these per request replace
// two precise reads, which on this VM cost ~80 ns each under load (perf: the HTTP threads' vDSO
// share of all CPU fell from 0.94% to 0.67%); a deadline is seconds long and swept every few
// milliseconds, so a tick does not matter. The tick is added so a deadline is not earlier than
// it would be with the precise clock (which the sweep reads), keeping "cut off a little after
// its deadline, never before" — as long as the kernel's ticks come on time; a VM that delays
// them by a few milliseconds moves a seconds-long deadline by that much.
SteadyTime CoarseNowPlusTick() {
  static const std::chrono::nanoseconds tick = [] {
    timespec res{};
    clock_getres(CLOCK_MONOTONIC_COARSE, &res);
    return std::chrono::seconds(res.tv_sec) + std::chrono::nanoseconds(res.tv_nsec);
  }();
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  auto since_boot = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec) + tick;
  return SteadyTime(std::chrono::duration_cast<SteadyTime::duration>(since_boot));
}

class Server;
class Session;
class Worker;

thread_local Worker* t_worker = nullptr;  // the worker whose thread this is, if any

// One thread, one io_context, and the connections accepted onto it. Everything a connection
// does happens on its worker's thread; other threads reach it through Post().
class Worker {
 public:
  Worker(Server& server, size_t index, std::chrono::milliseconds sweep_interval)
      : server_(server),
        index_(index),
        sweep_interval_(sweep_interval),
        work_(asio::make_work_guard(io_)),
        sweep_(io_.get_executor()) {}

  asio::io_context& io() { return io_; }
  bool OnThisThread() const { return t_worker == this; }

  size_t index() const { return index_; }

  void Start() {
    thread_ = std::thread([this] {
      std::string name = "oc-http-" + std::to_string(index_);
      pthread_setname_np(pthread_self(), name.c_str());
      t_worker = this;
      ScheduleSweep();
      io_.run();
      t_worker = nullptr;
    });
  }

  void Stop() {
    asio::post(io_, [this] {
      sweep_.cancel();
      work_.reset();
      io_.stop();
    });
    if (thread_.joinable()) thread_.join();
    stopped_ = true;
    // Work posted too late to run is dropped here, while io_ (and the sockets it owns) exist.
    std::vector<Task> left;
    {
      std::lock_guard lock(inbox_mu_);
      left.swap(inbox_);
    }
  }
  bool stopped() const { return stopped_; }

  // Runs `task` on this worker's thread after its current turn. Tasks posted between two
  // turns share one wake-up. Safe from any thread.
  void Post(Task task) {
    bool schedule = false;
    {
      std::lock_guard lock(inbox_mu_);
      inbox_.push_back(std::move(task));
      schedule = !inbox_scheduled_;
      inbox_scheduled_ = true;
    }
    if (schedule) asio::post(io_, [this] { RunInbox(); });
  }

  // Worker thread only.
  std::list<std::weak_ptr<Session>>::iterator Add(const std::shared_ptr<Session>& s);
  void Remove(std::list<std::weak_ptr<Session>>::iterator it) { sessions_.erase(it); }
  void CloseIdle();

 private:
  void RunInbox() {
    {
      std::lock_guard lock(inbox_mu_);
      running_.swap(inbox_);
      inbox_scheduled_ = false;
    }
    for (Task& t : running_) t();
    running_.clear();
  }
  void ScheduleSweep() {
    sweep_.expires_after(sweep_interval_);
    sweep_.async_wait([this](beast::error_code ec) {
      if (ec) return;
      SweepDeadlines();
      ScheduleSweep();
    });
  }
  void SweepDeadlines();

  Server& server_;
  const size_t index_;
  const std::chrono::milliseconds sweep_interval_;
  // Declared before io_ so it outlives the handlers io_ destroys (which hold sessions).
  std::list<std::weak_ptr<Session>> sessions_;
  asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  // Declared after io_, so destroyed before it: tasks left in the inbox may hold the last
  // reference to a session, whose socket must go while its io_context still exists.
  std::mutex inbox_mu_;
  std::vector<Task> inbox_;
  bool inbox_scheduled_ = false;
  std::vector<Task> running_;
  std::atomic<bool> stopped_{false};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  Timer sweep_;
  std::thread thread_;
};

// One TCP connection, confined to its worker's thread (Run and Send hop there).
class Session final : public Connection, public std::enable_shared_from_this<Session> {
 public:
  Session(Socket socket, Worker& worker, Server& server);
  ~Session() override;
  void Start();       // worker thread
  void Close();       // worker thread: a drain; idle connections close now
  void OnDeadline();  // worker thread: the sweep found the deadline passed
  bool busy() const { return busy_; }
  SteadyTime deadline() const { return deadline_; }

  void Run(Task work) override { worker_.Post(std::move(work)); }
  void Send(Response&& response) override;

 private:
  void ReadRequest();
  void ReadMore();
  void OnRead(beast::error_code ec, size_t bytes);
  void Parse();
  void OnRequest();
  void Reject(const Status& status);
  void Write(Response& response);
  void WriteRest();
  void OnWritten(beast::error_code ec);
  void LeaveInFlight();
  void Finish();

  Socket socket_;
  Worker& worker_;
  Server& server_;
  beast::flat_buffer buffer_{kReadBufferBytesMax};
  std::optional<RequestParser> parser_;
  std::string wire_;  // the response being written
  size_t wire_written_ = 0;
  std::string remote_ip_;
  std::list<std::weak_ptr<Session>>::iterator registered_;
  SteadyTime deadline_ = kNoDeadline;
  bool busy_ = false;  // a request is with the handler or its answer is being written
  bool keep_alive_ = false;
  bool head_request_ = false;
  bool first_request_ = true;
  bool started_ = false;
  bool finished_ = false;
  bool counted_ = false;  // this request is counted in options().requests_in_flight
};

class Server final : public HttpServer {
 public:
  Server(const HttpServerOptions& opt, RequestHandler& handler) : options_(opt), handler_(handler) {
    size_t n =
        options_.threads ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
    auto shortest = std::min({options_.request_read_timeout, options_.keep_alive_idle_timeout,
                              options_.response_write_timeout});
    auto sweep = std::clamp(shortest / 4, kDeadlineSweepIntervalMin, kDeadlineSweepIntervalMax);
    for (size_t i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>(*this, i, sweep));
    acceptor_.emplace(workers_[0]->io().get_executor());
    accept_backoff_.emplace(workers_[0]->io().get_executor());
  }

  ~Server() override { Stop(); }

  Status Listen() {
    beast::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) return Status::InvalidArgument("bad listen address '" + options_.host + "'");
    tcp::endpoint ep(address, options_.port);
    acceptor_->open(ep.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(ep, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status::IOError("listen on " + options_.host + ":" + std::to_string(options_.port) +
                             ": " + ec.message());
    port_ = acceptor_->local_endpoint().port();
    Accept();
    for (auto& w : workers_) w->Start();
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }

  void Drain(std::chrono::milliseconds deadline) override {
    draining_ = true;
    asio::post(workers_[0]->io(), [this] {
      beast::error_code ec;
      acceptor_->close(ec);
    });
    // Idle connections close now, busy ones after responding.
    for (auto& w : workers_) asio::post(w->io(), [raw = w.get()] { raw->CloseIdle(); });
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, deadline, [&] { return live_sessions_ == 0; });
  }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    for (auto& w : workers_) w->Stop();
  }

  bool draining() const { return draining_; }
  RequestHandler& handler() { return handler_; }
  const HttpServerOptions& options() const { return options_; }

  void Register() {
    std::lock_guard lock(mu_);
    ++live_sessions_;
  }
  void Unregister() {
    {
      std::lock_guard lock(mu_);
      --live_sessions_;
    }
    cv_.notify_all();
  }

 private:
  void Accept() {
    Worker& target = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    acceptor_->async_accept(target.io(), [this, &target](beast::error_code ec, Socket sock) {
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
      if (ec) {
        // Out of file descriptors (or another transient failure): the pending connection stays
        // in the backlog, so accepting again at once would spin a core. Back off briefly.
        accept_backoff_->expires_after(kAcceptBackoff);
        accept_backoff_->async_wait([this](beast::error_code) { Accept(); });
        return;
      }
      // The socket belongs to the target worker's reactor, which takes no locks for I/O: it is
      // set up there, or closed there during a drain.
      Register();
      asio::post(target.io(), [this, &target, sock = std::move(sock)]() mutable {
        if (draining_) {
          beast::error_code ignored;
          sock.close(ignored);
          Unregister();
          return;
        }
        std::make_shared<Session>(std::move(sock), target, *this)->Start();
      });
      Accept();
    });
  }

  HttpServerOptions options_;
  RequestHandler& handler_;
  // Declared before the workers so they outlive them: destroying a worker's io_context
  // destroys handlers still queued in it, and with them sessions that unregister themselves.
  std::mutex mu_;
  std::condition_variable cv_;
  size_t live_sessions_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::optional<Acceptor> acceptor_;  // on worker 0
  std::optional<Timer> accept_backoff_;
  size_t next_worker_ = 0;  // worker 0's thread only, once started
  uint16_t port_ = 0;
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
};

std::list<std::weak_ptr<Session>>::iterator Worker::Add(const std::shared_ptr<Session>& s) {
  return sessions_.insert(sessions_.begin(), s);
}

void Worker::CloseIdle() {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto s = it->lock();
    ++it;  // Close() may remove the session from the list
    if (s) s->Close();
  }
}

void Worker::SweepDeadlines() {
  SteadyTime now = std::chrono::steady_clock::now();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto s = it->lock();
    if (!s) {  // ended without Finish() (dropped off this thread): nothing left to do
      it = sessions_.erase(it);
      continue;
    }
    ++it;  // OnDeadline() removes the session from the list
    if (s->deadline() <= now) s->OnDeadline();
  }
}

Session::Session(Socket socket, Worker& worker, Server& server)
    : socket_(std::move(socket)), worker_(worker), server_(server) {
  beast::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) remote_ip_ = ep.address().to_string();
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);  // answers are written at once, without an asynchronous op
}

Session::~Session() {
  // A session ends through Finish() on its thread. One that is destroyed without it (its last
  // owner let go elsewhere, or the server is shutting down) still leaves the counts, and its
  // socket is closed on its own worker while that still runs (the worker's reactor takes no
  // locks for I/O).
  if (!finished_) {
    finished_ = true;
    LeaveInFlight();
    if (!worker_.OnThisThread() && !worker_.stopped()) {
      worker_.Post([socket = std::move(socket_)]() mutable {
        beast::error_code ignored;
        socket.close(ignored);
      });
    }
    server_.Unregister();
  }
}

void Session::Start() {
  started_ = true;
  registered_ = worker_.Add(shared_from_this());
  ReadRequest();
}

void Session::Close() {
  if (!busy_) Finish();
  // A busy session closes after its response: OnWritten sees draining() and stops.
}

void Session::OnDeadline() {
  // Ends the session outright: a pending read or write completes as aborted, and a handler
  // already queued (a read that finished at once) finds the session finished. Only cancelling
  // would let such a handler carry on with no deadline at all.
  Finish();
}

void Session::ReadRequest() {
  if (server_.draining()) {
    Finish();
    return;
  }
  parser_.emplace();
  parser_->body_limit(server_.options().body_bytes_max);
  parser_->header_limit(kRequestHeaderBytesMax);
  deadline_ = CoarseNowPlusTick() + (first_request_ ? server_.options().request_read_timeout
                                                    : server_.options().keep_alive_idle_timeout);
  if (buffer_.size() > 0) {
    // A pipelined request is already here. Parse it on the next turn, not inside the write
    // that got us here, so a long pipeline cannot deepen the stack.
    asio::post(worker_.io(), [self = shared_from_this()] {
      if (!self->finished_) self->Parse();
    });
    return;
  }
  ReadMore();
}

void Session::ReadMore() {
  size_t room = std::min(kReadChunkBytes, buffer_.max_size() - buffer_.size());
  if (room == 0) {
    Reject(Status::Make(
        ErrorKind::kHeadersTooLarge, "headers_too_large",
        "request headers exceed " + std::to_string(kRequestHeaderBytesMax) + " bytes"));
    return;
  }
  socket_.async_read_some(
      buffer_.prepare(room),
      [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnRead(ec, n); });
}

void Session::OnRead(beast::error_code ec, size_t bytes) {
  // Drain may have closed this idle connection while a request was arriving: then it must not
  // be processed, since its answer could no longer be delivered.
  if (finished_) return;
  if (ec == asio::error::eof && parser_->got_some()) {
    // The client stopped sending half-way through a request; it may still read the answer.
    Reject(Status::InvalidArgument("malformed HTTP request: the request ended early"));
    return;
  }
  if (ec) {  // closed, reset, timed out (cancelled by the sweep) or failed: nothing to answer
    Finish();
    return;
  }
  buffer_.commit(bytes);
  Parse();
}

void Session::Parse() {
  beast::error_code ec;
  while (buffer_.size() > 0 && !parser_->is_done()) {
    size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (ec == http::error::need_more) {
      ec = {};
      break;
    }
    if (ec) break;
  }
  if (ec == http::error::body_limit) {
    Reject(Status::TooLarge("request body exceeds " +
                            std::to_string(server_.options().body_bytes_max) + " bytes"));
    return;
  }
  if (ec == http::error::header_limit) {
    Reject(Status::Make(
        ErrorKind::kHeadersTooLarge, "headers_too_large",
        "request headers exceed " + std::to_string(kRequestHeaderBytesMax) + " bytes"));
    return;
  }
  if (ec) {
    Reject(Status::InvalidArgument("malformed HTTP request: " + ec.message()));
    return;
  }
  if (parser_->is_done()) {
    OnRequest();
    return;
  }
  ReadMore();
}

void Session::OnRequest() {
  first_request_ = false;
  busy_ = true;
  deadline_ = kNoDeadline;  // the handler may take as long as the writer needs
  if (auto* n = server_.options().requests_in_flight) {
    n->Add(worker_.index(), 1);
    counted_ = true;
  }
  head_request_ = parser_->get().method() == http::verb::head;
  // The responder owns the session until it answers: nothing else does while the handler
  // (possibly the order writer) works, since no read is pending. Nothing here may touch the
  // parser after Handle(): an answer given at once starts reading the next request.
  server_.handler().Handle(parser_->release(), remote_ip_, Responder(shared_from_this()));
}

void Session::Reject(const Status& status) {
  head_request_ = false;
  server_.handler().OnRejected(HttpStatusOf(status.kind()));
  busy_ = true;
  Response problem = MakeProblem(status, 11, /*keep_alive=*/false);
  Write(problem);
}

void Session::Send(Response&& response) {
  if (worker_.OnThisThread()) {
    Write(response);
    return;
  }
  worker_.Post([self = shared_from_this(), response = std::move(response)]() mutable {
    self->Write(response);
  });
}

void Session::Write(Response& response) {
  if (finished_) return;
  keep_alive_ = response.keep_alive() && !server_.draining();
  response.keep_alive(keep_alive_);
  // HEAD (below): the headers of the GET, Content-Length included, and not one byte of body —
  // a body here would be read by the client as the start of its next response.
  wire_.clear();
  response.SerializeTo(&wire_, !head_request_);
  wire_written_ = 0;
  // For the whole answer, not each part: a client reading a byte now and then is cut off too.
  deadline_ = CoarseNowPlusTick() + server_.options().response_write_timeout;
  WriteRest();
}

void Session::WriteRest() {
  // Almost always the whole answer fits the socket's buffer and goes out in this one call.
  beast::error_code ec;
  size_t n = socket_.write_some(
      asio::buffer(wire_.data() + wire_written_, wire_.size() - wire_written_), ec);
  if (!ec) {
    wire_written_ += n;
    if (wire_written_ == wire_.size()) {
      OnWritten({});
      return;
    }
  } else if (ec != asio::error::would_block && ec != asio::error::try_again) {
    OnWritten(ec);
    return;
  }
  socket_.async_wait(tcp::socket::wait_write, [self = shared_from_this()](beast::error_code ec) {
    if (self->finished_) return;
    if (ec) {
      self->OnWritten(ec);
      return;
    }
    self->WriteRest();
  });
}

void Session::OnWritten(beast::error_code ec) {
  busy_ = false;
  LeaveInFlight();
  if (ec || !keep_alive_ || server_.draining()) {
    Finish();
    return;
  }
  ReadRequest();
}

void Session::LeaveInFlight() {
  if (!counted_) return;
  counted_ = false;
  if (auto* n = server_.options().requests_in_flight) n->Add(worker_.index(), -1);
}

void Session::Finish() {
  LeaveInFlight();  // a session that ends without writing its answer leaves the count too
  if (finished_) return;
  finished_ = true;
  deadline_ = kNoDeadline;
  beast::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  socket_.close(ec);
  if (started_) worker_.Remove(registered_);
  server_.Unregister();
}

}  // namespace

unsigned HttpStatusOf(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return 400;
    case ErrorKind::kUnprocessable:
      return 422;
    case ErrorKind::kUnauthenticated:
      return 401;
    case ErrorKind::kPermissionDenied:
      return 403;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kMethodNotAllowed:
      return 405;
    case ErrorKind::kConflict:
      return 409;
    case ErrorKind::kTooLarge:
      return 413;
    case ErrorKind::kHeadersTooLarge:
      return 431;
    case ErrorKind::kUnsupportedMedia:
      return 415;
    case ErrorKind::kRateLimited:
      return 429;
    case ErrorKind::kUnavailable:
      return 503;
    case ErrorKind::kIOError:
      return 500;
    case ErrorKind::kInternal:
      return 500;
  }
  return 500;
}

Response MakeProblem(const Status& status, unsigned version, bool keep_alive) {
  unsigned code = HttpStatusOf(status.kind());
  boost::json::object body;
  body["type"] = "https://ordercenter.dev/problems/" + status.code();
  body["title"] = TitleOf(status.kind());
  body["status"] = code;
  body["code"] = status.code();
  body["detail"] = status.detail();
  Response res(code, version, keep_alive);
  res.set(http::field::content_type, "application/problem+json");
  res.set(http::field::cache_control, "no-store");
  if (status.kind() == ErrorKind::kUnavailable || status.kind() == ErrorKind::kRateLimited) {
    res.set(http::field::retry_after, "1");
  }
  if (status.kind() == ErrorKind::kUnauthenticated) {
    res.set(http::field::www_authenticate, "Bearer");
  }
  res.body() = boost::json::serialize(body);
  return res;
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      RequestHandler& handler) {
  auto server = std::make_unique<Server>(options, handler);
  OC_RETURN_IF_ERROR(server->Listen());
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace oc::api
