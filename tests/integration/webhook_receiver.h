// WebhookReceiver: a test-side stand-in for a partner platform that OrderCenter delivers signed
// event batches to (API.md, "Subscriptions"). It listens on 127.0.0.1 on a port the kernel picks,
// speaks HTTP/1.1 with keep-alive over Boost.Beast on a small io_context thread pool (slow
// answers are timers, not blocked threads, so any number of connections can wait at once), and
// records every request it parses — headers with lower-cased names, the body as sent and, for
// `Content-Encoding: gzip`, as inflated — together with the status it answered. How it answers
// (a status per request, a rolling per-minute limit of accepted requests, Retry-After, advertising
// gzip, a delay) is a ReceiverBehavior that SetBehavior() may swap at any time. Guarantees: every
// public method is thread-safe; requests are recorded in the order their status was decided, and
// the status callback runs for one request at a time; nothing a sender sends can crash it (a
// malformed gzip body is recorded with an empty body and answered 400; bytes that are not HTTP
// close the connection unrecorded); waits are bounded and wake on each recorded request, never by
// polling; Stop() (also run by the destructor) closes the listener and every open connection —
// idle keep-alive and mid-delay ones included — and joins all threads before returning. The free
// helpers verify and build `X-OrderCenter-Signature` values and inflate gzip bodies.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace oc::itest {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased; repeats joined with ", "
  std::string body;                            // after gunzip when Content-Encoding: gzip
  std::string raw_body;                        // as received
  bool gzipped = false;                        // Content-Encoding was gzip (even if malformed)
  int64_t received_at_unix_us = 0;             // system clock, when the whole request was read
  int status = 0;                              // what the receiver answered (or, if the sender
                                               // hung up during a delay, was about to answer)
};

struct ReceiverBehavior {
  // Decides the status for each request (index = 0-based count of requests recorded before this
  // one); default (empty): 200. Called one request at a time, never for a request the limit or a
  // malformed gzip body already answered. Must return 200..599 (anything else is answered 500);
  // 204 and 304 are answered without a body. It may call the receiver's accessors and
  // SetBehavior(), but not Stop().
  std::function<int(const ReceivedRequest&, size_t index)> status;
  // If > 0: a partner limit of this many requests per rolling 60 s window (steady clock); a
  // request beyond it is answered `limit_status` (and not counted as accepted). Only requests
  // answered 2xx count, including those accepted before a SetBehavior() that set the limit.
  int max_per_minute = 0;
  int limit_status = 408;
  std::string retry_after;      // if non-empty, sent as Retry-After on limit and on 429/503 answers
  bool advertise_gzip = false;  // responses carry "Accept-Encoding: gzip" (RFC 7694)
  std::chrono::milliseconds delay{0};  // wait this long before answering (slow partner, timeouts)
};

class WebhookReceiver {
 public:
  // Starts listening and serving at once. Throws boost::system::system_error if it cannot listen.
  explicit WebhookReceiver(ReceiverBehavior behavior = {});
  ~WebhookReceiver();  // Stop()
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  // Applies to requests whose status is decided after this call.
  void SetBehavior(ReceiverBehavior behavior);

  // Closes the listener and every connection, then joins the threads. Idempotent; the receiver
  // cannot be restarted (the recorded requests stay readable).
  void Stop();

  uint16_t port() const;
  // "http://127.0.0.1:PORT" + path.
  std::string Url(const std::string& path = "/hook") const;

  std::vector<ReceivedRequest> Requests() const;  // a copy, in recording order
  size_t RequestCount() const;

  // True once at least `n` requests are recorded; false if `timeout` passes first.
  [[nodiscard]] bool WaitForRequests(size_t n, std::chrono::milliseconds timeout);
  // True once `pred` holds for the recorded requests; it is evaluated under the receiver's lock
  // (so it must not call the receiver), now and after each new request, until `timeout` passes.
  [[nodiscard]] bool WaitFor(std::function<bool(const std::vector<ReceivedRequest>&)> pred,
                             std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Checks "X-OrderCenter-Signature: t=<unix>,v1=<hex hmac-sha256(secret, t + "." + body)>"
// (API.md). Returns true if the header parses — exactly `t=<decimal digits>,v1=<64 hex digits>`,
// no spaces — and the HMAC matches (constant-time compare). Sets *t when given and it parses.
[[nodiscard]] bool VerifyOrderCenterSignature(const std::string& header_value,
                                              const std::string& secret, const std::string& body,
                                              int64_t* t = nullptr);

// The same signature computed, for tests that need to build one: returns "t=<t>,v1=<hex>" with
// lower-case hex.
std::string SignOrderCenterBody(const std::string& secret, int64_t t, const std::string& body);

// Inflates a gzip stream (one or more members) via zlib (inflateInit2 with 16+MAX_WBITS). Returns
// false on malformed, truncated or trailing-garbage input, or output beyond 64 MiB.
[[nodiscard]] bool Gunzip(const std::string& in, std::string* out);

}  // namespace oc::itest
