// HttpServer: the HTTP/1.1 keep-alive front door of orderd, on Boost.Beast/Asio.
//
// Thread per core: each worker thread runs its own io_context and owns the connections accepted
// onto it (round robin), so a connection's reads, writes and timers never need a lock or a
// strand. Each connection reads one request at a time under hard limits (header bytes, body
// bytes, read time, idle time), hands it to the RequestHandler and writes the response the
// handler gives back — possibly later, from another thread (the order writer completes
// asynchronously), which is why answers go through a thread-safe Responder. Work handed to one
// worker from another thread between two of its turns is delivered with one wake-up, so a
// group commit that completes a hundred requests costs each worker one hop, not a hundred.
// Limit violations are answered here with problem+json. Drain() stops accepting, lets every
// in-flight request finish, closes idle connections, and returns when none remain.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/http_message.h"
#include "core/sharded_counter.h"
#include "core/status.h"
#include "core/task.h"

namespace oc::api {

inline constexpr size_t kRequestBodyBytesMax = 1 << 20;  // 1 MiB (API default)
inline constexpr size_t kRequestHeaderBytesMax = 16 * 1024;
inline constexpr std::chrono::seconds kRequestReadTimeout{30};
inline constexpr std::chrono::seconds kKeepAliveIdleTimeout{75};
// A client that does not read its response is cut off well inside orderd's drain deadline.
inline constexpr std::chrono::seconds kResponseWriteTimeout{10};

// The connection a request came on, as seen by whoever answers it. Implemented by the server.
class Connection {
 public:
  virtual ~Connection() = default;
  // Runs `work` on the connection's own thread, after the current turn, in order with the
  // other work handed to it. Safe from any thread.
  virtual void Run(Task work) = 0;
  // Writes the answer: at once when called on the connection's thread, else through Run.
  virtual void Send(Response&& response) = 0;
};

// A request's way back to its connection. Answer exactly once (Send); safe from any thread.
// Copies share the connection, which stays alive until the answer is written.
class Responder {
 public:
  Responder() = default;
  explicit Responder(std::shared_ptr<Connection> connection) : connection_(std::move(connection)) {}
  void Run(Task work) const { connection_->Run(std::move(work)); }
  void Send(Response&& response) const { connection_->Send(std::move(response)); }

 private:
  std::shared_ptr<Connection> connection_;
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Runs on the connection's thread. `respond` may be used from any thread, later.
  virtual void Handle(Request request, std::string remote_ip, Responder respond) = 0;
  // A request refused by the server itself (too large, unparseable, timed out).
  virtual void OnRejected(unsigned status) = 0;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;   // 0 picks a free port
  size_t threads = 0;  // 0: one per core
  size_t body_bytes_max = kRequestBodyBytesMax;
  // Tests shorten these; deadlines are checked a few times per shortest one (at most every
  // 500 ms), so a connection is cut off a little after its deadline, never before.
  std::chrono::milliseconds request_read_timeout = kRequestReadTimeout;
  std::chrono::milliseconds keep_alive_idle_timeout = kKeepAliveIdleTimeout;
  std::chrono::milliseconds response_write_timeout = kResponseWriteTimeout;
  // When set, counts the requests the server holds right now: read, not yet answered. The
  // order writer reads it to tell a crowd of clients from a few (WriterOptions).
  ShardedCounter* requests_in_flight = nullptr;  // one shard per worker thread
};

class HttpServer {
 public:
  // Binds and starts serving. `handler` must outlive the server.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   RequestHandler& handler);
  virtual ~HttpServer() = default;
  virtual uint16_t port() const = 0;
  // Stops accepting, waits up to `deadline` for in-flight requests, closes every connection.
  virtual void Drain(std::chrono::milliseconds deadline) = 0;
  // Stops the io threads (after Drain). Idempotent.
  virtual void Stop() = 0;
};

// A problem+json response (RFC 9457) carrying `status`'s stable code.
Response MakeProblem(const Status& status, unsigned version, bool keep_alive);
unsigned HttpStatusOf(ErrorKind kind);

}  // namespace oc::api
