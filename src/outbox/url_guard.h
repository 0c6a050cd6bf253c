// Where a webhook may be delivered: URL checks against server-side request forgery.
//
// A subscription names a URL that the server will later POST to from inside the network, so the
// URL is a way to make orderd talk to things an outsider cannot reach (metadata services,
// databases, admin panels on loopback). Only http/https URLs with a host are accepted, and every
// address the host resolves to must be public unless the operator allowed private targets
// (--allow-private-webhooks; tests and on-premise partners). The check runs when the
// subscription is created and again on every connect, and the client connects only to the
// addresses that passed, so DNS that changes its answer (rebinding) gains nothing. Pure apart
// from resolution: thread-safe.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace oc::outbox {

struct WebhookTarget {
  std::string scheme;  // "http" or "https"
  std::string host;    // as written (no brackets for IPv6)
  uint16_t port = 0;
  std::string target;  // path and query, at least "/"
};

// Parses and checks the form of a webhook URL (422 invalid_webhook_url otherwise).
Result<WebhookTarget> ParseWebhookUrl(std::string_view url);

// Loopback, private (RFC 1918, unique-local), link-local, carrier-grade NAT, unspecified,
// multicast, broadcast and documentation ranges, and IPv4-mapped forms of them.
bool IsNonPublicAddress(const boost::asio::ip::address& address);

// Resolves the target's host; refuses (422 webhook_target_not_allowed) if any address is
// non-public and `allow_private` is false, or if nothing resolves.
Result<std::vector<boost::asio::ip::tcp::endpoint>> ResolveAllowed(const WebhookTarget& target,
                                                                   bool allow_private);

}  // namespace oc::outbox
