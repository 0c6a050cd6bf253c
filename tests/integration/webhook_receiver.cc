#include "integration/webhook_receiver.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <climits>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

namespace oc::itest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Slow answers are timers, so the pool only runs short handlers; a few threads are plenty.
constexpr size_t kIoThreadCount = 4;
constexpr uint64_t kRequestBodyMaxBytes = 64ull * 1024 * 1024;
constexpr uint32_t kRequestHeaderMaxBytes = 64 * 1024;
constexpr size_t kGunzipOutputMaxBytes = 64 * 1024 * 1024;
constexpr size_t kGunzipChunkBytes = 16 * 1024;
constexpr std::chrono::seconds kRateWindow{60};
constexpr size_t kHmacSha256Bytes = 32;
// 18 decimal digits always fit in an int64_t.
constexpr size_t kUnixSecondsDigitsMax = 18;
constexpr int kStatusMin = 200;
constexpr int kStatusMax = 599;
constexpr int kStatusForBadCallback = 500;
constexpr int kStatusForMalformedGzip = 400;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool Is2xx(int status) { return status >= 200 && status <= 299; }

int ClampStatus(int status) {
  return status >= kStatusMin && status <= kStatusMax ? status : kStatusForBadCallback;
}

int64_t NowUnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string HexEncode(const unsigned char* data, size_t len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 15];
  }
  return out;
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes exactly kHmacSha256Bytes from 2 * kHmacSha256Bytes hex digits.
bool DecodeMacHex(std::string_view hex, unsigned char* out) {
  if (hex.size() != 2 * kHmacSha256Bytes) return false;
  for (size_t i = 0; i < kHmacSha256Bytes; ++i) {
    int high = HexDigitValue(hex[2 * i]);
    int low = HexDigitValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<unsigned char>(high * 16 + low);
  }
  return true;
}

// HMAC-SHA256(secret, t + "." + body) into `mac` (kHmacSha256Bytes).
bool ComputeSignatureMac(const std::string& secret, int64_t t, const std::string& body,
                         unsigned char* mac) {
  if (secret.size() > static_cast<size_t>(INT_MAX)) return false;
  const std::string message = std::to_string(t) + "." + body;
  unsigned int mac_len = 0;
  const unsigned char* result =
      HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_len);
  return result != nullptr && mac_len == kHmacSha256Bytes;
}

// What the receiver answers one request with.
struct Decision {
  int status = 200;
  bool limited = false;  // answered by the per-minute limit
};

class Session;

// The listener, the connections and the record. WebhookReceiver is a thin facade over it.
class ReceiverServer {
 public:
  explicit ReceiverServer(ReceiverBehavior behavior) : behavior_(std::move(behavior)) {}
  ~ReceiverServer() { Stop(); }

  void Start();
  void Stop();

  void SetBehavior(ReceiverBehavior behavior) {
    std::lock_guard lock(mu_);
    behavior_ = std::move(behavior);
  }
  uint16_t port() const { return port_; }
  std::vector<ReceivedRequest> Requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t RequestCount() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }
  bool WaitFor(const std::function<bool(const std::vector<ReceivedRequest>&)>& pred,
               std::chrono::milliseconds timeout) {
    if (!pred) return false;
    std::unique_lock lock(mu_);
    return recorded_cv_.wait_for(lock, timeout, [&] { return pred(requests_); });
  }

  // Records one parsed request and decides its answer; *behavior gets the behavior it was decided
  // under (for the response headers and the delay).
  Decision Record(http::request<http::string_body>&& request, ReceiverBehavior* behavior);

  // False when Stop() has begun: the caller then drops the connection.
  bool Register(const std::shared_ptr<Session>& session);

 private:
  void Accept();
  Decision Decide(const ReceivedRequest& request, size_t index, const ReceiverBehavior& behavior,
                  bool body_malformed);

  // Lock order: decide_mu_ before mu_. The status callback runs under decide_mu_ only, so it may
  // call the accessors and SetBehavior().
  std::mutex decide_mu_;
  std::deque<SteadyClock::time_point> accepted_at_;  // 2xx answers within the window; decide_mu_

  mutable std::mutex mu_;
  std::condition_variable recorded_cv_;
  ReceiverBehavior behavior_;              // mu_
  std::vector<ReceivedRequest> requests_;  // mu_

  std::mutex sessions_mu_;
  bool stopping_ = false;                         // sessions_mu_
  std::vector<std::weak_ptr<Session>> sessions_;  // sessions_mu_

  std::mutex stop_mu_;
  bool stopped_ = false;  // stop_mu_

  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  tcp::acceptor acceptor_{asio::make_strand(ioc_)};
  uint16_t port_ = 0;
  std::vector<std::thread> threads_;
};

// One connection: reads requests one after another (keep-alive), answers each after the
// behavior's delay. Every step runs on the connection's strand, so Close() from Stop() is ordered
// with the reads, the delay timer and the writes.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ReceiverServer& server)
      : stream_(std::move(socket)), delay_timer_(stream_.get_executor()), server_(server) {}

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadRequest(); });
  }
  void Close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->CloseNow(); });
  }

 private:
  void ReadRequest() {
    if (closed_) return;
    parser_.emplace();
    parser_->body_limit(kRequestBodyMaxBytes);
    parser_->header_limit(kRequestHeaderMaxBytes);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    // End of stream, a reset, Stop(), or bytes that are not HTTP: this connection is done.
    if (ec || closed_) {
      CloseNow();
      return;
    }
    http::request<http::string_body> request = parser_->release();
    const unsigned version = request.version();
    keep_alive_ = request.keep_alive();
    ReceiverBehavior behavior;
    const Decision decision = server_.Record(std::move(request), &behavior);
    BuildResponse(decision, behavior, version);
    if (behavior.delay.count() <= 0) {
      WriteResponse();
      return;
    }
    delay_timer_.expires_after(behavior.delay);
    delay_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (wait_ec || self->closed_) return;
      self->WriteResponse();
    });
  }

  void BuildResponse(const Decision& decision, const ReceiverBehavior& behavior, unsigned version) {
    response_ = {};
    response_.version(version);
    response_.result(static_cast<unsigned>(decision.status));
    response_.set(http::field::content_type, "application/json");
    if (behavior.advertise_gzip) response_.set(http::field::accept_encoding, "gzip");
    const bool may_retry_later =
        decision.limited || decision.status == 429 || decision.status == 503;
    if (!behavior.retry_after.empty() && may_retry_later) {
      response_.set(http::field::retry_after, behavior.retry_after);
    }
    // 204 and 304 must not carry a body.
    if (decision.status != 204 && decision.status != 304) {
      response_.body() = Is2xx(decision.status) ? R"({"ok":true})" : R"({"ok":false})";
    }
    response_.keep_alive(keep_alive_);
    response_.prepare_payload();
  }

  void WriteResponse() {
    if (closed_) return;
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec || !self->keep_alive_) {
                          self->CloseNow();
                          return;
                        }
                        self->ReadRequest();
                      });
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    delay_timer_.cancel();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  asio::steady_timer delay_timer_;
  ReceiverServer& server_;
  bool keep_alive_ = true;
  bool closed_ = false;
};

void ReceiverServer::Start() {
  const tcp::endpoint endpoint(asio::ip::address_v4::loopback(), 0);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
  work_.emplace(ioc_.get_executor());
  Accept();
  for (size_t i = 0; i < kIoThreadCount; ++i) threads_.emplace_back([this] { ioc_.run(); });
}

void ReceiverServer::Accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto session = std::make_shared<Session>(std::move(socket), *this);
      if (Register(session)) session->Start();
    }
    Accept();
  });
}

bool ReceiverServer::Register(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(sessions_mu_);
  if (stopping_) return false;
  std::erase_if(sessions_, [](const std::weak_ptr<Session>& s) { return s.expired(); });
  sessions_.push_back(session);
  return true;
}

void ReceiverServer::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_ || threads_.empty()) {
    stopped_ = true;
    return;
  }
  stopped_ = true;
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(sessions_mu_);
    stopping_ = true;
    for (const auto& weak : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
    sessions_.clear();
  }
  for (const auto& session : live) session->Close();
  live.clear();  // the posted closes keep their sessions alive until they have run
  // With the listener and every connection closed, each pending operation completes at once
  // (aborted) and the threads run out of work.
  work_.reset();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

Decision ReceiverServer::Record(http::request<http::string_body>&& request,
                                ReceiverBehavior* behavior) {
  ReceivedRequest received;
  received.received_at_unix_us = NowUnixMicros();
  received.method = std::string(request.method_string());
  received.target = std::string(request.target());
  for (const auto& field : request) {
    std::string name = Lower(field.name_string());
    auto [it, inserted] = received.headers.emplace(name, std::string(field.value()));
    if (!inserted) it->second += ", " + std::string(field.value());
  }
  received.raw_body = std::move(request.body());

  bool body_malformed = false;
  auto encoding = received.headers.find("content-encoding");
  if (encoding != received.headers.end() && Lower(Trim(encoding->second)) == "gzip") {
    received.gzipped = true;
    body_malformed = !Gunzip(received.raw_body, &received.body);
  } else {
    received.body = received.raw_body;
  }

  std::lock_guard decide_lock(decide_mu_);
  size_t index = 0;
  {
    std::lock_guard lock(mu_);
    *behavior = behavior_;
    index = requests_.size();
  }
  const Decision decision = Decide(received, index, *behavior, body_malformed);
  received.status = decision.status;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(std::move(received));
  }
  recorded_cv_.notify_all();
  return decision;
}

Decision ReceiverServer::Decide(const ReceivedRequest& request, size_t index,
                                const ReceiverBehavior& behavior, bool body_malformed) {
  if (body_malformed) return Decision{kStatusForMalformedGzip, false};
  const auto now = SteadyClock::now();
  while (!accepted_at_.empty() && now - accepted_at_.front() >= kRateWindow) {
    accepted_at_.pop_front();
  }
  if (behavior.max_per_minute > 0 &&
      accepted_at_.size() >= static_cast<size_t>(behavior.max_per_minute)) {
    return Decision{ClampStatus(behavior.limit_status), true};
  }
  int status = 200;
  if (behavior.status) {
    // An exception must not escape into an io thread (it would end the test binary).
    try {
      status = ClampStatus(behavior.status(request, index));
    } catch (...) {
      status = kStatusForBadCallback;
    }
  }
  if (Is2xx(status)) accepted_at_.push_back(now);
  return Decision{status, false};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// WebhookReceiver

struct WebhookReceiver::Impl {
  explicit Impl(ReceiverBehavior behavior) : server(std::move(behavior)) {}
  ReceiverServer server;
};

WebhookReceiver::WebhookReceiver(ReceiverBehavior behavior)
    : impl_(std::make_unique<Impl>(std::move(behavior))) {
  impl_->server.Start();
}

WebhookReceiver::~WebhookReceiver() { Stop(); }

void WebhookReceiver::SetBehavior(ReceiverBehavior behavior) {
  impl_->server.SetBehavior(std::move(behavior));
}

void WebhookReceiver::Stop() { impl_->server.Stop(); }

uint16_t WebhookReceiver::port() const { return impl_->server.port(); }

std::string WebhookReceiver::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + path;
}

std::vector<ReceivedRequest> WebhookReceiver::Requests() const { return impl_->server.Requests(); }

size_t WebhookReceiver::RequestCount() const { return impl_->server.RequestCount(); }

bool WebhookReceiver::WaitForRequests(size_t n, std::chrono::milliseconds timeout) {
  return impl_->server.WaitFor(
      [n](const std::vector<ReceivedRequest>& requests) { return requests.size() >= n; }, timeout);
}

bool WebhookReceiver::WaitFor(std::function<bool(const std::vector<ReceivedRequest>&)> pred,
                              std::chrono::milliseconds timeout) {
  return impl_->server.WaitFor(pred, timeout);
}

// ---------------------------------------------------------------------------------------------
// Helpers

bool VerifyOrderCenterSignature(const std::string& header_value, const std::string& secret,
                                const std::string& body, int64_t* t) {
  constexpr std::string_view kTimestampPrefix = "t=";
  constexpr std::string_view kMacPrefix = ",v1=";
  std::string_view rest(header_value);
  if (!rest.starts_with(kTimestampPrefix)) return false;
  rest.remove_prefix(kTimestampPrefix.size());
  const size_t comma = rest.find(',');
  if (comma == std::string_view::npos) return false;
  const std::string_view digits = rest.substr(0, comma);
  if (digits.empty() || digits.size() > kUnixSecondsDigitsMax) return false;
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  int64_t timestamp = 0;
  if (std::from_chars(digits.data(), digits.data() + digits.size(), timestamp).ec != std::errc{}) {
    return false;
  }
  rest.remove_prefix(comma);
  if (!rest.starts_with(kMacPrefix)) return false;
  rest.remove_prefix(kMacPrefix.size());
  unsigned char given[kHmacSha256Bytes];
  if (!DecodeMacHex(rest, given)) return false;
  if (t != nullptr) *t = timestamp;

  unsigned char expected[kHmacSha256Bytes];
  if (!ComputeSignatureMac(secret, timestamp, body, expected)) return false;
  const bool match = CRYPTO_memcmp(expected, given, kHmacSha256Bytes) == 0;
  OPENSSL_cleanse(expected, sizeof expected);
  return match;
}

std::string SignOrderCenterBody(const std::string& secret, int64_t t, const std::string& body) {
  unsigned char mac[kHmacSha256Bytes];
  if (!ComputeSignatureMac(secret, t, body, mac)) throw std::runtime_error("HMAC-SHA256 failed");
  std::string header = "t=" + std::to_string(t) + ",v1=" + HexEncode(mac, sizeof mac);
  OPENSSL_cleanse(mac, sizeof mac);
  return header;
}

bool Gunzip(const std::string& in, std::string* out) {
  out->clear();
  if (in.empty() || in.size() > static_cast<size_t>(UINT_MAX)) return false;
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return false;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char chunk[kGunzipChunkBytes];
  bool complete = false;
  while (out->size() <= kGunzipOutputMaxBytes) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    out->append(chunk, sizeof chunk - zs.avail_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) {
        complete = out->size() <= kGunzipOutputMaxBytes;
        break;
      }
      // RFC 1952 allows several members back to back; anything else after one is an error below.
      if (inflateReset(&zs) != Z_OK) break;
      continue;
    }
    // Z_BUF_ERROR here means no progress was possible: the input ended mid-stream.
    if (rc != Z_OK) break;
    // All input consumed and output room left, yet the stream has not ended: truncated.
    if (zs.avail_in == 0 && zs.avail_out != 0) break;
  }
  inflateEnd(&zs);
  if (!complete) out->clear();
  return complete;
}

}  // namespace oc::itest
