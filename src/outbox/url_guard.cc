#include "outbox/url_guard.h"

#include <boost/asio/io_context.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <charconv>

namespace oc::outbox {
namespace {

namespace ip = boost::asio::ip;

Status BadUrl(const std::string& why) {
  return Status::Unprocessable("field 'url': " + why, "invalid_webhook_url");
}

bool InV4Range(uint32_t a, uint32_t net, int prefix) {
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return (a & mask) == (net & mask);
}

bool IsNonPublicV4(const ip::address_v4& v4) {
  uint32_t a = v4.to_uint();
  static constexpr struct {
    uint32_t net;
    int prefix;
  } kRanges[] = {
      {0x00000000, 8},   // "this network", unspecified
      {0x0A000000, 8},   // 10/8
      {0x64400000, 10},  // 100.64/10 carrier-grade NAT
      {0x7F000000, 8},   // loopback
      {0xA9FE0000, 16},  // 169.254/16 link-local (cloud metadata)
      {0xAC100000, 12},  // 172.16/12
      {0xC0000000, 24},  // 192.0.0/24 IETF protocol assignments
      {0xC0000200, 24},  // 192.0.2/24 documentation
      {0xC0A80000, 16},  // 192.168/16
      {0xC6120000, 15},  // 198.18/15 benchmarking
      {0xC6336400, 24},  // 198.51.100/24 documentation
      {0xCB007100, 24},  // 203.0.113/24 documentation
      {0xE0000000, 4},   // multicast
      {0xF0000000, 4},   // reserved, broadcast
  };
  for (const auto& r : kRanges) {
    if (InV4Range(a, r.net, r.prefix)) return true;
  }
  return false;
}

}  // namespace

bool IsNonPublicAddress(const ip::address& address) {
  if (address.is_v4()) return IsNonPublicV4(address.to_v4());
  const ip::address_v6 v6 = address.to_v6();
  if (v6.is_v4_mapped()) return IsNonPublicV4(ip::make_address_v4(ip::v4_mapped, v6));
  if (v6.is_loopback() || v6.is_unspecified() || v6.is_link_local() || v6.is_multicast() ||
      v6.is_site_local()) {
    return true;
  }
  auto bytes = v6.to_bytes();
  if ((bytes[0] & 0xFE) == 0xFC) return true;  // fc00::/7 unique local
  if (bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0D && bytes[3] == 0xB8) {
    return true;  // 2001:db8::/32 documentation
  }
  if (bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xFF && bytes[3] == 0x9B) {
    return true;  // 64:ff9b::/96 and 64:ff9b:1::/48 NAT64, which can reach IPv4 private space
  }
  if (bytes[0] == 0x20 && bytes[1] == 0x02) {
    // 2002::/16 6to4 embeds an IPv4 address: judge that one.
    return IsNonPublicV4(ip::address_v4({bytes[2], bytes[3], bytes[4], bytes[5]}));
  }
  bool first_12_zero = true;
  for (int i = 0; i < 12; ++i) first_12_zero = first_12_zero && bytes[i] == 0;
  if (first_12_zero) return true;  // ::/96, IPv4-compatible (deprecated): never a real peer
  bool discard_prefix = bytes[0] == 0x01 && bytes[1] == 0x00;
  for (int i = 2; i < 8; ++i) discard_prefix = discard_prefix && bytes[i] == 0;
  if (discard_prefix) return true;  // 100::/64 discard-only
  return false;
}

Result<WebhookTarget> ParseWebhookUrl(std::string_view url) {
  if (url.size() > 2048) return BadUrl("longer than 2048 bytes");
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return BadUrl("not an absolute URL");
  WebhookTarget t;
  t.scheme = std::string(parsed->scheme());
  for (char& c : t.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t.scheme != "http" && t.scheme != "https") return BadUrl("only http and https are allowed");
  if (!parsed->has_authority() || parsed->encoded_host().empty()) return BadUrl("no host");
  if (parsed->has_userinfo()) return BadUrl("credentials in the URL are not allowed");
  if (parsed->has_fragment()) return BadUrl("a fragment has no meaning for a webhook");
  t.host = std::string(parsed->host_address());
  if (t.host.empty()) return BadUrl("no host");
  // host_address() is percent-decoded: only what a DNS name or an IP literal can hold may pass
  // (a decoded CR/LF would end up in the Host header).
  for (char c : t.host) {
    bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == ':' || c == '_';
    if (!ok) return BadUrl("the host has characters no host name or address can have");
  }
  if (parsed->has_port()) {
    // port_number() is 16 bits: "99999" must be refused, not wrapped onto another port.
    std::string_view digits = parsed->port();
    uint32_t port = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) {
      return BadUrl("bad port");
    }
    t.port = static_cast<uint16_t>(port);
  } else {
    t.port = t.scheme == "https" ? 443 : 80;
  }
  t.target = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
  if (parsed->has_query()) t.target += "?" + std::string(parsed->encoded_query());
  return t;
}

Result<std::vector<ip::tcp::endpoint>> ResolveAllowed(const WebhookTarget& target,
                                                      bool allow_private) {
  boost::asio::io_context io;
  ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve(target.host, std::to_string(target.port), ec);
  if (ec || results.empty()) {
    return Status::Unprocessable("field 'url': host '" + target.host + "' does not resolve",
                                 "webhook_target_not_allowed");
  }
  std::vector<ip::tcp::endpoint> out;
  for (const auto& r : results) {
    if (!allow_private && IsNonPublicAddress(r.endpoint().address())) {
      return Status::Unprocessable(
          "field 'url': '" + target.host + "' resolves to a loopback or private address (" +
              r.endpoint().address().to_string() +
              "); the server must be started with --allow-private-webhooks to deliver there",
          "webhook_target_not_allowed");
    }
    out.push_back(r.endpoint());
  }
  return out;
}

}  // namespace oc::outbox
