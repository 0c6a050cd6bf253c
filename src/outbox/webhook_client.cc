#include "outbox/webhook_client.h"

#include <zlib.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>

namespace oc::outbox {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;

constexpr size_t kGzipMinBytes = 1024;  // below this, compressing costs more than it saves

bool ListsGzip(std::string_view accept_encoding) {
  std::string lower(accept_encoding);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("gzip") != std::string::npos;
}

}  // namespace

// One connection: plain TCP, or TLS over TCP for https targets.
struct WebhookClient::Connection {
  boost::asio::io_context io;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;

  beast::tcp_stream& tcp() { return tls ? tls->next_layer() : *plain; }
};

// Runs one asynchronous operation to completion on the connection's own io_context. Beast's
// stream deadline (expires_after) applies to asynchronous operations only — a synchronous read
// would wait forever for a partner that never answers — so every step goes through here.
// Interrupt() stops the io_context from another thread; the connection is then discarded.
template <class Start>
beast::error_code WebhookClient::RunToCompletion(boost::asio::io_context& io, Start&& start) {
  beast::error_code result = boost::asio::error::would_block;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  io.restart();
  if (interrupted_) return boost::asio::error::operation_aborted;
  io.run();
  if (result == boost::asio::error::would_block) return boost::asio::error::operation_aborted;
  return result;
}

void WebhookClient::Interrupt() {
  std::lock_guard lock(conn_mu_);
  interrupted_ = true;
  if (conn_) conn_->io.stop();
}

WebhookClient::TlsContext::TlsContext(const std::string& extra_ca_file) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx.set_verify_mode(ssl::verify_peer);
  beast::error_code ec;
  ctx.set_default_verify_paths(ec);
  if (!extra_ca_file.empty()) {
    ctx.load_verify_file(extra_ca_file, ec);
    if (ec) error = "cannot load webhook CA file " + extra_ca_file + ": " + ec.message();
  }
}

WebhookClient::WebhookClient(WebhookTarget target, bool allow_private,
                             std::chrono::milliseconds timeout, TlsContext* tls)
    : target_(std::move(target)), allow_private_(allow_private), timeout_(timeout), tls_(tls) {}

WebhookClient::~WebhookClient() { Close(); }

void WebhookClient::Close() {
  if (!conn_) return;
  beast::error_code ec;
  conn_->tcp().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  conn_->tcp().close();
  std::lock_guard lock(conn_mu_);
  conn_.reset();
}

Status WebhookClient::Connect() {
  OC_ASSIGN_OR_RETURN(auto endpoints, ResolveAllowed(target_, allow_private_));
  auto conn = std::make_unique<Connection>();
  bool https = target_.scheme == "https";
  if (https) {
    if (tls_ == nullptr || !tls_->error.empty()) {
      return Status::Unavailable(tls_ ? tls_->error : "no TLS context for an https target");
    }
    conn->tls.emplace(conn->io, tls_->ctx);
  } else {
    conn->plain.emplace(conn->io);
  }
  {
    // Published before the first wait, so Interrupt() can reach it.
    std::lock_guard lock(conn_mu_);
    conn_ = std::move(conn);
  }
  Connection* c = conn_.get();
  beast::tcp_stream& tcp = c->tcp();
  tcp.expires_after(timeout_);
  beast::error_code ec = RunToCompletion(
      c->io, [&](auto handler) { tcp.async_connect(endpoints, std::move(handler)); });
  if (ec) {
    Close();
    return Status::Unavailable("connect to " + target_.host + ":" + std::to_string(target_.port) +
                               ": " + ec.message());
  }
  tcp.socket().set_option(boost::asio::ip::tcp::no_delay(true), ec);
  if (https) {
    // SNI for names (not for IP literals), and the certificate must name the host.
    beast::error_code ip_ec;
    boost::asio::ip::make_address(target_.host, ip_ec);
    if (ip_ec && !SSL_set_tlsext_host_name(c->tls->native_handle(), target_.host.c_str())) {
      Close();
      return Status::Unavailable("TLS: cannot set the server name");
    }
    c->tls->set_verify_callback(ssl::host_name_verification(target_.host));
    tcp.expires_after(timeout_);
    ec = RunToCompletion(c->io, [&](auto handler) {
      c->tls->async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (ec) {
      Close();
      return Status::Unavailable("TLS handshake with " + target_.host + ": " + ec.message());
    }
  }
  return Status::Ok();
}

Result<WebhookResponse> WebhookClient::Post(
    const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers) {
  bool gzipped = gzip_accepted_ && body.size() >= kGzipMinBytes;
  std::string wire = gzipped ? Gzip(body) : std::string();
  const std::string& wire_body = gzipped ? wire : body;
  bool fresh = !conn_;
  if (!conn_) OC_RETURN_IF_ERROR(Connect());
  bool stale = false;
  auto r = Exchange(wire_body, gzipped, headers, &stale);
  if (!r.ok() && !fresh && stale) {
    // The kept-alive connection had been closed by the peer while idle (nothing of the request
    // can have been processed): one new connection. Never after a timeout — the partner may
    // have the request, and a resend would be a request the rate limit did not count.
    Close();
    OC_RETURN_IF_ERROR(Connect());
    r = Exchange(wire_body, gzipped, headers, &stale);
  }
  if (!r.ok()) Close();
  return r;
}

Result<WebhookResponse> WebhookClient::Exchange(
    const std::string& wire_body, bool gzipped,
    const std::vector<std::pair<std::string, std::string>>& headers, bool* stale) {
  if (conn_->tls) return ExchangeOn(*conn_->tls, wire_body, gzipped, headers, stale);
  return ExchangeOn(*conn_->plain, wire_body, gzipped, headers, stale);
}

template <class Stream>
Result<WebhookResponse> WebhookClient::ExchangeOn(
    Stream& stream, const std::string& wire_body, bool gzipped,
    const std::vector<std::pair<std::string, std::string>>& headers, bool* stale) {
  *stale = false;
  http::request<http::string_body> req{http::verb::post, target_.target, 11};
  bool default_port = (target_.scheme == "http" && target_.port == 80) ||
                      (target_.scheme == "https" && target_.port == 443);
  std::string host =
      target_.host.find(':') != std::string::npos ? "[" + target_.host + "]" : target_.host;
  req.set(http::field::host, default_port ? host : host + ":" + std::to_string(target_.port));
  req.set(http::field::user_agent, "OrderCenter-Webhooks/1");
  req.set(http::field::content_type, "application/json");
  if (gzipped) req.set(http::field::content_encoding, "gzip");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.keep_alive(true);
  req.body() = wire_body;
  req.prepare_payload();

  boost::asio::io_context& io = conn_->io;
  conn_->tcp().expires_after(timeout_);  // one deadline for the whole exchange
  beast::error_code ec = RunToCompletion(
      io, [&](auto handler) { http::async_write(stream, req, std::move(handler)); });
  if (ec) {
    *stale = ec == boost::asio::error::broken_pipe || ec == boost::asio::error::connection_reset;
    return Status::Unavailable("send: " + ec.message());
  }
  // Interim answers (1xx, e.g. 103 Early Hints) are skipped: only the final one decides.
  std::optional<http::response_parser<http::empty_body>> header;
  while (true) {
    header.emplace();
    header->body_limit(boost::none);
    ec = RunToCompletion(io, [&](auto handler) {
      http::async_read_header(stream, conn_->buffer, *header, std::move(handler));
    });
    if (ec) {
      *stale = conn_->buffer.size() == 0 &&
               (ec == http::error::end_of_stream || ec == boost::asio::error::connection_reset ||
                ec == boost::asio::error::eof || ec == ssl::error::stream_truncated);
      return Status::Unavailable("receive: " + ec.message());
    }
    int code = static_cast<int>(header->get().result_int());
    if (code >= 200 || code == 101) break;
  }
  // The status is the answer; the body is read (up to a limit) only to keep the connection
  // usable, and a receiver that sends more, or garbage, just loses the connection.
  http::response_parser<http::string_body> parser(std::move(*header));
  parser.body_limit(64 * 1024);
  ec = RunToCompletion(io, [&](auto handler) {
    http::async_read(stream, conn_->buffer, parser, std::move(handler));
  });
  const auto& res = parser.get();
  WebhookResponse out;
  out.status = static_cast<int>(res.result_int());
  bool reusable = !ec && res.keep_alive() && conn_->buffer.size() == 0;
  auto retry = res.find(http::field::retry_after);
  if (retry != res.end()) {
    std::string v(retry->value());
    char* end = nullptr;
    long seconds = std::strtol(v.c_str(), &end, 10);
    if (!v.empty() && *end == '\0' && seconds >= 0) {
      out.retry_after = std::chrono::milliseconds(std::min<long>(seconds, 3600) * 1000);
    }
  }
  auto accept = res.find(http::field::accept_encoding);
  if (accept != res.end() && ListsGzip(accept->value())) gzip_accepted_ = true;
  if (!reusable) Close();
  return out;
}

std::string Gzip(const std::string& in) {
  z_stream zs{};
  // 15 window bits + 16: a gzip wrapper rather than zlib's.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    throw std::bad_alloc();
  }
  std::string out;
  out.resize(deflateBound(&zs, in.size()));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::logic_error("deflate with a full bound did not finish");
  return out;
}

}  // namespace oc::outbox
