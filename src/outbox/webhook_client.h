// WebhookClient: POSTs a delivery to one subscriber over a kept-alive HTTP/1.1 connection.
//
// One client per subscription worker (deliveries to a subscriber are sequential, which is what
// keeps per-order order), so a single connection is the whole pool. It connects only to the
// endpoints ResolveAllowed() approved, re-resolving and re-checking them on every new
// connection; a connection the peer closed is replaced once before a request counts as failed.
// Every exchange has a deadline. Bodies are gzipped once the receiver has said it accepts them
// (Accept-Encoding: gzip in a response, RFC 7694). https targets get TLS 1.2+ with the peer's
// certificate verified against the system's CAs (plus an operator-given CA file) and the host
// name checked, with SNI. Not thread-safe.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "outbox/url_guard.h"

namespace oc::outbox {

struct WebhookResponse {
  int status = 0;
  std::optional<std::chrono::milliseconds> retry_after;  // from Retry-After (seconds form)
};

class WebhookClient {
 public:
  // The TLS settings every https client shares (thread-safe once built).
  struct TlsContext {
    explicit TlsContext(const std::string& extra_ca_file);
    boost::asio::ssl::context ctx{boost::asio::ssl::context::tls_client};
    std::string error;  // why the CA file could not be loaded, if it could not
  };

  // `tls` must outlive the client; needed only for https targets.
  WebhookClient(WebhookTarget target, bool allow_private, std::chrono::milliseconds timeout,
                TlsContext* tls = nullptr);
  ~WebhookClient();
  WebhookClient(const WebhookClient&) = delete;
  WebhookClient& operator=(const WebhookClient&) = delete;

  // Sends `body` (JSON) with `headers`; a transport failure (refused, reset, timeout) is an
  // Unavailable status, any HTTP answer is a WebhookResponse.
  Result<WebhookResponse> Post(const std::string& body,
                               const std::vector<std::pair<std::string, std::string>>& headers);

  void Close();
  // From any thread: makes a Post() in progress (and every later one) fail at once.
  void Interrupt();

 private:
  struct Connection;
  Status Connect();
  // `*stale`: the failure shows the connection was already closed by the peer (safe to resend).
  Result<WebhookResponse> Exchange(const std::string& wire_body, bool gzipped,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   bool* stale);
  template <class Start>
  boost::system::error_code RunToCompletion(boost::asio::io_context& io, Start&& start);
  template <class Stream>
  Result<WebhookResponse> ExchangeOn(
      Stream& stream, const std::string& wire_body, bool gzipped,
      const std::vector<std::pair<std::string, std::string>>& headers, bool* stale);

  WebhookTarget target_;
  bool allow_private_;
  std::chrono::milliseconds timeout_;
  TlsContext* tls_;
  bool gzip_accepted_ = false;
  std::mutex conn_mu_;  // guards conn_'s replacement against Interrupt()
  std::unique_ptr<Connection> conn_;
  std::atomic<bool> interrupted_{false};
};

// gzip (RFC 1952) of `in`, via zlib.
std::string Gzip(const std::string& in);

}  // namespace oc::outbox
