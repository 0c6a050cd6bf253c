#include "api/http_server.h"

#include <pthread.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
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

// The response as it goes on the wire, in one buffer written by one async_write: the same
// bytes Beast's serializer produces (status line, fields in order, body), without its chain of
// buffer views, which cost about a sixth of a checkout hold's instructions (callgrind).
// `response` must be prepare_payload()ed; `with_body` is false for HEAD.
std::string Serialize(const Response& response, bool with_body) {
  std::string_view reason = response.reason();
  size_t fields_bytes = 0;
  for (const auto& f : response) fields_bytes += f.name_string().size() + f.value().size() + 4;
  std::string out;
  out.reserve(32 + reason.size() + fields_bytes + (with_body ? response.body().size() : 0));
  unsigned version = response.version();
  unsigned status = response.result_int();
  out.append("HTTP/");
  out.push_back(static_cast<char>('0' + version / 10));
  out.push_back('.');
  out.push_back(static_cast<char>('0' + version % 10));
  out.push_back(' ');
  out.push_back(static_cast<char>('0' + status / 100 % 10));
  out.push_back(static_cast<char>('0' + status / 10 % 10));
  out.push_back(static_cast<char>('0' + status % 10));
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n");
  for (const auto& f : response) {
    out.append(f.name_string());
    out.append(": ");
    out.append(f.value());
    out.append("\r\n");
  }
  out.append("\r\n");
  if (with_body) out.append(response.body());
  return out;
}

class Server;

// One TCP connection. All its handlers run on its strand; the Responder hops back onto it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server& server);
  ~Session() { Finish(); }  // a session always leaves the registry, however it ends
  void Start();
  void Close();  // from any thread

 private:
  void ReadRequest();
  void OnRead(beast::error_code ec, size_t bytes);
  void Reject(const Status& status);
  void Write(Response response);
  void OnWrite(bool keep_alive, beast::error_code ec, size_t bytes);
  void Finish();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Server& server_;
  std::string remote_ip_;
  bool busy_ = false;
  bool head_request_ = false;
  bool first_request_ = true;
  bool finished_ = false;
  bool counted_ = false;  // this request is counted in options().requests_in_flight
};

class Server final : public HttpServer {
 public:
  Server(const HttpServerOptions& opt, RequestHandler& handler)
      : options_(opt),
        handler_(handler),
        work_(asio::make_work_guard(io_)),
        acceptor_(asio::make_strand(io_)) {}

  ~Server() override { Stop(); }

  Status Listen() {
    beast::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) return Status::InvalidArgument("bad listen address '" + options_.host + "'");
    tcp::endpoint ep(address, options_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return Status::IOError("listen on " + options_.host + ":" + std::to_string(options_.port) +
                             ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    Accept();
    size_t n =
        options_.threads ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
    for (size_t i = 0; i < n; ++i)
      threads_.emplace_back([this] {
        pthread_setname_np(pthread_self(), "oc-http");
        io_.run();
      });
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }

  void Drain(std::chrono::milliseconds deadline) override {
    draining_ = true;
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    std::vector<std::shared_ptr<Session>> sessions;
    {
      std::lock_guard lock(mu_);
      for (auto& [raw, weak] : sessions_) {
        if (auto s = weak.lock()) sessions.push_back(std::move(s));
      }
    }
    for (auto& s : sessions) s->Close();  // idle ones close now, busy ones after responding
    sessions.clear();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, deadline, [&] { return live_sessions_ == 0; });
  }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    work_.reset();
    io_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  bool draining() const { return draining_; }
  RequestHandler& handler() { return handler_; }
  const HttpServerOptions& options() const { return options_; }

  void Register(const std::shared_ptr<Session>& s) {
    std::lock_guard lock(mu_);
    ++live_sessions_;
    sessions_.emplace(s.get(), s);
  }
  void Unregister(Session* s) {
    {
      std::lock_guard lock(mu_);
      --live_sessions_;
      sessions_.erase(s);
    }
    cv_.notify_all();
  }

 private:
  void Accept() {
    acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket sock) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (ec) {
        // Out of file descriptors (or another transient failure): the pending connection stays
        // in the backlog, so accepting again at once would spin a core. Back off briefly.
        accept_backoff_.expires_after(kAcceptBackoff);
        accept_backoff_.async_wait([this](beast::error_code) { Accept(); });
        return;
      }
      if (!draining_) {
        auto s = std::make_shared<Session>(std::move(sock), *this);
        Register(s);
        s->Start();
      }
      Accept();
    });
  }

  HttpServerOptions options_;
  RequestHandler& handler_;
  // The session registry is declared before io_ so it outlives it: destroying io_ destroys
  // handlers still queued in it, and with them sessions that unregister themselves.
  std::mutex mu_;
  std::condition_variable cv_;
  size_t live_sessions_ = 0;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
  asio::io_context io_;
  // Keeps run() going while requests wait on the order writer with no socket operation
  // pending (during a drain, for instance); without it the io threads would exit and the
  // writer's completions would be posted into a stopped context.
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_backoff_{acceptor_.get_executor()};
  uint16_t port_ = 0;
  std::vector<std::thread> threads_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
};

Session::Session(tcp::socket socket, Server& server) : stream_(std::move(socket)), server_(server) {
  beast::error_code ec;
  auto ep = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_ip_ = ep.address().to_string();
}

void Session::Start() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadRequest(); });
}

void Session::Close() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    if (!self->busy_) self->Finish();
    // A busy session closes after its response: OnWrite sees draining() and stops.
  });
}

void Session::ReadRequest() {
  if (server_.draining()) {
    Finish();
    return;
  }
  parser_.emplace();
  parser_->body_limit(server_.options().body_bytes_max);
  parser_->header_limit(kRequestHeaderBytesMax);
  stream_.expires_after(first_request_ ? kRequestReadTimeout : kKeepAliveIdleTimeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&Session::OnRead, shared_from_this()));
}

void Session::OnRead(beast::error_code ec, size_t) {
  // Drain may have closed this idle connection while a request was arriving: then it must not
  // be processed, since its answer could no longer be delivered.
  if (finished_) return;
  if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
      ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
      ec == asio::error::eof) {
    Finish();
    return;
  }
  if (ec == http::error::body_limit) {
    Reject(Status::TooLarge("request body exceeds " +
                            std::to_string(server_.options().body_bytes_max) + " bytes"));
    return;
  }
  if (ec == http::error::header_limit) {
    Reject(Status::Make(
        ErrorKind::kTooLarge, "headers_too_large",
        "request headers exceed " + std::to_string(kRequestHeaderBytesMax) + " bytes"));
    return;
  }
  if (ec) {
    Reject(Status::InvalidArgument("malformed HTTP request: " + ec.message()));
    return;
  }
  first_request_ = false;
  busy_ = true;
  if (auto* n = server_.options().requests_in_flight) {
    n->fetch_add(1, std::memory_order_relaxed);
    counted_ = true;
  }
  head_request_ = parser_->get().method() == http::verb::head;
  stream_.expires_never();  // the handler may take as long as the writer needs
  Request req = parser_->release();
  // The responder owns the session until it answers: nothing else does while the handler
  // (possibly the order writer) works, since no read is pending.
  auto executor = stream_.get_executor();
  server_.handler().Handle(
      std::move(req), remote_ip_, executor, [self = shared_from_this(), executor](Response res) {
        asio::dispatch(executor,
                       [self, res = std::move(res)]() mutable { self->Write(std::move(res)); });
      });
}

void Session::Reject(const Status& status) {
  head_request_ = false;
  server_.handler().OnRejected(HttpStatusOf(status.kind()));
  busy_ = true;
  Response res = MakeProblem(status, 11, /*keep_alive=*/false);
  Write(std::move(res));
}

void Session::Write(Response response) {
  bool keep_alive = response.keep_alive() && !server_.draining();
  response.keep_alive(keep_alive);
  response.prepare_payload();
  // HEAD (below): the headers of the GET, Content-Length included, and not one byte of body —
  // a body here would be read by the client as the start of its next response.
  auto wire = std::make_shared<std::string>(Serialize(response, !head_request_));
  stream_.expires_after(kResponseWriteTimeout);
  asio::async_write(stream_, asio::buffer(*wire),
                    [self = shared_from_this(), wire, keep_alive](beast::error_code ec, size_t n) {
                      self->OnWrite(keep_alive, ec, n);
                    });
}

void Session::OnWrite(bool keep_alive, beast::error_code ec, size_t) {
  busy_ = false;
  if (counted_) {
    counted_ = false;
    if (auto* n = server_.options().requests_in_flight) n->fetch_sub(1, std::memory_order_relaxed);
  }
  if (ec || !keep_alive || server_.draining()) {
    Finish();
    return;
  }
  ReadRequest();
}

void Session::Finish() {
  if (counted_) {  // a session that ends without writing its answer leaves the count too
    counted_ = false;
    if (auto* n = server_.options().requests_in_flight) n->fetch_sub(1, std::memory_order_relaxed);
  }
  if (finished_) return;
  finished_ = true;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream_.close();
  server_.Unregister(this);
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
  Response res{static_cast<http::status>(code), version};
  res.set(http::field::content_type, "application/problem+json");
  res.set(http::field::cache_control, "no-store");
  if (status.kind() == ErrorKind::kUnavailable || status.kind() == ErrorKind::kRateLimited) {
    res.set(http::field::retry_after, "1");
  }
  if (status.kind() == ErrorKind::kUnauthenticated) {
    res.set(http::field::www_authenticate, "Bearer");
  }
  res.keep_alive(keep_alive);
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
