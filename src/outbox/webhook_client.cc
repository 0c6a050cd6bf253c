#include "outbox/webhook_client.h"

#include <zlib.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

namespace oc::outbox {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;

constexpr size_t kGzipMinBytes = 1024;  // below this, compressing costs more than it saves

bool ListsGzip(std::string_view accept_encoding) {
  std::string lower(accept_encoding);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("gzip") != std::string::npos;
}

}  // namespace

struct WebhookClient::Connection {
  boost::asio::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
};

WebhookClient::WebhookClient(WebhookTarget target, bool allow_private,
                             std::chrono::milliseconds timeout)
    : target_(std::move(target)), allow_private_(allow_private), timeout_(timeout) {}

WebhookClient::~WebhookClient() { Close(); }

void WebhookClient::Close() {
  if (!conn_) return;
  beast::error_code ec;
  conn_->stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  conn_->stream.close();
  conn_.reset();
}

Status WebhookClient::Connect() {
  OC_ASSIGN_OR_RETURN(auto endpoints, ResolveAllowed(target_, allow_private_));
  auto conn = std::make_unique<Connection>();
  conn->stream.expires_after(timeout_);
  beast::error_code ec;
  conn->stream.connect(endpoints, ec);
  if (ec) {
    return Status::Unavailable("connect to " + target_.host + ":" + std::to_string(target_.port) +
                               ": " + ec.message());
  }
  conn->stream.socket().set_option(boost::asio::ip::tcp::no_delay(true), ec);
  conn_ = std::move(conn);
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

  beast::error_code ec;
  conn_->stream.expires_after(timeout_);
  http::write(conn_->stream, req, ec);
  if (ec) {
    *stale = ec == boost::asio::error::broken_pipe || ec == boost::asio::error::connection_reset;
    return Status::Unavailable("send: " + ec.message());
  }
  // Interim answers (1xx, e.g. 103 Early Hints) are skipped: only the final one decides.
  std::optional<http::response_parser<http::empty_body>> header;
  while (true) {
    header.emplace();
    header->body_limit(boost::none);
    http::read_header(conn_->stream, conn_->buffer, *header, ec);
    if (ec) {
      *stale = conn_->buffer.size() == 0 &&
               (ec == http::error::end_of_stream || ec == boost::asio::error::connection_reset ||
                ec == boost::asio::error::eof);
      return Status::Unavailable("receive: " + ec.message());
    }
    int code = static_cast<int>(header->get().result_int());
    if (code >= 200 || code == 101) break;
  }
  // The status is the answer; the body is read (up to a limit) only to keep the connection
  // usable, and a receiver that sends more, or garbage, just loses the connection.
  http::response_parser<http::string_body> parser(std::move(*header));
  parser.body_limit(64 * 1024);
  http::read(conn_->stream, conn_->buffer, parser, ec);
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
