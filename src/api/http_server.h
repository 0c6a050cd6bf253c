// HttpServer: the HTTP/1.1 keep-alive front door of orderd, on Boost.Beast/Asio.
//
// One io_context run by a thread per core; each connection reads one request at a time under
// hard limits (header bytes, body bytes, read time, idle time), hands it to the RequestHandler
// and writes the response the handler gives back — possibly later, from another thread (the
// order writer completes asynchronously), which is why responses go through a thread-safe
// Responder. Limit violations are answered here with problem+json. Drain() stops accepting,
// lets every in-flight request finish, closes idle connections, and returns when none remain.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

namespace oc::api {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

inline constexpr size_t kRequestBodyBytesMax = 1 << 20;  // 1 MiB (API default)
inline constexpr size_t kRequestHeaderBytesMax = 16 * 1024;
inline constexpr std::chrono::seconds kRequestReadTimeout{30};
inline constexpr std::chrono::seconds kKeepAliveIdleTimeout{75};
// A client that does not read its response is cut off well inside orderd's drain deadline.
inline constexpr std::chrono::seconds kResponseWriteTimeout{10};

// Call exactly once per request; safe from any thread.
using Responder = std::function<void(Response)>;

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // `connection` is the executor (strand) of the request's connection: work posted there runs
  // on an HTTP thread, in order with that connection's I/O, and a Responder called from it
  // writes without another hop.
  virtual void Handle(Request request, std::string remote_ip,
                      boost::asio::any_io_executor connection, Responder respond) = 0;
  // A request refused by the server itself (too large, unparseable, timed out).
  virtual void OnRejected(unsigned status) = 0;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;   // 0 picks a free port
  size_t threads = 0;  // 0: one per core
  size_t body_bytes_max = kRequestBodyBytesMax;
  // When set, counts the requests the server holds right now: read, not yet answered. The
  // order writer reads it to tell a crowd of clients from a few (WriterOptions).
  std::atomic<int64_t>* requests_in_flight = nullptr;
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
